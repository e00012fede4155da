"""The report section of the outer search (``optuna``).

It reads the record :class:`~.outer_search.OptunaAllocator` writes (with
:func:`rankscope.allocators.optuna.records.study_record`) to ``result["extras"]["allocator"]``::

    {"study_name": "rankscope", "storage": "sqlite:///run/study.db", "sampler": "tpe",
     "pruner": "median", "units": "edge", "n_units": 36, "trial_steps": 60,
     "counts": {"complete": 9, "pruned": 2, "fail": 1, "running": 0}, "best_trial": 4,
     "trials": [{"number": 0, "state": "complete", "value": 0.71, "params_used": 4480,
                 "warm_start": "uniform", "last_step": 60, "reason": None, "duration_s": 3.1}, ...],
     "best_so_far": [{"number": 0, "best": 0.71}, ...],
     "pareto": [{"number": 4, "value": 0.74, "params_used": 3900}, ...],   # multi-objective only
     "uniform_ranks": {edge id: rank}}      # the uniform allocation at the same budget

and adds

* the **Optuna study** table: the study's settings in its title, then one row per trial (state,
  dev metric, a pruned trial's last reported one, parameters used, warm start, where it stopped,
  why it failed, how long it took);
* two figures: every complete trial's dev metric with the best-so-far line, and, for a
  multi-objective study, the Pareto front of dev metric against adapter parameters;
* the **uniform allocation** the study warm-started from (``uniform_ranks``; not trained), so
  the report shows it beside the chosen allocation when the run trained no uniform baseline.

Trials run the short schedule (``trial_steps``); only the best trial is retrained in full, so a
trial's metric compares trials with each other, not with the final metrics.
"""

from __future__ import annotations

from rankscope.allocators.report import ReportSection, allocator_record
from rankscope.display.plots import MUTED, label, layout
from rankscope.display.tables import Table, fmt_int, fmt_metric, fmt_seconds, text

HEAD = ["trial", "state", "dev metric", "params", "warm start", "last step", "reason", "seconds"]


class StudySection(ReportSection):
    def tables(self, result: dict) -> list[Table]:
        rec = allocator_record(result)
        return [self.study_table(rec)] if rec.get("trials") is not None else []

    def study_table(self, rec: dict) -> Table:
        """The study's settings and counts in the title, one row per trial."""
        counts = rec.get("counts") or {}
        title = (f"Optuna study {text(rec.get('study_name'))!r} ({text(rec.get('storage'))}): sampler "
                 f"{text(rec.get('sampler'))}, pruner {text(rec.get('pruner'))}, {fmt_int(rec.get('n_units'))} "
                 f"{text(rec.get('units'))} units, {fmt_int(rec.get('trial_steps'))} steps per trial; "
                 + ", ".join(f"{fmt_int(n)} {text(k)}" for k, n in counts.items() if n)
                 + (f"; best trial {fmt_int(rec['best_trial'])}, retrained with the full schedule"
                    if "best_trial" in rec else ""))
        rows = [[fmt_int(t.get("number")), text(t.get("state")), fmt_metric(t.get("value")),
                 fmt_int(t.get("params_used")), text(t.get("warm_start")), fmt_int(t.get("last_step")),
                 text(t.get("reason")), fmt_seconds(t.get("duration_s"))] for t in rec.get("trials") or []]
        return Table("study", title, HEAD, rows)

    def figures(self, result: dict) -> list:
        """Dev metric per complete trial with the best-so-far line; the Pareto front if any."""
        import plotly.graph_objects as go  # only when an HTML report is drawn

        rec = allocator_record(result)
        trials = [t for t in rec.get("trials") or []
                  if t.get("state") == "complete" and t.get("value") is not None]
        if not trials:
            return []
        name = label((result.get("metrics") or {}).get("primary") or "metric")
        curve = rec.get("best_so_far") or []
        fig = go.Figure([go.Scatter(x=[t.get("number") for t in trials], y=[t["value"] for t in trials],
                                    mode="markers", name="trial"),
                         go.Scatter(x=[p.get("number") for p in curve], y=[p.get("best") for p in curve],
                                    mode="lines", line={"shape": "hv"}, name="best so far")])
        figs = [layout(fig, f"dev {name} per trial (short schedule)", xaxis={"title": {"text": "trial"}},
                       yaxis={"title": {"text": name}})]
        if rec.get("pareto"):
            front = sorted(rec["pareto"], key=lambda p: p.get("params_used") or 0)
            pareto = go.Figure([
                go.Scatter(x=[t.get("params_used") for t in trials], y=[t["value"] for t in trials],
                           mode="markers", name="trial", marker={"color": MUTED}),
                go.Scatter(x=[p.get("params_used") for p in front], y=[p.get("value") for p in front],
                           mode="lines+markers", name="Pareto front")])
            figs.append(layout(pareto, f"Pareto front: dev {name} against adapter parameters",
                               xaxis={"title": {"text": "adapter parameters"}}, yaxis={"title": {"text": name}}))
        return figs

    def uniform_edges(self, result: dict) -> list[dict]:
        """The chosen allocation's edges at the uniform ranks the study recorded (0 if unlisted);
        their ``params`` are dropped, since they were the chosen ranks' counts."""
        ranks = allocator_record(result).get("uniform_ranks") or {}
        edges = (result.get("allocation") or {}).get("edges") or []
        return [{**e, "rank": ranks.get(e.get("id"), 0), "params": None} for e in edges] if ranks else []
