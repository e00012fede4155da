"""Report tables: the single source of truth behind the Markdown, HTML and terminal reports.

Each builder reads a run's ``result`` dict (what a run writes to ``result.json``) and returns a
:class:`Table` of *plain* strings: formatted numbers and cleaned text, with no Markdown, HTML or
escaping in them. Renderers only lay the cells out and escape them for their medium, so every
number is formatted in exactly one place and the three reports cannot disagree.

Every user-supplied string goes through :func:`text`, which hides the password of any
``scheme://user:pass@host`` URL (:func:`redact_url`) and flattens control characters (so a name
cannot smuggle terminal escape codes or break a table row). A missing optional key renders as
:data:`MISSING`, never as an exception. The figures read their numbers through :func:`rank_grid`
and the accessors below, so plots and tables agree too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..redact import redact_url

MISSING = "—"
ABSENT = "·"  # a block that has no edge of this type (rank 0 on a present edge prints "0")
BASELINE = "uniform"
TYPE_ORDER = ("query", "key", "value", "qkv", "attn_out", "gate", "ffn_in", "ffn_out",
              "R1", "R2", "S1", "S2")  # user-defined types follow, in order of appearance
PLANTED_ORDER = ("gap_closed", "r2", "r2_uniform", "r2_oracle", "planted_recall",
                 "rank_spearman", "calibration_ratio")
RANKS_TITLE = "Ranks by block × edge type"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


@dataclass(frozen=True)
class Table:
    """A titled grid of display strings; ``key`` names it for renderers that pick a subset."""

    key: str
    title: str
    head: list
    rows: list
    note: str = ""


# ------------------------------------------------------------------------------- cell formatting
def text(value) -> str:
    """Any value as a safe display string: ``None`` → ``—``, passwords redacted, one line."""
    if value is None:
        return MISSING
    return redact_url(_CONTROL.sub(" ", str(value))).strip()


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fmt_int(value) -> str:
    """A count with thousands separators (``118,272``)."""
    return f"{int(round(value)):,}" if _is_number(value) else text(value)


def fmt_metric(value) -> str:
    """A metric value to four decimals."""
    return f"{value:.4f}" if _is_number(value) else text(value)


def fmt_delta(value, reference) -> str:
    """``value - reference`` with an explicit sign, or ``—`` when either is missing."""
    ok = _is_number(value) and _is_number(reference)
    return f"{value - reference:+.4f}" if ok else MISSING


def fmt_pct(part, whole) -> str:
    """``part`` as a percentage of ``whole`` (``93.5%``)."""
    ok = _is_number(part) and _is_number(whole) and whole
    return f"{100.0 * part / whole:.1f}%" if ok else MISSING


def fmt_seconds(value) -> str:
    """A duration in seconds, to the hundredth."""
    return f"{value:.2f}" if _is_number(value) else text(value)


# ------------------------------------------------------------------------------- shared accessors
def baseline(result: dict) -> dict:
    """The uniform-baseline record (``{}`` when the run has none)."""
    return (result.get("baseline") or {}).get(BASELINE) or {}


def edges_of(record: dict) -> list:
    """The edge records of a result or baseline record (``[]`` when it has no allocation)."""
    return (record.get("allocation") or {}).get("edges") or []


def used_params(record: dict):
    """Adapter parameters an allocation uses: its ``params``, else the sum over its edges."""
    alloc = record.get("allocation") or {}
    if _is_number(alloc.get("params")):
        return alloc["params"]
    if _is_number(record.get("params")):
        return record["params"]
    counts = [e.get("params") for e in edges_of(record)]
    return sum(counts) if counts and all(map(_is_number, counts)) else None


def primary_metric(record: dict):
    """``(name, final, best)`` of the primary metric; parts are ``None`` when missing."""
    m = record.get("metrics") or {}
    name = m.get("primary")
    return name, (m.get("final") or {}).get(name), (m.get("best") or {}).get(name)


def failure_reason(result: dict):
    """Why the run failed, or ``None`` when it did not."""
    failure = result.get("failure")
    if result.get("status") != "failed" and not failure:
        return None
    reason = failure.get("reason") if isinstance(failure, dict) else failure
    return text(reason) if reason else "no reason recorded"


def header_fields(result: dict) -> list:
    """``(label, value)`` pairs that open every report."""
    keys = ("space", "allocator", "model", "task", "seed", "status")
    fields = [(k, text(result.get(k))) for k in keys]
    if result.get("rankscope_version"):
        fields.append(("rankscope", text(result["rankscope_version"])))
    return fields


def report_title(result: dict) -> str:
    return f"rankscope report: {text(result.get('space'))} / {text(result.get('allocator'))}"


def comparison_title(results: list) -> str:
    return f"rankscope comparison of {len(results)} run{'s' * (len(results) != 1)}"


def run_name(result: dict, index: int) -> str:
    """A run's label in comparisons: ``result["run_name"]``, else its 1-based position."""
    return text(result["run_name"]) if result.get("run_name") else f"#{index + 1}"


