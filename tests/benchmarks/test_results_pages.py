"""python -m benchmarks.docs: the documentation's results pages, from the committed results files alone."""

import re

import pytest
from conftest import REPO

from benchmarks.docs.cli import main, pages, render_page

RESULTS = REPO / "benchmarks" / "results"
OUT = REPO / "docs" / "results"
PAGES = ("glue-protocol.md", "planted.md", "decoders.md", "rank-stability.md", "memory.md")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_committed_pages_are_what_the_results_files_give():
    """Regenerate with ``python -m benchmarks.docs`` after a results file, a table or a template changes."""
    written = pages(RESULTS)
    assert set(PAGES) <= set(written)
    stale = [name for name, text in written.items() if not (OUT / name).is_file() or (OUT / name).read_text() != text]
    assert not stale, f"out of date, run python -m benchmarks.docs: {stale}"
    assert main(["--check"]) == 0


def test_pages_hold_the_generated_tables_and_link_only_to_pages_beside_them():
    text = {name: (OUT / name).read_text() for name in PAGES}
    assert "| uniform LoRA | 0.001 | 82,944 | 82.4 | 80.1 | 80.6 |" in text["glue-protocol.md"]  # MRPC, held out
    assert "160 protocol cells finished, 0 to go" in text["glue-protocol.md"]
    assert "| PEFT LoRA (same ranks) | 1,221,120 |" in text["decoders.md"]
    assert "| 0 | spectral | +0.80 |" in text["planted.md"]
    for name, page in text.items():
        assert "<!-- generated:" not in page and "python benchmarks/" not in page, name
        for target in LINK.findall(page):
            path = target.split("#")[0]
            assert not re.match(r"[a-z]+:", target) or target.startswith("https://"), (name, target)
            assert "README" not in target and (not path or (OUT / path).is_file()), (name, target)


def test_a_template_marks_where_each_generated_part_goes(tmp_path):
    template = tmp_path / "page.md"
    template.write_text("# A page\n\n<!-- generated: planted-diagnosis-cells -->\n\nafter\n")
    page = render_page(template, RESULTS)
    assert page.startswith("<!-- Written by `python -m benchmarks.docs`") and "72 cells over seeds 0, 1, 2" in page
    template.write_text("<!-- generated: no-such-part -->\n")
    with pytest.raises(SystemExit, match="unknown generated part"):
        render_page(template, RESULTS)


def test_check_reports_a_stale_page_and_writes_nothing(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--check"]) == 1 and not list(tmp_path.iterdir())
    assert "out of date" in capsys.readouterr().err
    assert main(["--out", str(tmp_path)]) == 0 and sorted(p.name for p in tmp_path.iterdir()) == sorted(PAGES)
