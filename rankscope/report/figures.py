"""Plotly figures for the HTML reports.

Every number comes from the accessors in :mod:`.schema` (``rank_grid``, ``used_params``,
``baseline``, ``primary_metric``), so a figure always shows what the tables say. The figures here
are the generic ones; an allocator family's section adds its own after them (:func:`run_figures`).

Every user-supplied string placed in a figure goes through :func:`rankscope.display.plots.label`
(cleaned, password-redacted, then HTML-escaped, because plotly renders a small HTML subset in
titles, tick labels and hover text), and every figure is styled by
:func:`rankscope.display.plots.layout`, which the sections use too.
"""

from __future__ import annotations

import plotly.graph_objects as go

from rankscope.display.plots import MUTED, label, layout
from rankscope.display.tables import fmt_int, text
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
from rankscope.report.tables import uniform_edges


def rank_heatmap(edges: list, name: str, zmax=None) -> go.Figure:
    """Blocks (rows, block 0 on top) × edge types (columns); blank where no edge exists."""
    grid = rank_grid(edges)
    z = [[grid.cells.get((b, t)) for t in grid.types] for b in grid.blocks]
    fig = go.Figure(go.Heatmap(
        z=z, x=[label(t) for t in grid.types], y=[label(b) for b in grid.blocks],
        zmin=0, zmax=zmax, colorscale="Blues", colorbar={"title": {"text": "rank"}},
        texttemplate="%{z}", hovertemplate="block %{y}, %{x}: rank %{z}<extra></extra>"))
    return layout(fig, f"rank heatmap: {label(name)}",
                  xaxis={"type": "category", "title": {"text": "edge type"}},
                  yaxis={"type": "category", "autorange": "reversed", "title": {"text": "block"}})


def budget_bar(result: dict) -> go.Figure:
    """Budget given beside the adapter parameters used (and the uniform baseline's)."""
    bars = {"budget given": (result.get("budget") or {}).get("params"),
            "used": used_params(result)}
    if baseline(result):
        bars[f"{BASELINE} baseline"] = used_params(baseline(result))
    fig = go.Figure(go.Bar(x=list(bars), y=[v or 0 for v in bars.values()],
                           text=[fmt_int(v) for v in bars.values()],
                           marker_color=[MUTED, "#1f77b4", "#ff7f0e"][:len(bars)]))
    return layout(fig, "adapter budget: used vs given", yaxis={"title": {"text": "parameters"}})


def metric_curve(result: dict):
    """The dev primary metric over training steps, or ``None`` when history has no such points."""
    name, _, _ = primary_metric(result)
    points = [(h.get("step"), (h.get("dev") or {}).get(name)) for h in result.get("history") or []]
    points = [(s, v) for s, v in points if s is not None and v is not None]
    if not name or not points:
        return None
    fig = go.Figure(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points],
                               mode="lines+markers", name=label(name)))
    return layout(fig, f"dev {label(name)} over training steps",
                  xaxis={"title": {"text": "step"}}, yaxis={"title": {"text": label(name)}})


def type_bars_vs_uniform(result: dict):
    """Total rank per edge type, this allocator beside uniform; ``None`` without a baseline."""
    base_edges = uniform_edges(result)
    if not base_edges:
        return None
    ours, theirs = rank_grid(edges_of(result)), rank_grid(base_edges)
    types = list(dict.fromkeys(ours.types + theirs.types))
    fig = go.Figure([
        go.Bar(name=label(result.get("allocator")), x=[label(t) for t in types],
               y=[ours.type_totals().get(t, 0) for t in types]),
        go.Bar(name=BASELINE, x=[label(t) for t in types],
               y=[theirs.type_totals().get(t, 0) for t in types])])
    return layout(fig, f"rank per edge type: {label(result.get('allocator'))} vs {BASELINE} at the same budget",
                  barmode="group", xaxis={"type": "category", "title": {"text": "edge type"}},
                  yaxis={"title": {"text": "total rank"}})


def run_figures(result: dict) -> list:
    """All figures of a single-run report, in reading order (skipping those without data): the
    generic ones, then those of the allocator's section."""
    figs = [budget_bar(result), metric_curve(result)]
    if edges_of(result):
        name = f"{text(result.get('space'))} / {text(result.get('allocator'))}"
        figs.append(rank_heatmap(edges_of(result), name))
    figs.append(type_bars_vs_uniform(result))
    figs += section_of(result).figures(result)
    return [f for f in figs if f is not None]


def primary_bar(results: list) -> go.Figure:
    """Primary metric (final and best) per run, grouped."""
    names = [label(run_name(r, i)) for i, r in enumerate(results)]
    values = [primary_metric(r) for r in results]
    fig = go.Figure([go.Bar(name=kind, x=names, y=[v[col] for v in values])
                     for kind, col in (("final", 1), ("best", 2))])
    metric = {v[0] for v in values if v[0]}
    title = "primary metric per run" + (f" ({label(metric.pop())})" if len(metric) == 1 else "")
    return layout(fig, title, barmode="group", xaxis={"type": "category"})


def comparison_figures(results: list) -> list:
    """The grouped primary-metric bar, then one rank heatmap per run, on one colour scale."""
    cells = [v for r in results for v in rank_grid(edges_of(r)).cells.values()]
    figs = [primary_bar(results)]
    for i, r in enumerate(results):
        if edges_of(r):
            name = f"{run_name(r, i)} ({text(r.get('space'))} / {text(r.get('allocator'))})"
            figs.append(rank_heatmap(edges_of(r), name, zmax=max(cells, default=None)))
    return figs