# ------------------------------------------------------------------------------- the rank grid
@dataclass(frozen=True)
class RankGrid:
    """Ranks summed per (block, edge type) cell; ``blocks`` sorted, ``None`` (no block) last."""

    blocks: list
    types: list
    cells: dict  # (block, type) -> summed rank; absent key = no edge of that type there

    def type_totals(self) -> dict:
        return {t: sum(r for (_, ty), r in self.cells.items() if ty == t) for t in self.types}


def _type_key(types):
    seen = {t: i for i, t in enumerate(dict.fromkeys(types))}
    return lambda t: (TYPE_ORDER.index(t) if t in TYPE_ORDER else len(TYPE_ORDER) + seen[t])


def _block_key(block):  # int blocks in order, then other labels, then None (outside blocks)
    is_int = isinstance(block, int)
    return (block is None, not is_int, block if is_int else str(block))


def rank_grid(edges: list) -> RankGrid:
    """Group edge records by (layer, type), summing the ranks of edges that share a cell."""
    cells: dict = {}
    for e in edges:
        cell = (e.get("layer"), text(e.get("type")))
        cells[cell] = cells.get(cell, 0) + (e.get("rank") or 0)
    types = [t for _, t in cells]
    return RankGrid(blocks=sorted({b for b, _ in cells}, key=_block_key),
                    types=sorted(set(types), key=_type_key(types)), cells=cells)


# ------------------------------------------------------------------------------- table builders
def rank_table(edges: list, key: str = "ranks", title: str = RANKS_TITLE) -> Table:
    """Blocks as rows, edge types as columns, a ``total`` column and an ``all blocks`` row."""
    grid = rank_grid(edges)
    rows = []
    for b in grid.blocks:
        ranks = [grid.cells.get((b, t)) for t in grid.types]
        rows.append([text(b)] + [ABSENT if r is None else fmt_int(r) for r in ranks]
                    + [fmt_int(sum(r or 0 for r in ranks))])
    if rows:
        totals = grid.type_totals()
        rows.append(["all blocks"] + [fmt_int(totals[t]) for t in grid.types]
                    + [fmt_int(sum(totals.values()))])
    return Table(key, title, ["block"] + grid.types + ["total"], rows)


def budget_table(result: dict) -> Table:
    """Budget given, adapter parameters used (and the baseline's), and the head outside it."""
    budget = result.get("budget") or {}
    given, used = budget.get("params"), used_params(result)
    rows = [[f"budget given ({text(budget.get('spec'))})", fmt_int(given), fmt_pct(given, given)],
            ["adapter params used", fmt_int(used), fmt_pct(used, given)]]
    if baseline(result):
        base = used_params(baseline(result))
        rows.append([f"{BASELINE} baseline", fmt_int(base), fmt_pct(base, given)])
    rows.append(["task head (outside the budget)", fmt_int(result.get("head_params")), MISSING])
    return Table("budget", "Budget", ["", "params", "% of budget"], rows)


def metrics_table(result: dict) -> Table:
    """Final and best value of every metric; uniform baseline and differences beside them."""
    metrics = result.get("metrics") or {}
    final, best = metrics.get("final") or {}, metrics.get("best") or {}
    base = baseline(result).get("metrics") or {}
    bfinal, bbest = base.get("final") or {}, base.get("best") or {}
    names = [n for n in dict.fromkeys([metrics.get("primary"), *final, *best]) if n and n != "step"]
    head = ["metric", "final", "best"]
    if base:
        head += [f"{BASELINE} final", f"{BASELINE} best", "Δ final", "Δ best"]
    rows = []
    for n in names:
        row = [text(n) + (" (primary)" if n == metrics.get("primary") else ""),
               fmt_metric(final.get(n)), fmt_metric(best.get(n))]
        if base:
            row += [fmt_metric(bfinal.get(n)), fmt_metric(bbest.get(n)),
                    fmt_delta(final.get(n), bfinal.get(n)), fmt_delta(best.get(n), bbest.get(n))]
        rows.append(row)
    note = f"best at step {fmt_int(best['step'])}" if "step" in best else ""
    return Table("metrics", "Metrics", head, rows, note)


