"""Report renderers: the same numbers in Markdown, HTML and terminal; offline, escaped HTML."""

import copy
import re

import plotly.offline
import pytest

from rankscope.report import (
    redact_url,
    render_comparison_html,
    render_comparison_markdown,
    render_html,
    render_markdown,
    render_terminal,
    write_reports,
)
from rankscope.report.schema import rank_grid

HIDDEN = 16  # toy hidden size: a rank-r LoRA on a HIDDEN×HIDDEN weight costs 2·HIDDEN·r
RANKS = {("query", 0): 4, ("value", 0): 2, ("R1", 0): 0, ("S2", 0): 2,
         ("query", 1): 1, ("value", 1): 2, ("R1", 1): 3, ("S2", 1): 1}  # 15 ≤ 16 = uniform r2


def _edges(ranks):
    return [{"id": f"{t}@{layer}", "kind": "lora" if t in ("query", "value") else "shortcut",
             "type": t, "layer": layer, "src": f"layer.{layer}.{t}:in",
             "dst": f"layer.{layer}.{t}:out", "rank": r, "params": 2 * HIDDEN * r}
            for (t, layer), r in ranks.items()]


def _allocation(ranks):
    edges = _edges(ranks)
    return {"params": sum(e["params"] for e in edges), "form": "lora", "edges": edges}


@pytest.fixture
def result():
    uniform = {k: 2 for k in RANKS}
    return {
        "schema": 1, "rankscope_version": "0.1.0", "space": "shortcuts", "allocator": "proxy-static",
        "model": "minilm", "task": "mrpc", "seed": 0, "status": "completed", "failure": None,
        "budget": {"spec": "r2", "params": 2 * HIDDEN * 2 * len(RANKS)},
        "allocation": _allocation(RANKS), "head_params": 770,
        "metrics": {"primary": "accuracy", "final": {"accuracy": 0.71, "f1": 0.80},
                    "best": {"accuracy": 0.73, "f1": 0.81, "step": 200}},
        "baseline": {"uniform": {
            "metrics": {"primary": "accuracy", "final": {"accuracy": 0.69, "f1": 0.78},
                        "best": {"accuracy": 0.70, "f1": 0.79, "step": 150}},
            "params": 2 * HIDDEN * 2 * len(RANKS), "allocation": _allocation(uniform)}},
        "timing": {"allocate_s": 0.1, "train_s": 52.3, "total_s": 55.0, "peak_rss_mb": 1400},
        "history": [{"step": s, "train_loss": 0.7 - s / 1000, "lr": 4e-4,
                     "dev": {"accuracy": 0.6 + s / 2000, "f1": 0.7}} for s in (50, 100, 150, 200)],
        "extras": {"planted": {"gap_closed": 0.4, "r2": 0.8, "planted_recall": 0.3},
                   "allocator": {"proxy": "grad_norm", "used_proxy": "grad_norm", "granularity": "edge",
                                 "rank_on": 8, "options": {"n_batches": 8}, "scoring_s": 0.523,
                                 "rank_spearman_proxy_vs_alloc": 0.9,
                                 "scores": {"grad_norm": {f"{t}@{layer}": 0.1 * r for (t, layer), r in RANKS.items()}}}},
    }


@pytest.fixture
def failed():
    return {"schema": 1, "space": "lora", "allocator": "uniform", "model": "minilm",
            "task": "sst2", "seed": 1, "status": "failed",
            "failure": {"reason": "loss became NaN at step 12"}, "budget": {"spec": "r2"},
            "allocation": _allocation({("query", 0): 2}), "baseline": {}, "history": []}


