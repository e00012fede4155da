"""`rankscope search` end to end on tiny models: run directory, config replay, bad input.

Every test that takes the ``rankscope`` fixture runs twice: with the CLI called in-process (the
fast suite) and through a real ``python -m rankscope.cli`` process (marked ``slow``)."""

import json
import re
import subprocess
import sys

import pytest

import rankscope as rs
from rankscope.allocators import ALLOCATORS, uniform_allocation


def subprocess_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "rankscope.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def in_process_cli(*args):
    """The same call through ``rankscope.cli.main`` in this process, with the same result type."""
    import contextlib
    import io

    from rankscope.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(map(str, args)))
            code = 0
        except SystemExit as exc:
            code = exc.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module", params=["in-process", pytest.param("subprocess", marks=pytest.mark.slow)])
def rankscope(request):
    """Run the ``rankscope`` command line: ``rankscope(*args) -> CompletedProcess``."""
    return in_process_cli if request.param == "in-process" else subprocess_cli


@pytest.fixture(scope="module")
def tiny_planted_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    path.write_text('model = "tiny-bert"\nmax_steps = 8\neval_every = 4\n'
                    "[planted]\nn_train = 64\nn_dev = 32\nseq_len = 12\nn_plants = 4\n")
    return path


@pytest.fixture(scope="module")
def run_dir(rankscope, tiny_planted_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "r1"
    p = rankscope("search", "--config", tiny_planted_config, "--out", out, "--quiet", "--baseline", "uniform")
    assert p.returncode == 0, p.stderr
    return out


def test_run_directory_is_complete(run_dir):
    assert sorted(f.name for f in run_dir.iterdir()) == [
        "adapter", "allocation.json", "config.toml", "report.html", "report.md", "result.json"]
    assert not [f for f in run_dir.parent.iterdir() if f.name.startswith(".")]  # no staging left behind
    result = json.loads((run_dir / "result.json").read_text())
    for key in ("schema", "rankscope_version", "space", "allocator", "model", "task", "seed", "budget",
                "allocation", "metrics", "baseline", "timing", "history"):
        assert key in result
    assert result["allocation"]["params"] <= result["budget"]["params"]
    planted = result["extras"]["planted"]
    for key in ("gap_closed", "r2", "planted_recall", "rank_spearman", "calibration_ratio"):
        assert key in planted
    assert "uniform" in result["baseline"]
    assert "rank heatmap" in (run_dir / "report.html").read_text()
    # the trained adapters load back onto a fresh base model and match the allocation
    import rankscope as rs
    from rankscope.harness.loop import seed_everything

    seed_everything(0)  # tiny-bert is random: the search seeds before loading it
    model, _ = rs.load_model("tiny-bert")
    handle = rs.load_adapters(model, run_dir / "adapter")
    assert handle.allocation.ranks == json.loads((run_dir / "allocation.json").read_text())["ranks"]


def test_config_toml_repeats_the_run(rankscope, run_dir, tmp_path):
    out = tmp_path / "again"
    p = rankscope("search", "--config", run_dir / "config.toml", "--out", out, "--quiet")
    assert p.returncode == 0, p.stderr
    a, b = (json.loads((d / "result.json").read_text()) for d in (run_dir, out))
    assert a["allocation"] == b["allocation"]
    assert a["metrics"] == b["metrics"]


def test_show_and_report(rankscope, run_dir, tmp_path):
    p = rankscope("show", run_dir)
    assert p.returncode == 0 and "shortcuts" in p.stdout
    assert "status: completed" in p.stdout and "Ranks by block × edge type" in p.stdout
    printed = rankscope("report", run_dir, run_dir)  # Markdown to stdout
    assert printed.returncode == 0, printed.stderr
    rows = [ln for ln in printed.stdout.splitlines() if ln.startswith("| ") and not ln.startswith("| run |")]
    assert len(rows) == 2 and all("| shortcuts | uniform | planted |" in r for r in rows), printed.stdout
    p = rankscope("report", run_dir, run_dir, "--out", tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "report.md").read_text().strip() == printed.stdout.strip()
    assert "rank heatmap" in (tmp_path / "report.html").read_text()


def _registered(kind):
    from rankscope.scoring import PROXIES
    from rankscope.tasks import task_names

    return {"spaces": rs.SPACES.names, "allocators": ALLOCATORS.names, "proxies": PROXIES.names,
            "models": rs.MODELS.names, "tasks": task_names}[kind]()


# an unregistered name where the CLI takes one of each kind, and the start of its refusal
UNREGISTERED = {
    "spaces": (["show-space", "nope-xyz", "--model", "tiny-bert"], "unknown search space 'nope-xyz'"),
    "allocators": (["search", "--model", "tiny-bert", "--allocator", "nope-xyz"], "unknown allocator 'nope-xyz'"),
    "proxies": (["search", "--model", "tiny-bert", "--allocator", "proxy-static", "--proxy", "nope-xyz"],
                "unknown proxy 'nope-xyz'"),
    "tasks": (["search", "--model", "tiny-bert", "--task", "nope-xyz"], "unknown task 'nope-xyz'"),
    "models": (["show-space", "lora", "--model", "nope-xyz"], "cannot load model 'nope-xyz'"),
}


@pytest.mark.parametrize("kind", sorted(UNREGISTERED))
def test_cli_lists_exactly_the_registered_names_and_refuses_others(kind, capsys, tmp_path):
    """`rankscope ls KIND` prints the registry's names, one per line; a name that is not registered
    exits 2, without a traceback, with a message that lists every valid name."""
    from conftest import run_cli_out

    code, out, err = run_cli_out(capsys, "ls", kind)
    assert code == 0, err
    listed = out.split()
    assert listed == _registered(kind) and len(listed) >= 3
    if kind == "tasks":
        assert {"planted", "mrpc", "cola", "sst2", "rte", "stsb", "qnli", "qqp", "mnli", "custom"} <= set(listed)
    argv, message = UNREGISTERED[kind]
    if argv[0] == "search":
        argv = [*argv, "--quiet", "--out", tmp_path / "r"]
    code, out, err = run_cli_out(capsys, *argv)
    assert code == 2, (code, err[-2000:])
    assert message in err and "Traceback" not in err
    missing = [n for n in listed if not re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w.-])", err)]
    assert missing == [], f"the refusal must list every valid name; it lacks {missing}"
    assert not (tmp_path / "r").exists()


