"""Reports of a run: Markdown, offline HTML and a terminal summary, plus multi-run comparison.

Every renderer takes the ``result`` dict a run writes to ``result.json``::

    from rankscope.report import render_markdown, render_html, render_terminal, write_reports
    result = json.loads((run_dir / "result.json").read_text())
    print(render_terminal(result))             # what `rankscope show RUN_DIR` prints
    write_reports(run_dir, result)             # report.md + report.html beside result.json

Layout of the package: ``tables.py`` builds every table once (plain strings, passwords in URLs
redacted); ``markdown.py``, ``html.py`` and ``terminal.py`` only lay those tables out;
``figures.py`` draws the plotly figures that the HTML report adds.
"""

from __future__ import annotations

from pathlib import Path

from ..io import atomic_write_text
from .html import render_comparison_html, render_html
from .markdown import render_comparison_markdown, render_markdown
from .tables import redact_url
from .terminal import render_terminal


def write_reports(run_dir, result: dict) -> tuple:
    """Write ``report.md`` and ``report.html`` into ``run_dir`` atomically; return both paths.

    Each file is written to a temporary name and renamed over the target, so a reader never
    sees a half-written report, even if the process dies mid-write.
    """
    run_dir = Path(run_dir)
    md = atomic_write_text(run_dir / "report.md", render_markdown(result))
    page = atomic_write_text(run_dir / "report.html", render_html(result))
    return md, page


__all__ = ["redact_url", "render_comparison_html", "render_comparison_markdown", "render_html",
           "render_markdown", "render_terminal", "write_reports"]
