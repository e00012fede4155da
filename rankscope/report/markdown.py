"""Markdown reports: the tables of :mod:`rankscope.report.tables`, laid out as GitHub tables.

This module only decides layout. Which tables exist and what they contain is decided once, in
``tables.py`` (and the allocator's section, :mod:`.sections`), and how numbers are formatted in
:mod:`rankscope.display.tables`; the HTML and terminal reports show the same cells.

Cells are escaped for Markdown by :func:`cell`: ``|`` would end a table cell and ``<``/``>``
would let a name be read as raw HTML by viewers that allow it, so they become ``\\|``,
``&lt;`` and ``&gt;`` (which every Markdown viewer displays as the original characters).
"""

from __future__ import annotations

from rankscope.display.paired import paired_table, paired_verdicts
from rankscope.display.tables import Table
from rankscope.report.schema import (
    comparison_title,
    failure_reason,
    header_fields,
    report_title,
)
from rankscope.report.tables import comparison_table, report_tables

NONE_RECORDED = "_none recorded_"


def cell(value: str) -> str:
    """A display string made safe inside a Markdown table cell or paragraph."""
    return (value.replace("\\", "\\\\").replace("|", "\\|")
            .replace("<", "&lt;").replace(">", "&gt;"))


def table_md(table: Table) -> str:
    """``## title``, then a pipe table (or a "none recorded" line), then the table's note.

    A table without columns is only its title and note (a paired comparison that was not made).
    """
    lines = [f"## {cell(table.title)}"]
    if table.rows:
        lines += ["", "| " + " | ".join(cell(h) for h in table.head) + " |", "|" + "---|" * len(table.head)]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    elif table.head:
        lines += ["", NONE_RECORDED]
    if table.note:
        lines += ["", f"_{cell(table.note)}_"]
    return "\n".join(lines)


def render_markdown(result: dict) -> str:
    """The full single-run report as Markdown."""
    parts = [f"# {cell(report_title(result))}", ""]
    reason = failure_reason(result)
    if reason:
        parts += [f"> **Run failed:** {cell(reason)}", ""]
    parts += [f"- **{label}**: {cell(value)}" for label, value in header_fields(result)]
    for table in report_tables(result):
        parts += ["", table_md(table)]
    return "\n".join(parts) + "\n"


def paired_md(paired: dict) -> str:
    """The paired comparison of :mod:`rankscope.search.compare`: its table, then one bullet per verdict."""
    lines = [table_md(paired_table(paired))]
    if verdicts := paired_verdicts(paired):
        lines += ["", *(f"- {cell(v)}" for v in verdicts)]
    return "\n".join(lines)


def render_comparison_markdown(results: list, paired: dict | None = None) -> str:
    """One table, one row per run; then, when ``paired`` is given (what
    :func:`rankscope.search.compare.comparison_or_reason` returns), the paired comparison or why none was made."""
    parts = [f"# {cell(comparison_title(results))}", "", table_md(comparison_table(results))]
    if paired is not None:
        parts += ["", paired_md(paired)]
    return "\n".join(parts) + "\n"