def _md_row(md, first_cell):
    """The cells of the Markdown table row that starts with ``first_cell``."""
    line = next(ln for ln in md.splitlines() if ln.startswith(f"| {first_cell} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_markdown_rank_table_has_the_right_numbers(result):
    md = render_markdown(result)
    assert "| block | query | value | R1 | S2 | total |" in md
    assert md.count("| block | query | value | R1 | S2 | total |") == 2  # allocator and uniform
    assert _md_row(md, "0") == ["0", "4", "2", "0", "2", "8"]
    assert _md_row(md, "1") == ["1", "1", "2", "3", "1", "7"]
    assert _md_row(md, "all blocks") == ["all blocks", "5", "4", "3", "3", "15"]
    assert "| query@0 | lora | query | 0 | 4 | 128 | 2 | 0.4000 |" in md  # uniform rank, proxy
    assert "grad_norm score" in md
    assert _md_row(md, "scoring time / training time") == ["scoring time / training time", "1.0%"]
    assert _md_row(md, "Spearman(proxy score, allocated rank)")[1] == "0.9000"


def test_markdown_budget_metrics_planted_timing(result):
    md = render_markdown(result)
    assert "| budget given (r2) | 512 | 100.0% |" in md
    assert "| adapter params used | 480 | 93.8% |" in md
    assert "| task head (outside the budget) | 770 | — |" in md
    assert "| accuracy (primary) | 0.7100 | 0.7300 | 0.6900 | 0.7000 | +0.0200 | +0.0300 |" in md
    assert "| gap_closed | 0.4000 |" in md and "best at step 200" in md
    assert "| 0.10 | 52.30 | 55.00 | 1,400 |" in md
    assert "uniform trained at lr" not in md  # this baseline record is from before lr was recorded
    result["baseline"]["uniform"]["lr"] = 1e-3
    assert "best at step 200; uniform trained at lr 0.001" in render_markdown(result)


def test_planted_table_shows_metrics_not_the_task_config(result):
    result["extras"]["planted"]["config"] = {"n_plants": 3, "plant_rank": 32}
    md = render_markdown(result)
    assert "| gap_closed | 0.4000 |" in md and "plant_rank" not in md and "| config |" not in md


def test_cells_sharing_a_block_and_type_are_summed():
    edges = _edges({("R1", 0): 2}) + [dict(_edges({("R1", 0): 3})[0], id="R1@0b")]
    assert rank_grid(edges).cells == {(0, "R1"): 5}


def test_html_is_offline_with_plotly_inlined_once(result, tmp_path):
    page = render_html(result)
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle) == 1
    rest = page.replace(bundle, "")  # plotly.js itself names cdn.plot.ly (geo topojson default)
    assert "cdn.plot.ly" not in rest and not re.search(r"<script[^>]*\bsrc=", rest)
    assert "<link" not in rest and "http://" not in rest and "https://" not in rest
    assert "rank heatmap" in rest and "adapter budget: used vs given" in rest
    assert "dev accuracy over training steps" in rest and "rank per edge type" in rest
    path = write_reports(tmp_path, result)[1]
    assert path.read_text(encoding="utf-8") == page
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == render_markdown(result)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_user_strings_are_escaped(result):
    result["space"] = "<script>alert(1)</script>"
    result["allocation"]["edges"][0]["type"] = "my<b>type"
    page, md = render_html(result), render_markdown(result)
    for out in (page, md):
        assert "<script>alert(1)</script>" not in out and "my<b>type" not in out
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "my&lt;b&gt;type" in out
    comparison = render_comparison_html([result])
    assert "<script>alert(1)</script>" not in comparison and "<b>" not in comparison


def test_redact_url_hides_passwords(result):
    assert redact_url("https://bob:s3cr%2Fet@hub.example/m") == "https://bob:***@hub.example/m"
    assert redact_url("git+ssh://u:p@h, s3://k:v@b/x") == "git+ssh://u:***@h, s3://k:***@b/x"
    assert redact_url("https://u:p@ss@hub.example/m") == "https://u:***@hub.example/m"
    for clean in ("https://hub.example/m by user@mail", "http://host:8080/path@x"):
        assert redact_url(clean) == clean
    result["model"] = "https://alice:hunter2@hub.example/minilm"
    result["failure"] = {"reason": "fetch https://alice:hunter2@hub.example failed"}
    result["run_name"] = result["model"]
    for out in (render_markdown(result), render_html(result), render_terminal(result),
                render_comparison_markdown([result]), render_comparison_html([result])):
        assert "hunter2" not in out and "alice:***@hub.example" in out


def test_failed_run_renders_reason_without_history_or_baseline(failed):
    md, page, term = render_markdown(failed), render_html(failed), render_terminal(failed)
    assert "> **Run failed:** loss became NaN at step 12" in md
    assert '<div class="failure"><strong>Run failed:</strong> loss became NaN at step 12' in page
    assert "FAILED: loss became NaN at step 12" in term
    assert "Ranks by block × edge type" in md and "uniform at the same budget" not in md
    assert "over training steps" not in page and "rank heatmap" in page
    assert page.count(plotly.offline.get_plotlyjs()) == 1


def test_minimal_result_does_not_crash():
    for out in (render_markdown({}), render_html({}), render_terminal({})):
        assert "none recorded" in out


def test_terminal_summary(result):
    term = render_terminal(result)
    assert "status: completed" in term and "Ranks by block × edge type" in term
    assert re.search(r"^accuracy \(primary\)\s+0\.7100\s+0\.7300\s+0\.6900", term, re.M)
    assert re.search(r"^0\s+4\s+2\s+0\s+2\s+8$", term, re.M)
    assert "query@0" not in term  # the per-edge table is for the full reports only


def test_comparison_has_one_row_per_run(result, failed):
    named = dict(copy.deepcopy(result), run_name="proxy-run")
    runs = [named, result, failed]
    md = render_comparison_markdown(runs)
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| run |")]
    assert len(rows) == 3
    assert rows[0].startswith("| proxy-run | shortcuts | proxy-static | mrpc | 0 | 512 | 480 | accuracy")
    assert rows[1].startswith("| #2 |") and rows[2].startswith("| #3 | lora | uniform | sst2 |")
    page = render_comparison_html(runs)
    assert page.count(plotly.offline.get_plotlyjs()) == 1
    assert page.count("rank heatmap: ") == 3 and "primary metric per run (accuracy)" in page
