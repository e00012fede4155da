"""Terminal summary for ``rankscope show RUN_DIR``: a compact, plain-text view of a run.

It shows a subset of the report's tables (header, budget, metrics against the baseline, the
block × edge-type rank table, timing) laid out by :func:`rankscope.table.format_table`. The
cells are the same strings the Markdown and HTML reports show; ``tables.text`` has already
flattened control characters, so a run name cannot inject terminal escape codes.
"""

from __future__ import annotations

from ..table import format_table
from .tables import Table, failure_reason, header_fields, report_tables, report_title

SHOWN = ("budget", "metrics", "planted", "proxy", "ranks", "ranks_uniform", "timing")


def table_text(table: Table) -> str:
    """Title, then the fixed-width table (or "(none recorded)"), then the table's note."""
    lines = [table.title]
    lines.append(format_table(table.head, table.rows) if table.rows else "(none recorded)")
    if table.note:
        lines.append(f"({table.note})")
    return "\n".join(lines)


def render_terminal(result: dict) -> str:
    """The compact summary: one header line, a failure line when failed, then the tables."""
    lines = [report_title(result),
             "  ".join(f"{label}: {value}" for label, value in header_fields(result))]
    reason = failure_reason(result)
    if reason:
        lines.append(f"FAILED: {reason}")
    for table in report_tables(result):
        if table.key in SHOWN:
            lines += ["", table_text(table)]
    return "\n".join(lines) + "\n"