def planted_table(result: dict) -> Table:
    """Planted-task diagnostics (``extras.planted``): known ones first, then any others."""
    planted = (result.get("extras") or {}).get("planted") or {}
    names = sorted(planted, key=lambda n: PLANTED_ORDER.index(n) if n in PLANTED_ORDER else 99)
    return Table("planted", "Planted-task metrics", ["metric", "value"],
                 [[text(n), fmt_metric(planted[n])] for n in names])


def allocator_record(result: dict) -> dict:
    return (result.get("extras") or {}).get("allocator") or {}


def _score_total(v):
    """An edge's score for display: per-rank lists (``spectral``) are summed."""
    if isinstance(v, list):
        return sum(x for x in v if x is not None) if v else None
    return v


def edges_table(result: dict) -> Table:
    """One row per edge; uniform rank, every proxy's score and (dynamic) on-counts when present."""
    rec = allocator_record(result)
    proxies = rec.get("scores") or {}
    on_counts = rec.get("on_counts") or {}
    uniform = {e.get("id"): e.get("rank") for e in uniform_edges(result)}
    head = ["id", "kind", "type", "layer", "rank", "params"]
    if uniform:
        head.append(f"{BASELINE} rank")
    head += [f"{text(name)} score" for name in proxies]
    if on_counts:
        head.append(f"times on (of {len(rec.get('reallocations') or [])})")
    rows = []
    for e in edges_of(result):
        eid = e.get("id")
        row = [text(e.get(k)) for k in ("id", "kind", "type", "layer")]
        row += [fmt_int(e.get("rank")), fmt_int(e.get("params"))]
        if uniform:
            row.append(fmt_int(uniform.get(eid)))
        row += [fmt_metric(_score_total(scores.get(eid))) for scores in proxies.values()]
        if on_counts:
            row.append(fmt_int(on_counts.get(eid)))
        rows.append(row)
    note = "per-rank proxies show Σ_k v_k" if any(isinstance(v, list) for sc in proxies.values()
                                                 for v in sc.values()) else ""
    return Table("edges", "Edges", head, rows, note)


def proxy_table(result: dict) -> Table:
    """How a proxy allocator decided: proxy, granularity, scoring cost, score-vs-rank agreement."""
    rec = allocator_record(result)
    train_s = (result.get("timing") or {}).get("train_s")
    opts = rec.get("options") or {}
    rows = [["allocating proxy", text(rec.get("proxy"))],
            ["proxy used (after NaN fallback)", text(rec.get("used_proxy"))],
            ["granularity", text(rec.get("granularity"))],
            ["rank when on", fmt_int(rec.get("rank_on"))],
            ["scoring batches (K)", fmt_int(opts.get("n_batches"))],
            ["scoring time (s)", fmt_seconds(rec.get("scoring_s"))],
            ["scoring time / training time", fmt_pct(rec.get("scoring_s"), train_s)],
            ["Spearman(proxy score, allocated rank)", fmt_metric(rec.get("rank_spearman_proxy_vs_alloc"))]]
    if rec.get("reallocations") is not None:
        rows.append(["reallocations", fmt_int(len(rec["reallocations"]))])
    for name, bad in (rec.get("nan_edges") or {}).items():
        rows.append([f"non-finite scores ({text(name)})", text(", ".join(bad))])
    return Table("proxy", "Proxy scoring", ["", "value"], rows)


