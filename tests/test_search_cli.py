"""`rankscope search` end to end on tiny models: run directory, config replay, bad input."""

import json
import subprocess
import sys

import pytest

import rankscope as rs
from rankscope.allocators import ALLOCATORS, uniform_allocation
from rankscope.cli import names_for


def rankscope(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "rankscope.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_planted_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    path.write_text('model = "tiny-bert"\nmax_steps = 8\neval_every = 4\n'
                    "[planted]\nn_train = 64\nn_dev = 32\nseq_len = 12\nn_plants = 4\n")
    return path


@pytest.fixture(scope="module")
def run_dir(tiny_planted_config, tmp_path_factory):
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


def test_config_toml_repeats_the_run(run_dir, tmp_path):
    out = tmp_path / "again"
    p = rankscope("search", "--config", run_dir / "config.toml", "--out", out, "--quiet")
    assert p.returncode == 0, p.stderr
    a, b = (json.loads((d / "result.json").read_text()) for d in (run_dir, out))
    assert a["allocation"] == b["allocation"]
    assert a["metrics"] == b["metrics"]


def test_show_and_report(run_dir, tmp_path):
    p = rankscope("show", run_dir)
    assert p.returncode == 0 and "shortcuts" in p.stdout
    p = rankscope("report", run_dir, run_dir, "--out", tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "report.html").exists()


def test_cli_choices_equal_registries():
    assert names_for("allocators") == ALLOCATORS.names()
    assert names_for("spaces") == rs.SPACES.names()
    assert names_for("models") == rs.MODELS.names()
    assert {"planted", "mrpc", "cola", "sst2", "rte", "stsb", "qnli", "qqp", "mnli", "custom"} <= set(names_for("tasks"))
    for kind in ("spaces", "allocators", "models", "tasks"):  # fresh processes: same registries
        p = rankscope("ls", kind)
        fresh = subprocess.run([sys.executable, "-c", f"from rankscope.cli import names_for; print(*names_for({kind!r}))"],
                               capture_output=True, text=True)
        assert p.stdout.split() == fresh.stdout.split() and p.stdout.split()


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
def test_bad_input_exits_2_and_leaves_nothing(args, needle, tmp_path):
    out = tmp_path / "out"
    p = rankscope("search", "--model", "tiny-bert", "--out", out, "--quiet", *args)
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert needle in p.stderr and "Traceback" not in p.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_config_with_unknown_keys(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('model = "tiny-bert"\nlearning_rate = 3\n')
    p = rankscope("search", "--config", cfg, "--out", tmp_path / "o")
    assert p.returncode == 2 and "unknown keys ['learning_rate']" in p.stderr


def test_existing_out_without_overwrite(run_dir, tiny_planted_config):
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
    from rankscope.planted import PlantedConfig, build_planted_task

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
