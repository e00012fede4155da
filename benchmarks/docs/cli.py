"""Write the documentation's results pages from the committed results files alone (no training).

Each page is a template (``benchmarks/docs/templates/NAME.md``: the prose) with generated parts
(:mod:`benchmarks.docs.pages`: the tables, from ``benchmarks/results/``), written to
``docs/results/NAME.md``. Edit the template or the table code, never the written page::

    python -m benchmarks.docs            # (re)write docs/results/*.md
    python -m benchmarks.docs --check    # exit 1 if a written page differs from what it would be now
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .pages import PARTS

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = Path(__file__).resolve().parent / "templates"
MARK = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.MULTILINE)
HEADER = ("<!-- Written by `python -m benchmarks.docs` from benchmarks/docs/templates/{name} and "
          "benchmarks/results/: edit those, not this page. -->\n\n")


def render_page(template: Path, results: Path) -> str:
    """The page of ``template``: its text, each ``<!-- generated: KEY -->`` line replaced by that part."""
    text = template.read_text()
    unknown = sorted(set(MARK.findall(text)) - set(PARTS))
    if unknown:
        raise SystemExit(f"{template}: unknown generated part(s) {unknown}; known: {sorted(PARTS)}")
    body = MARK.sub(lambda m: PARTS[m.group(1)](results).strip("\n"), text)
    return HEADER.format(name=template.name) + body.rstrip("\n") + "\n"


def pages(results: Path) -> dict[str, str]:
    """``{file name: text}`` of every results page."""
    return {t.name: render_page(t, results) for t in sorted(TEMPLATES.glob("*.md"))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.docs", description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results",
                    help="the results files (default benchmarks/results)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "results",
                    help="where the pages go (default docs/results)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is out of date")
    args = ap.parse_args(argv)
    stale = []
    for name, text in pages(args.results).items():
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print("out of date (run python -m benchmarks.docs): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0