def pruning_table(result: dict) -> Table:
    """How an in-training SVD allocator pruned: each event's step, budget and what it kept, plus the
    window, dependency edges and salience time for ``salient`` (AdaLoRA's events are sampled and
    have no window)."""
    rec = allocator_record(result)
    rows = [[fmt_int(e.get("step")), fmt_int(e.get("budget")), fmt_int(e.get("params")), fmt_int(e.get("triplets")),
             *((fmt_int(e["window"]), fmt_int(e.get("graph_edges")), fmt_seconds(e.get("seconds")))
               if e.get("window") else ("—", "—", "—"))] for e in rec["prune_events"]]
    title = (f"Pruning from r0 = {text(rec.get('init_rank'))} ({fmt_int(rec.get('init_params'))} parameters)"
             + (f"; compacted after step {rec['compacted_at']}" if rec.get("compacted_at") else ""))
    return Table("pruning", title, ["step", "budget", "params kept", "ranks kept", "window",
                                    "dependency edges", "salience (s)"], rows)


def study_table(result: dict) -> Table:
    """An outer search's trials: state, dev metric (a pruned trial's last reported one), the
    parameters its allocation used, warm start, where it stopped, and why it failed."""
    rec = allocator_record(result)
    counts = rec.get("counts") or {}
    title = (f"Optuna study {text(rec.get('study_name'))!r} ({text(rec.get('storage'))}): sampler "
             f"{text(rec.get('sampler'))}, pruner {text(rec.get('pruner'))}, {fmt_int(rec.get('n_units'))} "
             f"{text(rec.get('units'))} units, {fmt_int(rec.get('trial_steps'))} steps per trial; "
             + ", ".join(f"{fmt_int(n)} {k}" for k, n in counts.items() if n)
             + (f"; best trial {rec['best_trial']}, retrained with the full schedule" if "best_trial" in rec else ""))
    rows = [[fmt_int(t.get("number")), text(t.get("state")), fmt_metric(t.get("value")), fmt_int(t.get("params_used")),
             text(t.get("warm_start")), fmt_int(t.get("last_step")), text(t.get("reason")),
             fmt_seconds(t.get("duration_s"))] for t in rec.get("trials") or []]
    return Table("study", title, ["trial", "state", "dev metric", "params", "warm start", "last step",
                                  "reason", "seconds"], rows)


def uniform_edges(result: dict) -> list:
    """The uniform allocation at the same budget, as edge records: the trained baseline's when
    there is one, else the allocator's record of it (``uniform_ranks``; not trained)."""
    if edges_of(baseline(result)):
        return edges_of(baseline(result))
    ranks = allocator_record(result).get("uniform_ranks") or {}
    return [{**e, "rank": ranks.get(e.get("id"), 0)} for e in edges_of(result)] if ranks else []


def timing_table(result: dict) -> Table:
    t = result.get("timing") or {}
    return Table("timing", "Timing", ["allocate (s)", "train (s)", "total (s)", "peak RSS (MB)"],
                 [[fmt_seconds(t.get("allocate_s")), fmt_seconds(t.get("train_s")),
                   fmt_seconds(t.get("total_s")), fmt_int(t.get("peak_rss_mb"))]])


def report_tables(result: dict) -> list:
    """Every table of a single-run report, in reading order (optional ones only when present)."""
    tables = [budget_table(result), metrics_table(result)]
    if (result.get("extras") or {}).get("planted"):
        tables.append(planted_table(result))
    if allocator_record(result).get("scores"):
        tables.append(proxy_table(result))
    if allocator_record(result).get("prune_events"):
        tables.append(pruning_table(result))
    if allocator_record(result).get("trials") is not None:
        tables.append(study_table(result))
    tables.append(rank_table(edges_of(result)))
    if uniform_edges(result):
        tables.append(rank_table(uniform_edges(result), "ranks_uniform", f"{RANKS_TITLE}: {BASELINE} at the same budget"))
    return tables + [edges_table(result), timing_table(result)]


def comparison_table(results: list) -> Table:
    """One row per run, for ``rankscope report RUN_DIR [RUN_DIR ...]``."""
    head = ["run", "space", "allocator", "task", "seed", "budget params", "used params",
            "primary", "final", "best", "train (s)"]
    rows = []
    for i, r in enumerate(results):
        name, final, best = primary_metric(r)
        rows.append([run_name(r, i),
                     *(text(r.get(k)) for k in ("space", "allocator", "task", "seed")),
                     fmt_int((r.get("budget") or {}).get("params")), fmt_int(used_params(r)),
                     text(name), fmt_metric(final), fmt_metric(best),
                     fmt_seconds((r.get("timing") or {}).get("train_s"))])
    return Table("comparison", "Runs compared", head, rows)
