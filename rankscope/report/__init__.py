"""Reports of a run: Markdown, offline HTML and a terminal summary, plus multi-run comparison.

Every renderer takes the ``result`` dict a run writes to ``result.json``:

>>> import json, tempfile
>>> from pathlib import Path
>>> from rankscope.search.pipeline import run_search
>>> from rankscope.search.config import SearchConfig
>>> cfg = SearchConfig(model="tiny-bert", max_steps=2,
...                    planted={"n_train": 32, "n_dev": 16, "seq_len": 8, "n_plants": 2}).resolved()
>>> result = run_search(cfg, progress=False).to_dict()   # what result.json holds
>>> print(render_terminal(result).splitlines()[0])       # what `rankscope show RUN_DIR` prints
rankscope report: shortcuts / uniform
>>> run_dir = Path(tempfile.mkdtemp())
>>> [p.name for p in write_reports(run_dir, result)]     # report.md + report.html
['report.md', 'report.html']

Layout of the package:

* ``schema.py`` reads a result (the accessors and the block × edge-type rank grid);
* ``tables.py`` builds every generic table once, as :class:`rankscope.display.tables.Table` values of
  plain strings (formatted and password-redacted by :mod:`rankscope.display.tables`);
* ``sections.py`` finds the allocator family's own part of the report, the ``report_section``
  its allocator class declares (:mod:`rankscope.allocators.report`): its tables, per-edge
  columns and figures. This package knows no allocator's private keys;
* ``markdown.py``, ``html.py`` and ``terminal.py`` only lay the tables out; the comparison of
  several runs also lays out their pairing by seed against uniform, whose table and verdicts
  :mod:`rankscope.search.compare` builds (as ``rankscope compare`` prints them);
* ``figures.py`` draws the generic plotly figures that the HTML report adds (styled by
  :mod:`rankscope.display.plots`, as the sections' figures are).
"""

from __future__ import annotations

from pathlib import Path

from rankscope.io import atomic_write_text
from rankscope.redact import redact_url
from rankscope.report.html import render_comparison_html, render_html
from rankscope.report.markdown import render_comparison_markdown, render_markdown
from rankscope.report.terminal import render_terminal


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
