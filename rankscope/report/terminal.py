"""Terminal summary for ``rankscope show RUN_DIR``: a compact, plain-text view of a run.

It shows a subset of the report's tables (header, budget, metrics against the baseline, the
planted-task diagnostics, the block × edge-type rank tables, timing, plus the allocator section's
tables named in its ``terminal_keys``) laid out by :func:`rankscope.display.tables.format_table`. The
cells are the same strings the Markdown and HTML reports show; :func:`rankscope.display.tables.text` has
already flattened control characters, so a run name cannot inject terminal escape codes.
"""

from __future__ import annotations

from rankscope.display.tables import (
    MISSING,
    Table,
    fmt_delta,
    fmt_int,
    fmt_metric,
    format_table,
    text,
)
from rankscope.report.schema import (
    baseline,
    failure_reason,
    header_fields,
    primary_metric,
    report_title,
    used_params,
)
from rankscope.report.sections import section_of
from rankscope.report.tables import report_tables

SHOWN = ("budget", "metrics", "planted", "ranks", "ranks_uniform", "timing")  # + the section's keys


def table_text(table: Table) -> str:
    """Title, then the fixed-width table (or "(none recorded)"), then the table's note."""
    lines = [table.title]
    lines.append(format_table(table.head, table.rows) if table.rows else "(none recorded)")
    if table.note:
        lines.append(f"({table.note})")
    return "\n".join(lines)


def summary_table(result: dict) -> Table | None:
    """The run against its baselines at the same budget, final primary metric side by side: the
    allocator, uniform and (planted task) the oracle, with ``gap_closed``; ``None`` without any
    baseline."""
    planted = (result.get("extras") or {}).get("planted") or {}
    name, final, _ = primary_metric(result)
    base = baseline(result)
    if not base and not planted:
        return None
    uniform = (base.get("metrics") or {}).get("final", {}).get(name, planted.get("r2_uniform"))
    rows = [[text(result.get("allocator")), fmt_int(used_params(result)), fmt_metric(final),
             fmt_delta(final, uniform)],
            ["uniform", fmt_int(used_params(base)) if base else MISSING, fmt_metric(uniform), MISSING]]
    if planted:
        rows.append(["oracle (the planted allocation)", fmt_int((result.get("budget") or {}).get("params")),
                     fmt_metric(planted.get("r2_oracle")), fmt_delta(planted.get("r2_oracle"), uniform)])
    note = (f"gap_closed = (r2 − uniform) / (oracle − uniform) = {fmt_metric(planted.get('gap_closed'))}"
            if planted else "")
    return Table("summary", "Result at the same budget", ["method", "params", f"{text(name)} (final)",
                                                          "vs uniform"], rows, note)


def render_terminal(result: dict) -> str:
    """The compact summary: one header line, a failure line when failed, the tables, and last
    the run against its baselines (:func:`summary_table`)."""
    lines = [report_title(result),
             "  ".join(f"{label}: {value}" for label, value in header_fields(result))]
    reason = failure_reason(result)
    if reason:
        lines.append(f"FAILED: {reason}")
    shown = SHOWN + tuple(section_of(result).terminal_keys)
    for table in report_tables(result):
        if table.key in shown:
            lines += ["", table_text(table)]
    summary = summary_table(result) if not reason else None
    if summary is not None:
        lines += ["", table_text(summary)]
    return "\n".join(lines) + "\n"
