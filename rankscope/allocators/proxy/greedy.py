"""``proxy-greedy``: forward selection of edges, re-scoring what the chosen ones leave unexplained.

The planted-task diagnosis (docs/results/planted.md, "Diagnosis: why allocators miss the planted edges") found the
gradient proxies rank well what an edge can achieve *alone* (``spectral``: Spearman +0.80
with the edge-alone r2), but that many edges are redundant: the shortcuts of a plant's block
reach the plant's r2 alone, so a static top-k spends the budget on a dozen edges that explain
the same effect. Forward selection discounts an edge by what the edges already chosen explain,
as orthogonal matching pursuit does (Pati, Rezaiifar & Krishnaprasad 1993) and as the issue's
"scores that discount an edge by what cheaper or earlier edges can already explain" asks::

    chosen = {}                                   the budget is spent in R equal rounds
    for round j = 1 … R:
        attach every edge (chosen ones at their ranks, the rest at rank_on, frozen at B = 0)
        train the chosen edges alone for ``round_steps`` steps (none in round 1)
        score every edge with the proxy at that point (one pass): an effect the chosen
            edges already reproduce no longer shows in the residual's gradient
        choose the unchosen edge of best score per parameter; give it the round's
            parameters, budget/R, as rank ⌊(budget/R) / cost(1)⌋ (capped at its max rank)
    → the harness trains the allocation from a fresh initialisation (before-training family)

Cost: R − 1 short trainings of ``round_steps`` steps and R scoring passes. Options: the proxy
allocators' (:mod:`.options`) plus ``rounds`` and ``round_steps``.
"""

from __future__ import annotations

import time

from rankscope.allocation.allocation import Allocation
from rankscope.allocators.base import Allocator
from rankscope.allocators.context import AllocationContext, Plan
from rankscope.allocators.proxy.options import GreedyOptions
from rankscope.allocators.proxy.report import ProxySection
from rankscope.allocators.proxy.scorer import ScoreAtEnd
from rankscope.allocators.proxy.select import (
    describe_scores,
    edge_total,
    scores_to_allocate,
    scoring_setup,
)
from rankscope.errors import InputError


def share_rank(edge, share: float) -> int:
    """The rank a round's ``share`` of parameters buys on ``edge`` (capped at its max rank)."""
    return min(int(share // edge.cost(1)), edge.max_rank)


def choose(space, scores: dict, chosen: dict, share: float) -> dict | None:
    """The unchosen edge of best score per parameter that the share buys at rank ≥ 1, with that
    rank and the round's five best edges; ``None`` when no edge is left."""
    per_param = {i: edge_total(v) / space.edge(i).cost(1) for i, v in scores.items()}
    open_ = [i for i in per_param if i not in chosen and share_rank(space.edge(i), share) >= 1]
    if not open_:
        return None
    best = max(open_, key=per_param.get)
    return {"edge": best, "rank": share_rank(space.edge(best), share),
            "top5": sorted(open_, key=lambda i: -per_param[i])[:5]}


class ScoreChosen(ScoreAtEnd):
    """Train only the ``chosen`` edges (the others get no gradient, so AdamW leaves them at B = 0),
    then score every attached edge."""

    def __init__(self, ctx, batches, proxies, chosen: set):
        super().__init__(ctx, batches, proxies)
        self.chosen = chosen

    def on_train_begin(self, state):
        for eid, a in state.handle.adapters.items():
            if eid not in self.chosen:
                for p in a.parameters():
                    p.requires_grad_(False)


class ProxyGreedyAllocator(Allocator):
    name = "proxy-greedy"
    before_training = True
    report_section = ProxySection()

    options_class = GreedyOptions

    def propose(self, ctx: AllocationContext) -> Plan:
        opts, space = self.opts, ctx.space
        batches, proxies, rank_on = scoring_setup(opts, ctx)
        share, length = ctx.budget.params / opts.rounds, opts.round_length(ctx.trainer.total_steps)
        chosen: dict[str, int] = {}
        rounds, t0 = [], time.perf_counter()
        for j in range(opts.rounds):
            net = Allocation(space, {e.id: chosen.get(e.id, min(rank_on, e.max_rank)) for e in space.edges})
            scorer = ScoreChosen(ctx, batches, proxies, set(chosen))
            ctx.trainer.train(net, scorer, steps=length if chosen else 0, evaluate=False, progress=False,
                              desc=f"round {j + 1}")
            scores, used = scores_to_allocate(scorer.result, opts)
            pick = choose(space, scores, chosen, share)
            if pick is None:
                break
            chosen[pick["edge"]] = pick["rank"]
            rounds.append({"round": j + 1, **pick})
        alloc = Allocation(space, chosen)
        if alloc.params == 0:
            raise InputError(f"the budget ({ctx.budget.params:,}) split into {opts.rounds} rounds buys no edge at "
                             f"rank 1; use fewer rounds")
        record = describe_scores(scorer.result, opts, used, rank_on, "edge", alloc)
        return Plan(alloc, record={**record, "rounds": rounds, "greedy_s": time.perf_counter() - t0})
