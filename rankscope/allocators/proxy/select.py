"""From proxy scores to an allocation: granularity, modes, normalisation, random tie-break.

Everything ends in the shared projection (:func:`rankscope.project_to_budget`), which ranks by
value per parameter. HeteroLoRA ranks raw scores and turns on a fixed count k; when candidates
cost the same (its Q/V space) the two agree, and when they differ (FFN edges cost 2.5× a
shortcut in MiniLM) the per-parameter ranking is the one that respects a parameter budget.
"""

from __future__ import annotations

import numpy as np

from rankscope.allocation.allocation import Allocation
from rankscope.allocation.projection import project_to_budget, proportional_rank_values


def default_rank_on(space, budget) -> int:
    """4 × the uniform rank the budget buys (r2 → 8): the paper's 25 %-at-4× pairing."""
    return max(1, round(4 * budget.params / space.uniform_cost(1)))


def edge_total(v, rank_on=None) -> float:
    return float(sum(v[:rank_on] if rank_on else v)) if isinstance(v, (list, tuple)) else float(v)


def normalize_by_type(space, scores: dict) -> dict:
    """Divide every edge's score(s) by the mean total score of its edge type (q, v, R1, S1 …)."""
    totals: dict[str, list] = {}
    for eid, v in scores.items():
        totals.setdefault(space.edge(eid).type, []).append(edge_total(v))
    means = {t: float(np.mean(v)) for t, v in totals.items()}
    out = {}
    for eid, v in scores.items():
        m = means[space.edge(eid).type]
        div = m if m > 0 else 1.0
        out[eid] = [x / div for x in v] if isinstance(v, (list, tuple)) else v / div
    return out


def select(space, budget, scores: dict, *, granularity: str, rank_on: int, mode: str = "combined",
           normalize: str = "none", seed: int = 0, fill: bool = True, form: str = "lora") -> Allocation:
    """Allocate ``budget`` from ``scores`` ({edge: s} or {edge: [v_1, …]})."""
    if normalize == "type":
        scores = normalize_by_type(space, scores)
    perm = np.random.default_rng(seed).permutation(len(space.edges))
    tiebreak = {e.id: int(perm[i]) for i, e in enumerate(space.edges)}
    if granularity == "edge":
        values = {eid: edge_total(v, rank_on) for eid, v in scores.items()}
    else:
        scalar = {eid: v for eid, v in scores.items() if not isinstance(v, (list, tuple))}
        values = {eid: list(v) for eid, v in scores.items() if isinstance(v, (list, tuple))}
        values.update(proportional_rank_values(space, scalar, form=form))
        values = {eid: values[eid] for eid in scores}  # keep the caller's order
    kw = dict(form=form, tiebreak=tiebreak, fill=fill, rank_on=rank_on if granularity == "edge" else None)
    kinds = sorted({space.edge(eid).kind for eid in values})
    if mode == "combined" or len(kinds) < 2:
        return project_to_budget(space, values, budget, **kw)
    # separated: each kind gets the share of the budget that uniform allocation would give it
    ranks = {}
    full = space.uniform_cost(1, form)
    for kind in kinds:
        part = {eid: v for eid, v in values.items() if space.edge(eid).kind == kind}
        share = sum(space.edge(eid).cost(1, form) for eid in part) / full
        sub = project_to_budget(space, part, int(budget.params * share), **kw)
        ranks.update({eid: r for eid, r in sub.ranks.items() if eid in part})
    return Allocation(space, ranks, form)


def supernet(space, rank_on: int, form: str = "lora") -> Allocation:
    """Every edge at ``rank_on`` (capped at its max rank): what in-training allocators train."""
    return Allocation(space, {e.id: min(rank_on, e.max_rank) for e in space.edges}, form)


def resolve_granularity(opts, proxy) -> str:
    if opts.granularity != "auto":
        return opts.granularity
    return "rank" if proxy.per_rank else "edge"


def describe_scores(result, opts, used, rank_on, granularity, final=None) -> dict:
    """The allocator's record: every proxy's scores, timings, NaN edges, and the Spearman
    correlation between the allocating proxy's edge score and the allocated rank."""
    from scipy.stats import spearmanr

    out = {"options": opts.to_dict(), "proxy": opts.proxy, "used_proxy": used, "rank_on": rank_on,
           "granularity": granularity, "scores": result.scores,
           "scoring_s": result.total_s, "scoring_seconds": result.seconds, "nan_edges": result.nan_edges,
           "scoring_batches": result.batches}
    if final is not None:
        ids = list(result.scores[used])
        s = [edge_total(result.scores[used][i]) for i in ids]
        r = [final.ranks.get(i, 0) for i in ids]
        rho = spearmanr(s, r).statistic if len(set(s)) > 1 and len(set(r)) > 1 else float("nan")
        out["rank_spearman_proxy_vs_alloc"] = float(rho)
    return out


def scoring_setup(opts, ctx):
    """What both proxy allocators score with: the K batches (checked against the data size before
    any training), fresh proxy instances (``proxy`` then ``also``), and the on-rank."""
    from rankscope.scoring import get_proxy

    available = ctx.trainer.train_size // ctx.trainer.batch_size
    k = opts.scoring_batch_count(ctx.trainer.total_steps, available)
    batches = ctx.trainer.scoring_batches(k, data=opts.scoring_data, seed=ctx.seed)
    proxies = [get_proxy(n) for n in dict.fromkeys([opts.proxy, *opts.also])]
    return batches, proxies, opts.rank_on or default_rank_on(ctx.space, ctx.budget)


def scores_to_allocate(result, opts) -> tuple[dict, str]:
    """The score table the allocation uses, and the proxy it came from.

    A NaN/inf score is an error naming the edge(s), unless ``nan_fallback`` is set: then the
    first proxy of ``also`` that is finite on every edge is used instead (and the report says so).
    """
    from rankscope.errors import TrainingError

    bad = result.nan_edges.get(opts.proxy)
    if not bad:
        return result.scores[opts.proxy], opts.proxy
    names = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    if opts.nan_fallback:
        for name in opts.also:
            if not result.nan_edges.get(name):
                return result.scores[name], name
    hint = ("; every proxy in `also` is non-finite too" if opts.nan_fallback else
            "; pass -o nan_fallback=true with -o also=[...] to allocate with other proxies instead")
    raise TrainingError(f"proxy {opts.proxy!r} returned NaN/inf for edge(s) {names}{hint}")
