"""`rankscope compare`: runs grouped by allocator, paired by seed, a verdict, and refusals."""

import json

import pytest

from conftest import run_cli_out
from rankscope.compare import summarize_pairs, verdict

TINY = 'model = "tiny-bert"\nmax_steps = 2\n[planted]\nn_train = 32\nn_dev = 16\nseq_len = 8\nn_plants = 2\n'


def _search(capsys, root, allocator, seed, *extra):
    out = root / f"{allocator}-{seed}{'-'.join(extra)}"
    options = ["-o", "n_batches=1"] if allocator == "proxy-static" else []
    code, _, err = run_cli_out(capsys, "search", "--config", root / "c.toml", "--allocator", allocator,
                               "--seed", seed, "--quiet", "--out", out, *options, *extra)
    assert code == 0, err
    return out


def test_compare_pairs_by_seed_and_gives_a_verdict(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(TINY)
    dirs = [_search(capsys, tmp_path, a, s) for a in ("uniform", "proxy-static") for s in (0, 1, 2)]
    code, out, err = run_cli_out(capsys, "compare", *dirs, "--json")
    assert code == 0, err
    got = json.loads(out)
    row = next(g for g in got["groups"] if g["allocator"] == "proxy-static")
    scale = 100.0 if got["unit"] == "points" else 1.0
    finals = {(json.loads((d / "result.json").read_text())["allocator"], s): json.loads(
        (d / "result.json").read_text())["metrics"]["final"]["r2"] for d, s in zip(dirs, [0, 1, 2] * 2)}
    expected = [(finals["proxy-static", s] - finals["uniform", s]) * scale for s in (0, 1, 2)]
    assert row["paired"]["n"] == 3 and row["paired"]["per_seed"] == pytest.approx(expected)
    assert row["paired"]["low"] <= row["paired"]["mean"] <= row["paired"]["high"]
    code, text, _ = run_cli_out(capsys, "compare", *dirs)
    assert code == 0 and "95 % interval" in text
    assert any(w in text for w in ("beats uniform", "trails uniform", "no detectable difference"))
    # another schedule is refused, naming the setting
    other = _search(capsys, tmp_path, "uniform", 3, "--max-steps", "3")
    code, _, err = run_cli_out(capsys, "compare", dirs[0], dirs[3], other)
    assert code == 2 and "their max_steps differs (2 vs 3)" in err
    code, _, err = run_cli_out(capsys, "compare", *dirs[3:])
    assert code == 2 and "no uniform runs among the 3 given" in err


def test_verdicts_follow_the_interval_and_the_metric_direction():
    better = summarize_pairs([81, 82, 83, 84], [80, 80.5, 81, 82], greater_is_better=True)
    assert better["low"] > 0
    assert verdict("salient", "uniform", better, True).startswith("salient beats uniform by 1.62 ± ")
    noisy = summarize_pairs([80, 82, 79], [81, 80, 80], greater_is_better=True)
    assert verdict("salient", "uniform", noisy, True).startswith("no detectable difference")
    lower = summarize_pairs([1.0, 1.1, 1.2], [1.2, 1.3, 1.4], greater_is_better=False)  # NLL: lower wins
    assert lower["mean"] == pytest.approx(0.2) and lower["low"] > 0
    two = summarize_pairs([1.0, 2.0], [0.0, 0.5], greater_is_better=True)
    assert two["low"] is None and "at least 3 paired seeds" in verdict("a", "uniform", two, False)
