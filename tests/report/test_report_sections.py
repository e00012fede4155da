"""Allocator report sections: the generic report knows no allocator's keys; each family adds its part."""

import ast
import copy
import re

import pytest
from conftest import REPO
from test_report import RANKS, _md_row, result  # noqa: F401 (result is a fixture)

import rankscope.display.plots
from rankscope.allocators import ALLOCATORS, Allocator
from rankscope.allocators.optuna.report import StudySection
from rankscope.allocators.proxy.report import ProxySection
from rankscope.allocators.report import ReportSection, allocator_record
from rankscope.allocators.svd.report import PruningSection
from rankscope.display.tables import Table, fmt_int, text
from rankscope.report import render_html, render_markdown, render_terminal
from rankscope.report.sections import DEFAULT, section_of

ROOT = REPO
ALLOCATOR_KEYS = ("scores", "prune_events", "trials", "on_counts", "reallocations", "uniform_ranks")
CUSTOM = "test-sections-custom"


def _edge_ids():
    return [f"{t}@{layer}" for t, layer in RANKS]


def _headed_row(md, head_start):
    """The head cells of the Markdown table whose head row starts with ``head_start``."""
    line = next(ln for ln in md.splitlines() if ln.startswith(f"| {head_start}"))
    return [c.strip() for c in line.strip("|").split("|")]


# ------------------------------------------------------------------------------ the boundary
def test_no_allocator_key_appears_in_the_report_package():
    files = sorted((ROOT / "rankscope" / "report").glob("*.py"))
    assert len(files) >= 6
    found = {f"{f.name}:{n}: {key}" for f in files
             for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
             for key in ALLOCATOR_KEYS if re.search(rf"\b{key}\b", line)}
    assert not found, sorted(found)


@pytest.mark.parametrize("module", ["rankscope/display/tables.py", "rankscope/display/plots.py", "rankscope/allocators/report.py",
                                    "rankscope/allocators/proxy/report.py", "rankscope/allocators/svd/report.py",
                                    "rankscope/allocators/optuna/report.py"])
