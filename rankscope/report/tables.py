"""Report tables: the single source of truth behind the Markdown, HTML and terminal reports.

Each builder reads a run's ``result`` dict (what a run writes to ``result.json``; its accessors
are in :mod:`.schema`) and returns a :class:`~rankscope.display.tables.Table` of *plain* strings, every
cell formatted by :mod:`rankscope.display.tables`. Renderers only lay the cells out and escape them for
their medium, so every number is formatted in exactly one place and the three reports cannot
disagree.

The tables here are the generic ones, which every run has: budget, metrics, planted-task
diagnostics, ranks (and the uniform allocation's), edges, timing, and the comparison of several
runs. What only one allocator family records (proxy scoring, pruning events, an Optuna study)
comes from that family's report section (:mod:`.sections`), which :func:`report_tables` places
after the metrics; its per-edge columns are joined into the Edges table.
"""

from __future__ import annotations

from dataclasses import replace

from rankscope.allocators.report import ReportSection
from rankscope.display.tables import (
    ABSENT,
    MISSING,
    Table,
    fmt_delta,
    fmt_int,
    fmt_metric,
    fmt_pct,
    fmt_seconds,
    text,
)
from rankscope.report.schema import (
    BASELINE,
    baseline,
    edges_of,
    primary_metric,
    rank_grid,
    run_name,
    used_params,
)
from rankscope.report.sections import section_of

PLANTED_ORDER = ("gap_closed", "r2", "r2_uniform", "r2_oracle", "planted_recall",
                 "rank_spearman", "calibration_ratio")
RANKS_TITLE = "Ranks by block × edge type"


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
    names = [n for n in dict.fromkeys([metrics.get("primary"), *final, *best]) if n and n not in ("step", "dev_rows")]
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
    if "dev_rows" in best:  # intermediate evaluations may use a seeded dev subset; the final uses all
        evaluated = [h.get("dev_rows") for h in result.get("history") or []]
        full = evaluated[-1] if evaluated else None
        note += (f", on {fmt_int(best['dev_rows'])} dev rows" + (f" (a seeded subset of {fmt_int(full)})"
                 if full and best["dev_rows"] != full else "") + f"; final on all {fmt_int(full)} dev rows")
    if base and baseline(result).get("lr"):  # runs from before baselines recorded their lr have none
        note += ("; " if note else "") + f"{BASELINE} trained at lr {baseline(result)['lr']:g}"
    return Table("metrics", "Metrics", head, rows, note)


def planted_table(result: dict) -> Table:
    """Planted-task diagnostics (``extras.planted``): known ones first, then any other value
    (the task's ``config`` record and other nested values are not metrics, and are left out)."""
    planted = (result.get("extras") or {}).get("planted") or {}
    names = sorted((n for n, v in planted.items() if not isinstance(v, (dict, list))),
                   key=lambda n: PLANTED_ORDER.index(n) if n in PLANTED_ORDER else 99)
    return Table("planted", "Planted-task metrics", ["metric", "value"],
                 [[text(n), fmt_metric(planted[n])] for n in names])


def uniform_edges(result: dict, section: ReportSection | None = None) -> list:
    """The uniform allocation at the same budget, as edge records: the trained baseline's when
    there is one, else what the allocator's section knows of it (untrained; ``[]`` if nothing)."""
    if edges_of(baseline(result)):
        return edges_of(baseline(result))
    return (section or section_of(result)).uniform_edges(result)


def edges_table(result: dict, section: ReportSection | None = None) -> Table:
    """One row per edge; its uniform rank when known, then the section's per-edge columns."""
    section = section or section_of(result)
    uniform = {e.get("id"): e.get("rank") for e in uniform_edges(result, section)}
    extra = section.edge_columns(result) or Table("", "", ["id"], [])
    joined = {row[0]: row[1:] for row in extra.rows}  # section cells by the id as text() shows it
    blank = [MISSING] * (len(extra.head) - 1)
    head = ["id", "kind", "type", "layer", "rank", "params"] + [f"{BASELINE} rank"] * bool(uniform)
    rows = []
    for e in edges_of(result):
        row = [text(e.get(k)) for k in ("id", "kind", "type", "layer")]
        row += [fmt_int(e.get("rank")), fmt_int(e.get("params"))]
        row += [fmt_int(uniform.get(e.get("id")))] * bool(uniform)
        rows.append(row + list(joined.get(row[0], blank)))
    return Table("edges", "Edges", head + extra.head[1:], rows, extra.note)


def timing_table(result: dict) -> Table:
    t = result.get("timing") or {}
    return Table("timing", "Timing", ["allocate (s)", "train (s)", "total (s)", "peak RSS (MB)"],
                 [[fmt_seconds(t.get("allocate_s")), fmt_seconds(t.get("train_s")),
                   fmt_seconds(t.get("total_s")), fmt_int(t.get("peak_rss_mb"))]])


def report_tables(result: dict) -> list:
    """Every table of a single-run report, in reading order (optional ones only when present):
    budget, metrics, planted, the allocator section's tables, ranks, uniform's ranks, edges, timing."""
    section = section_of(result)
    tables = [budget_table(result), metrics_table(result)]
    if (result.get("extras") or {}).get("planted"):
        tables.append(planted_table(result))
    tables += section.tables(result)
    tables.append(rank_table(edges_of(result)))
    if uniform := uniform_edges(result, section):
        ranks = rank_table(uniform, "ranks_uniform", f"{RANKS_TITLE}: {BASELINE} at the same budget")
        trained = bool(edges_of(baseline(result)))
        tables.append(ranks if trained else replace(ranks, note="not trained: the allocator's record of it"))
    return tables + [edges_table(result, section), timing_table(result)]


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
