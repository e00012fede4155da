"""Plotly figures for the HTML reports.

Every number comes from the accessors in :mod:`rankscope.report.tables` (``rank_grid``,
``used_params``, ``baseline``, ``primary_metric``), so a figure always shows what the tables say.

Plotly renders a small HTML subset inside titles, tick labels and hover text (``<b>``,
``<br>``, ``<a href>``), so every user-supplied string placed in a figure goes through
:func:`label`: cleaned and password-redacted by ``tables.text``, then HTML-escaped. Plotly
turns the entities back into the literal characters when it draws, so an edge type named
``<b>`` is shown as ``<b>`` rather than starting bold text.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from .tables import (BASELINE, allocator_record, baseline, edges_of, fmt_int, primary_metric, rank_grid, run_name,
                     text, uniform_edges, used_params)

HEIGHT = 420


def label(value) -> str:
    """A user-supplied value made safe for plotly's text rendering."""
    return html.escape(text(value))


def _layout(fig: go.Figure, title: str, **extra) -> go.Figure:
    fig.update_layout(title={"text": title}, height=HEIGHT, margin={"t": 60, "l": 60, "r": 20},
                      **extra)
    return fig


def rank_heatmap(edges: list, name: str, zmax=None) -> go.Figure:
    """Blocks (rows, block 0 on top) × edge types (columns); blank where no edge exists."""
    grid = rank_grid(edges)
    z = [[grid.cells.get((b, t)) for t in grid.types] for b in grid.blocks]
    fig = go.Figure(go.Heatmap(
        z=z, x=[label(t) for t in grid.types], y=[label(b) for b in grid.blocks],
        zmin=0, zmax=zmax, colorscale="Blues", colorbar={"title": {"text": "rank"}},
        texttemplate="%{z}", hovertemplate="block %{y}, %{x}: rank %{z}<extra></extra>"))
    return _layout(fig, f"rank heatmap: {label(name)}",
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
                           marker_color=["#9aa5b1", "#1f77b4", "#ff7f0e"][:len(bars)]))
    return _layout(fig, "adapter budget: used vs given", yaxis={"title": {"text": "parameters"}})


def metric_curve(result: dict):
    """The dev primary metric over training steps, or ``None`` when history has no such points."""
    name, _, _ = primary_metric(result)
    points = [(h.get("step"), (h.get("dev") or {}).get(name)) for h in result.get("history") or []]
    points = [(s, v) for s, v in points if s is not None and v is not None]
    if not name or not points:
        return None
    fig = go.Figure(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points],
                               mode="lines+markers", name=label(name)))
    return _layout(fig, f"dev {label(name)} over training steps",
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
    return _layout(fig, f"rank per edge type: {label(result.get('allocator'))} vs {BASELINE} at the same budget",
                   barmode="group", xaxis={"type": "category", "title": {"text": "edge type"}},
                   yaxis={"title": {"text": "total rank"}})


def study_figures(result: dict) -> list:
    """An outer search: every complete trial's dev metric with the best-so-far line, and the
    Pareto front (dev metric against parameters) of a multi-objective study."""
    rec = allocator_record(result)
    trials = [t for t in rec.get("trials") or [] if t.get("state") == "complete" and t.get("value") is not None]
    if not trials:
        return []
    name = label(primary_metric(result)[0] or "metric")
    curve = rec.get("best_so_far") or []
    fig = go.Figure([go.Scatter(x=[t["number"] for t in trials], y=[t["value"] for t in trials], mode="markers",
                                name="trial"),
                     go.Scatter(x=[p["number"] for p in curve], y=[p["best"] for p in curve], mode="lines",
                                line={"shape": "hv"}, name="best so far")])
    figs = [_layout(fig, f"dev {name} per trial (short schedule)", xaxis={"title": {"text": "trial"}},
                    yaxis={"title": {"text": name}})]
    if rec.get("pareto"):
        front = sorted(rec["pareto"], key=lambda p: p["params_used"])
        pareto = go.Figure([go.Scatter(x=[t["params_used"] for t in trials], y=[t["value"] for t in trials],
                                       mode="markers", name="trial", marker={"color": "#9aa5b1"}),
                            go.Scatter(x=[p["params_used"] for p in front], y=[p["value"] for p in front],
                                       mode="lines+markers", name="Pareto front")])
        figs.append(_layout(pareto, f"Pareto front: dev {name} against adapter parameters",
                            xaxis={"title": {"text": "adapter parameters"}}, yaxis={"title": {"text": name}}))
    return figs


def run_figures(result: dict) -> list:
    """All figures of a single-run report, in reading order (skipping those without data)."""
    figs = [budget_bar(result), metric_curve(result)]
    if edges_of(result):
        name = f"{text(result.get('space'))} / {text(result.get('allocator'))}"
        figs.append(rank_heatmap(edges_of(result), name))
    figs.append(type_bars_vs_uniform(result))
    figs += study_figures(result)
    return [f for f in figs if f is not None]


def primary_bar(results: list) -> go.Figure:
    """Primary metric (final and best) per run, grouped."""
    names = [label(run_name(r, i)) for i, r in enumerate(results)]
    values = [primary_metric(r) for r in results]
    fig = go.Figure([go.Bar(name=kind, x=names, y=[v[col] for v in values])
                     for kind, col in (("final", 1), ("best", 2))])
    metric = {v[0] for v in values if v[0]}
    title = "primary metric per run" + (f" ({label(metric.pop())})" if len(metric) == 1 else "")
    return _layout(fig, title, barmode="group", xaxis={"type": "category"})


def comparison_figures(results: list) -> list:
    """The grouped primary-metric bar, then one rank heatmap per run, on one colour scale."""
    cells = [v for r in results for v in rank_grid(edges_of(r)).cells.values()]
    figs = [primary_bar(results)]
    for i, r in enumerate(results):
        if edges_of(r):
            name = f"{run_name(r, i)} ({text(r.get('space'))} / {text(r.get('allocator'))})"
            figs.append(rank_heatmap(edges_of(r), name, zmax=max(cells, default=None)))
    return figs
