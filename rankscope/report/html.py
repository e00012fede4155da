"""HTML reports: the same tables as the Markdown report, plus plotly figures, in one offline page.

Two guarantees:

* **Offline.** plotly's JavaScript is inlined exactly once, with the first figure of the page
  (``include_plotlyjs=True``); later figures reuse it (``include_plotlyjs=False``). The page
  loads no script, stylesheet or font from the network, so it opens on an air-gapped machine.
* **Escaped.** Every string written into the page passes through :func:`html.escape` here (the
  table cells are plain text, from ``tables.py`` and the allocator's section alike); strings
  inside figures are escaped by :func:`rankscope.display.plots.label`. A space named
  ``<script>alert(1)</script>`` is shown, never run.
"""

from __future__ import annotations

from html import escape

from rankscope.display.paired import paired_table, paired_verdicts
from rankscope.display.tables import Table
from rankscope.report.figures import comparison_figures, run_figures
from rankscope.report.schema import (
    comparison_title,
    failure_reason,
    header_fields,
    report_title,
)
from rankscope.report.tables import comparison_table, report_tables

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f4f7; }
dl.header { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.header dt { font-weight: 600; }
dl.header dd { margin: 0; }
.failure { border: 2px solid #c0392b; background: #fdecea; padding: 0.8em 1em; margin: 1em 0; }
.note { color: #555; font-style: italic; }
.figure { margin: 1em 0 2em; }
"""


def table_html(table: Table) -> str:
    """``<h2>title</h2>``, then the table (or a "none recorded" line), then the table's note.

    A table without columns is only its title and note (a paired comparison that was not made).
    """
    parts = [f"<h2>{escape(table.title)}</h2>"]
    if table.rows:
        head = "".join(f"<th>{escape(h)}</th>" for h in table.head)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>\n"
                       for row in table.rows)
        parts.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>")
    elif table.head:
        parts.append('<p class="note">none recorded</p>')
    if table.note:
        parts.append(f'<p class="note">{escape(table.note)}</p>')
    return "\n".join(parts)


def embed_figures(figures: list) -> list:
    """Each figure as an HTML fragment; plotly.js is inlined in the first one only."""
    fragments = []
    for i, fig in enumerate(figures):
        div = fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"figure-{i}",
                          config={"displaylogo": False})
        fragments.append(f'<div class="figure">{div}</div>')
    return fragments


def page(title: str, body: list) -> str:
    """A complete, self-contained HTML document; ``title`` is escaped, ``body`` is trusted HTML."""
    return "\n".join(['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
                      f"<title>{escape(title)}</title>", f"<style>{STYLE}</style>", "</head>",
                      "<body>", f"<h1>{escape(title)}</h1>", *body, "</body>", "</html>", ""])


def header_html(result: dict) -> str:
    """The run's identity as a definition list, with the failure reason boxed when it failed."""
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in header_fields(result))
    html = f'<dl class="header">{items}</dl>'
    reason = failure_reason(result)
    if reason:  # first thing on the page: a failed run's numbers must not be read as results
        html = f'<div class="failure"><strong>Run failed:</strong> {escape(reason)}</div>\n{html}'
    return html


def render_html(result: dict) -> str:
    """The full single-run report: header, tables, then figures (the allocator section's last)."""
    body = [header_html(result)]
    body += [table_html(t) for t in report_tables(result)]
    body += ["<h2>Figures</h2>", *embed_figures(run_figures(result))]
    return page(report_title(result), body)


def paired_html(paired: dict) -> str:
    """The paired comparison of :mod:`rankscope.search.compare`: its table, then a list of the verdicts."""
    items = "".join(f"<li>{escape(v)}</li>" for v in paired_verdicts(paired))
    return table_html(paired_table(paired)) + (f'\n<ul class="verdicts">{items}</ul>' if items else "")


def render_comparison_html(results: list, paired: dict | None = None) -> str:
    """The comparison table, the paired comparison when ``paired`` is given (as for
    :func:`~rankscope.report.markdown.render_comparison_markdown`), a grouped bar of the primary
    metric, and one heatmap per run."""
    body = [table_html(comparison_table(results))]
    if paired is not None:
        body.append(paired_html(paired))
    body += ["<h2>Figures</h2>", *embed_figures(comparison_figures(results))]
    return page(comparison_title(results), body)