def test_names_registered_at_run_time_are_listed_and_accepted(capsys, monkeypatch):
    from conftest import run_cli_out

    from rankscope.allocators.uniform import UniformAllocator

    monkeypatch.setattr(rs.SPACES, "_items", dict(rs.SPACES._items))  # forgotten after this test
    monkeypatch.setattr(ALLOCATORS, "_items", dict(ALLOCATORS._items))
    rs.register_space("test-cli-qv", lambda model, **kw: rs.build_space("lora-qv", model, **kw))
    ALLOCATORS.register("test-cli-uniform", UniformAllocator)
    for kind, name in (("spaces", "test-cli-qv"), ("allocators", "test-cli-uniform")):
        code, out, err = run_cli_out(capsys, "ls", kind)
        assert code == 0 and name in out.split() and out.split() == _registered(kind), err
    code, out, err = run_cli_out(capsys, "show-space", "test-cli-qv", "--model", "tiny-bert")
    assert code == 0, err
    assert "4 edges (4 lora, 0 shortcut)" in out and "value@1" in out


@pytest.mark.parametrize("args,needle", [
    (["--task", "nope"], "unknown task 'nope'"),
    (["--allocator", "nope"], "unknown allocator 'nope'"),
    (["--space", "nope"], "unknown search space 'nope'"),
    (["--model", "no-such-model-xyz"], "cannot load model"),
    (["--max-steps", "0"], "--max-steps must be a positive integer"),
    (["--task", "mrpc", "--data-dir", "/no/such/dir"], "/no/such/dir"),
    (["--budget", "lots"], "does not parse"),
    (["--scaling", "sqrt"], "unknown scaling 'sqrt'"),
    (["--allocator", "salient", "--svd-alpha", "-1"], "--svd-alpha must be a positive number"),
])
def test_bad_input_exits_2_and_leaves_nothing(rankscope, args, needle, tmp_path):
    out = tmp_path / "out"
    p = rankscope("search", "--model", "tiny-bert", "--out", out, "--quiet", *args)
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert needle in p.stderr and "Traceback" not in p.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_config_with_unknown_keys(rankscope, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('model = "tiny-bert"\nlearning_rate = 3\n')
    p = rankscope("search", "--config", cfg, "--out", tmp_path / "o")
    assert p.returncode == 2 and "unknown keys ['learning_rate']" in p.stderr


def test_existing_out_without_overwrite(rankscope, run_dir, tiny_planted_config):
    before = (run_dir / "result.json").read_text()
    p = rankscope("search", "--config", tiny_planted_config, "--out", run_dir)
    assert p.returncode == 2 and "already exists" in p.stderr
    assert (run_dir / "result.json").read_text() == before


def test_uniform_allocation_fills_levels_in_order():
    from conftest import make_tiny

    space = rs.build_space("shortcuts", make_tiny("bert"), max_rank=8)
    b = rs.Budget.parse("r2", space)
    assert uniform_allocation(space, b).ranks == rs.Allocation.uniform(space, 2).ranks
    mid = rs.Budget(space.uniform_cost(2) + space.uniform_cost(1) // 2, "mid")
    ranks = set(uniform_allocation(space, mid).ranks.values())
    assert ranks == {2, 3}


@pytest.mark.slow  # starts Chromium
def test_report_html_renders_heatmap_in_headless_chromium(run_dir):
    """The offline report draws its figures in a real browser: plotly's inlined JavaScript runs
    and produces the rank heatmap layer (skipped where no Chromium is installed)."""
    import shutil

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    p = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000",
                        "--dump-dom", (run_dir / "report.html").resolve().as_uri()],
                       capture_output=True, text=True, timeout=180)
    assert 'class="heatmaplayer' in p.stdout, p.stderr[-2000:]
    assert p.stdout.count('class="main-svg"') >= 6  # budget, curve, heatmap, comparison (2 svgs each)


def test_planted_target_forms_and_bad_form():
    """Per-token targets are [tokens, L·k] per example, pooled ones [L·k]; anything else is an error."""
    from rankscope.errors import InputError
    from rankscope.harness.data import padding_collate
    from rankscope.tasks.planted import PlantedConfig, build_planted_task

    model, tok = rs.load_model("tiny-bert")
    space = rs.build_space("shortcuts", model)
    small = dict(n_train=16, n_dev=8, seq_len=10, n_plants=2, ranks=(2,), proj_dim=4)
    tokens = build_planted_task(model, tok, space, PlantedConfig(**small), 0, padding_collate(tok))
    pooled = build_planted_task(model, tok, space, PlantedConfig(**small, targets="pooled"), 0, padding_collate(tok))
    n_out = 2 * 4  # tiny models have 2 blocks
    assert tokens.prepared.train[0]["target"].shape == (len(tokens.prepared.train[0]["input_ids"]), n_out)
    assert pooled.prepared.train[0]["target"].shape == (n_out,)
    with pytest.raises(InputError, match="targets must be"):
        build_planted_task(model, tok, space, PlantedConfig(**small, targets="mean"), 0, padding_collate(tok))