def test_what_the_allocators_import_does_not_import_the_report(module):
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    names = [(node.level, node.module or "") for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    names += [(0, a.name) for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    assert not [n for lv, n in names if n.startswith("rankscope.report") or (lv == 2 and n.startswith("report"))]
    leaf = {"rankscope/display/tables.py": {"rankscope.redact"}, "rankscope/display/plots.py": {"rankscope.display.tables"}}
    if module in leaf:  # the display layer imports nothing of rankscope but these
        assert {n for lv, n in names if n.startswith("rankscope")} == leaf[module]


def test_every_built_in_family_declares_its_section():
    expected = {"proxy-static": ProxySection, "proxy-dynamic": ProxySection, "salient": PruningSection,
                "adalora": PruningSection, "optuna": StudySection}
    for name, cls in expected.items():
        assert isinstance(section_of({"allocator": name}), cls), name
    assert section_of({"allocator": "uniform"}) is Allocator.report_section
    assert type(Allocator.report_section) is ReportSection


# ------------------------------------------------------------------------------ a custom section
class CustomSection(ReportSection):
    terminal_keys = ("custom",)

    def tables(self, result):
        rec = allocator_record(result)
        return [Table("custom", "Custom decisions", ["decision", "count"],
                      [[text(rec.get("label")), fmt_int(rec.get("count"))]]),
                Table("custom_detail", "Custom detail", ["x"], [["only in full reports"]])]

    def edge_columns(self, result):
        return Table("custom_edges", "Custom per edge", ["id", "custom col"],
                     [[eid, f"c{i}"] for i, eid in enumerate(_edge_ids()[:2])], "custom note")

    def figures(self, result):
        import plotly.graph_objects as go
        return [rankscope.display.plots.layout(go.Figure(go.Bar(x=["a"], y=[1])), "custom figure title")]


class CustomAllocator(Allocator):
    name = CUSTOM
    report_section = CustomSection()

    def propose(self, ctx):
        raise NotImplementedError


@pytest.fixture
def custom(result, registered):  # noqa: F811
    registered(ALLOCATORS, CUSTOM, CustomAllocator)  # unregistered after the test
    return dict(copy.deepcopy(result), allocator=CUSTOM,
                extras={**result["extras"], "allocator": {"label": "<b>mine</b>", "count": 12345}})


def test_a_section_registered_at_run_time_reaches_every_report(custom):
    md, page, term = render_markdown(custom), render_html(custom), render_terminal(custom)
    assert "## Custom decisions" in md and _md_row(md, "&lt;b&gt;mine&lt;/b&gt;")[1] == "12,345"
    assert "## Custom detail" in md and "| only in full reports |" in md
    assert "<h2>Custom decisions</h2>" in page and "<td>&lt;b&gt;mine&lt;/b&gt;</td><td>12,345</td>" in page
    assert "<b>mine</b>" not in md and "<b>mine</b>" not in page
    assert "custom figure title" in page
    assert "Custom decisions" in term and "Custom detail" not in term  # terminal_keys only
    # the section's tables sit after the metrics, before the ranks
    order = [md.index(f"## {t}") for t in ("Metrics", "Planted-task metrics", "Custom decisions",
                                           "Custom detail", "Ranks by block × edge type", "Edges", "Timing")]
    assert order == sorted(order)
    # its per-edge columns join the Edges table on the id; edges it has no row for show a dash
    assert _headed_row(md, "id |") == ["id", "kind", "type", "layer", "rank", "params", "uniform rank", "custom col"]
    assert "| query@0 | lora | query | 0 | 4 | 128 | 2 | c0 |" in md
    assert "| value@0 | lora | value | 0 | 2 | 64 | 2 | c1 |" in md
    assert "| R1@0 | shortcut | R1 | 0 | 0 | 0 | 2 | — |" in md
    assert "_custom note_" in md and "grad_norm" not in md


# ------------------------------------------------------------------------------ unknown allocators
def test_a_result_from_an_unknown_allocator_renders_its_generic_part(result):  # noqa: F811
    result["allocator"] = "not-installed-anywhere"  # its record still holds a proxy's keys
    assert section_of(result) is DEFAULT
    md, page, term = render_markdown(result), render_html(result), render_terminal(result)
    for out in (md, term):
        assert "Budget" in out and "Ranks by block × edge type" in out and "Timing" in out
        assert "Proxy scoring" not in out
    assert _headed_row(md, "id |") == ["id", "kind", "type", "layer", "rank", "params", "uniform rank"]
    assert "| query@0 | lora | query | 0 | 4 | 128 | 2 |" in md and "rank heatmap" in page


def test_an_allocator_that_no_longer_imports_gets_the_default(result, monkeypatch):  # noqa: F811
    def broken(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(ALLOCATORS, "get", broken)
    assert section_of(result) is DEFAULT
    assert "Proxy scoring" not in render_markdown(result) and "| budget given (r2) | 512 |" in render_markdown(result)
    for odd in ({}, {"allocator": None}, {"allocator": 3}):
        assert section_of(odd) is DEFAULT


# ------------------------------------------------------------------------------ the built-in families
def test_proxy_static_result_renders_its_scoring_table(result):  # noqa: F811
    md, term = render_markdown(result), render_terminal(result)
    assert "## Proxy scoring" in md and _md_row(md, "allocating proxy") == ["allocating proxy", "grad_norm"]
    assert _md_row(md, "scoring batches (K)")[1] == "8" and "reallocations" not in md
    assert "Proxy scoring" in term and re.search(r"^scoring time / training time\s+1\.0%$", term, re.M)
    assert md.index("## Proxy scoring") < md.index("## Ranks by block")


def test_proxy_dynamic_result_shows_on_counts_and_per_rank_sums(result):  # noqa: F811
    rec = result["extras"]["allocator"]
    result["allocator"] = "proxy-dynamic"
    rec["scores"]["spectral"] = {eid: [0.5, 0.25, None] for eid in _edge_ids()}
    rec["reallocations"] = [{"step": s, "on": []} for s in (10, 20, 30)]
    rec["on_counts"] = {eid: i % 4 for i, eid in enumerate(_edge_ids())}
    rec["nan_edges"] = {"fisher": ["S2@1", "R1@0"]}
    md = render_markdown(result)
    assert _headed_row(md, "id |")[-3:] == ["grad_norm score", "spectral score", "times on (of 3)"]
    assert "| query@0 | lora | query | 0 | 4 | 128 | 2 | 0.4000 | 0.7500 | 0 |" in md
    assert "| R1@0 | shortcut | R1 | 0 | 0 | 0 | 2 | 0.0000 | 0.7500 | 2 |" in md
    assert "_per-rank proxies show Σ_k v_k_" in md
    assert _md_row(md, "reallocations") == ["reallocations", "3"]
    assert _md_row(md, "non-finite scores (fisher)") == ["non-finite scores (fisher)", "S2@1, R1@0"]


def test_a_failed_proxy_run_without_a_record_renders_no_family_table(result):  # noqa: F811
    result.update(status="failed", failure={"reason": "out of memory"}, extras={})
    md = render_markdown(result)
    assert "Proxy scoring" not in md and "> **Run failed:** out of memory" in md
    assert _headed_row(md, "id |")[-1] == "uniform rank"


@pytest.mark.parametrize("name", ["salient", "adalora"])
def test_svd_result_renders_its_pruning_table(result, name):  # noqa: F811
    windowed = name == "salient"
    event = {"step": 40, "budget": 3000, "params": 2980, "triplets": 93}
    if windowed:
        event.update(window=10, graph_edges=12, seconds=0.031)
    rec = {"init_rank": 8, "init_params": 4096, "prune_events": [event, dict(event, step=1200)]}
    rec.update({"compacted_at": 1200} if windowed else {"mask_events": 160})
    result.update(allocator=name, extras={"allocator": rec})
    md, page = render_markdown(result), render_html(result)
    title = "Pruning from r0 = 8 (4,096 parameters)" + ("; compacted after step 1,200" if windowed else "")
    assert f"## {title}" in md and f"<h2>{title}</h2>" in page
    tail = "10 | 12 | 0.03 |" if windowed else "— | — | — |"
    assert f"| 40 | 3,000 | 2,980 | 93 | {tail}" in md and f"| 1,200 | 3,000 | 2,980 | 93 | {tail}" in md
    assert ("_2 of 160 masking steps shown_" in md) is not windowed
    assert "Pruning" not in render_terminal(result) and "Proxy scoring" not in md


def _optuna(result, multi):
    trials = [{"number": 0, "state": "complete", "value": 0.70, "params_used": 480, "warm_start": "uniform",
               "last_step": 60, "reason": None, "duration_s": 3.14},
              {"number": 1, "state": "fail", "value": None, "params_used": None, "warm_start": None,
               "last_step": 12, "reason": "loss became NaN", "duration_s": 0.5},
              {"number": 2, "state": "complete", "value": 0.74, "params_used": 400, "warm_start": None,
               "last_step": 60, "reason": None, "duration_s": 3.0}]
    rec = {"study_name": "rankscope", "storage": "sqlite:///run/study.db", "sampler": "tpe", "pruner": "median",
           "units": "edge", "n_units": 8, "trial_steps": 60, "counts": {"complete": 2, "pruned": 0, "fail": 1},
           "best_trial": 2, "trials": trials, "best_so_far": [{"number": 0, "best": 0.70}, {"number": 2, "best": 0.74}],
           "uniform_ranks": {eid: 2 for eid in _edge_ids()[1:]}}  # query@0 unlisted: rank 0
    if multi:
        rec["pareto"] = [{"number": 2, "value": 0.74, "params_used": 400}]
    result.update(allocator="optuna", baseline={}, extras={"allocator": rec})
    return result


@pytest.mark.parametrize("multi", [False, True])
def test_optuna_result_renders_its_study_and_the_untrained_uniform(result, multi):  # noqa: F811
    result = _optuna(result, multi)
    md, page = render_markdown(result), render_html(result)
    assert ("## Optuna study 'rankscope' (sqlite:///run/study.db): sampler tpe, pruner median, 8 edge units, "
            "60 steps per trial; 2 complete, 1 fail; best trial 2, retrained with the full schedule") in md
    assert "| 0 | complete | 0.7000 | 480 | uniform | 60 | — | 3.14 |" in md
    assert "| 1 | fail | — | — | — | 12 | loss became NaN | 0.50 |" in md
    # no trained baseline: the study's uniform allocation is shown, and nothing claims it was trained
    assert "## Ranks by block × edge type: uniform at the same budget" in md
    assert md.count("_not trained: the allocator's record of it_") == 1
    assert "| query@0 | lora | query | 0 | 4 | 128 | 0 |" in md and "uniform baseline" not in md
    assert "uniform final" not in md and "rank per edge type" in page
    assert "per trial (short schedule)" in page and ("Pareto front" in page) is multi


def test_the_trained_baseline_wins_over_the_studys_record(result):  # noqa: F811
    trained = copy.deepcopy(result["baseline"])
    result = _optuna(result, multi=False)
    result["baseline"] = trained
    md = render_markdown(result)
    assert "| query@0 | lora | query | 0 | 4 | 128 | 2 |" in md and "not trained" not in md


def test_user_text_in_a_family_table_is_escaped(result):  # noqa: F811
    result["extras"]["allocator"]["proxy"] = "<img src=x onerror=alert(1)>"
    md, page = render_markdown(result), render_html(result)
    for out in (md, page):
        assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
