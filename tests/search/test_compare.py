"""`rankscope compare`: runs grouped by allocator, paired by seed, a verdict, and refusals."""

import json
import re

import numpy as np
import pytest
from conftest import run_cli_out

from rankscope.errors import InputError
from rankscope.search.compare import summarize_pairs, verdict
from rankscope.search.power import paired_power

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
    power = row["power"]
    assert power["effect"] == (1.0 if scale == 100.0 else 0.01)
    assert power["power"] == pytest.approx(paired_power(power["effect"], row["paired"]["std"], 3))
    code, text, _ = run_cli_out(capsys, "compare", *dirs)
    assert code == 0 and "95 % interval" in text
    assert f"proxy-static vs uniform: power {power['power']:.2f} at {power['effect']:g} " in text
    code, text, _ = run_cli_out(capsys, "compare", *dirs, "--effect", "50")
    assert "power" in text and " at 50 " in text
    code, _, err = run_cli_out(capsys, "compare", *dirs, "--effect", "0")
    assert code == 2 and "--effect must be a positive size" in err
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
    one = summarize_pairs([1.0], [0.0], greater_is_better=True)
    assert one["low"] is None and "at least 2 paired seeds" in verdict("a", "uniform", one, False)


def test_small_samples_get_a_t_interval_not_the_min_max_of_a_bootstrap():
    # d = 5, 4, 5: mean 4.667, sd 0.577; t(0.975, 2) = 4.303 → ± 1.434. A percentile bootstrap of
    # three values would return [4, 5], the min and max, which covers far less than 95 %
    three = summarize_pairs([55, 56, 56], [50, 52, 51], greater_is_better=True)
    assert three["method"] == "t"
    assert (three["low"], three["high"]) == (pytest.approx(3.2324, abs=1e-3), pytest.approx(6.1009, abs=1e-3))
    two = summarize_pairs([1.0, 2.0], [0.0, 0.5], greater_is_better=True)  # n = 2: t(0.975, 1) = 12.71
    assert two["low"] < 0 < two["high"] and "95 % t interval" in verdict("a", "uniform", two, False)
    many = summarize_pairs(np.arange(12.0) + 1, np.zeros(12), greater_is_better=True)
    assert many["method"] == "bootstrap" and 1 < many["low"] < many["mean"] < many["high"] < 12
    assert "95 % bootstrap interval" in verdict("a", "uniform", many, False)


# ------------------------------------------------------------------------------- rankscope report
@pytest.fixture
def uniform_run(tmp_path, capsys):
    """One real (tiny) uniform run: the others are its clones, so no test trains six models."""
    (tmp_path / "c.toml").write_text(TINY)
    return _search(capsys, tmp_path, "uniform", 0)


def _clone(run, name, allocator, seed, r2, **result):
    """A copy of ``run`` as ``allocator``'s run on ``seed`` with final dev r2 ``r2`` (and ``result``
    keys replaced), beside it: paired comparisons whose numbers the test chooses."""
    out = run.parent / name
    out.mkdir()
    (out / "config.toml").write_text((run / "config.toml").read_text())
    data = json.loads((run / "result.json").read_text())
    data.update(allocator=allocator, seed=seed, **result)
    data["metrics"]["final"]["r2"] = r2
    (out / "result.json").write_text(json.dumps(data))
    return out


def _experiment(run, allocator="salient", **result):
    """uniform at r2 0.50, 0.52, 0.51 and ``allocator`` at 0.55, 0.56, 0.56 on seeds 0-2: in points,
    paired differences 5, 4, 5, so ``allocator`` beats uniform by 4.67 ± 0.58, t interval [+3.23, +6.10]."""
    ref = [_clone(run, f"u{s}", "uniform", s, v) for s, v in enumerate((0.50, 0.52, 0.51))]
    return ref + [_clone(run, f"a{s}", allocator, s, v, **result) for s, v in enumerate((0.55, 0.56, 0.56))]


def _report(capsys, dirs, out):
    code, _, err = run_cli_out(capsys, "report", *dirs, "--out", out)
    assert code == 0, err
    return (out / "report.md").read_text(), (out / "report.html").read_text()


VERDICT = "beats uniform by 4.67 ± 0.58 points (3 seeds, 95 % t interval [+3.23, +6.10] excludes 0)"


def test_report_has_the_paired_table_and_verdict(uniform_run, tmp_path, capsys):
    dirs = _experiment(uniform_run)
    md, page = _report(capsys, dirs, tmp_path / "report")
    assert "## Runs compared" in md and "## Paired against uniform" in md
    assert "| allocator | seeds | r2 (points) | vs uniform (paired) | 95 % interval |" in md
    assert "| uniform | 0,1,2 | 51.00 ± 1.00 | — | — |" in md
    assert "| salient | 0,1,2 | 55.67 ± 0.58 | +4.67 ± 0.58 | [+3.23, +6.10] |" in md
    assert f"- salient {VERDICT}" in md
    assert "<h2>Paired against uniform</h2>" in page
    assert "<tr><td>salient</td><td>0,1,2</td><td>55.67 ± 0.58</td><td>+4.67 ± 0.58</td><td>[+3.23, +6.10]</td></tr>" \
        in page
    assert f'<ul class="verdicts"><li>salient {VERDICT}</li></ul>' in page
    assert page.index("Paired against uniform") < page.index("<h2>Figures</h2>")
    code, printed, _ = run_cli_out(capsys, "report", *dirs)  # Markdown to stdout: the same report
    assert code == 0 and printed.strip() == md.strip()
    code, terminal, _ = run_cli_out(capsys, "compare", *dirs)  # the terminal shows the same cells
    assert code == 0 and f"salient {VERDICT}" in terminal
    assert re.search(r"^salient\s+0,1,2\s+55\.67 ± 0\.58\s+\+4\.67 ± 0\.58\s+\[\+3\.23, \+6\.10\]$", terminal, re.MULTILINE)


def test_report_of_runs_that_cannot_be_paired_says_why(uniform_run, tmp_path, capsys):
    longer = _clone(uniform_run, "longer", "salient", 0, 0.6)
    (longer / "config.toml").write_text((uniform_run / "config.toml").read_text().replace("max_steps = 2",
                                                                                          "max_steps = 3"))
    md, page = _report(capsys, [uniform_run, longer], tmp_path / "report")
    why = f"no paired comparison: cannot compare {uniform_run} and {longer}: their max_steps differs (2 vs 3)"
    assert "## Paired against uniform\n\n_" + why in md
    assert '<h2>Paired against uniform</h2>\n<p class="note">' + why in page
    assert "## Runs compared" in md and "rank heatmap" in page  # the rest of the report is there
    assert "none recorded" not in md and "verdicts" not in page
    code, printed, _ = run_cli_out(capsys, "report", uniform_run)
    assert code == 0 and "_no paired comparison: compare needs at least two run directories" in printed


def test_report_escapes_allocator_and_run_names(uniform_run, tmp_path, capsys):
    evil = "<script>alert(1)</script>"
    md, page = _report(capsys, _experiment(uniform_run, evil, run_name=evil), tmp_path / "report")
    for out in (md, page):
        assert evil not in out
        assert f"&lt;script&gt;alert(1)&lt;/script&gt; {VERDICT}" in out
    assert "<tr><td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td>0,1,2</td>" in page


def _with_config(run, edit):
    """``run`` with its config.toml rewritten by ``edit`` (a str → str function)."""
    path = run / "config.toml"
    path.write_text(edit(path.read_text()))
    return run


def test_one_allocator_at_other_settings_forms_separate_groups(uniform_run, tmp_path, capsys):
    dirs = _experiment(uniform_run)  # uniform 0.50 / 0.52 / 0.51, salient 0.55 / 0.56 / 0.56, lr 0.003
    at_lr = lambda lr: lambda config: re.sub(r"(?m)^lr = .*$", f"lr = {lr}", config)  # noqa: E731
    fast = [_with_config(_clone(uniform_run, f"fast{s}", "uniform", s, v), at_lr(0.01))
            for s, v in enumerate((0.40, 0.41, 0.42))]
    table = "[allocator_options]\n"
    option = lambda config: config.replace(table, table + 'oam_scope = "global"\n')  # noqa: E731
    scoped = [_with_config(_clone(uniform_run, f"g{s}", "salient", s, v), option) for s, v in enumerate((0.6,) * 3)]
    # the reference allocator ran at two lrs: the message lists both groups and how to pick one
    code, _, err = run_cli_out(capsys, "compare", *dirs, *fast)
    assert code == 2 and "the uniform runs differ in their method settings, so they form 2 groups " \
                         "(uniform[lr=0.003], uniform[lr=0.01])" in err and "--reference 'uniform[lr=0.003]'" in err
    code, out, err = run_cli_out(capsys, "compare", *dirs, *fast, *scoped, "--reference", "uniform[lr=0.003]", "--json")
    assert code == 0, err
    got = {g["group"]: g for g in json.loads(out)["groups"]}
    assert set(got) == {"uniform[lr=0.003]", "uniform[lr=0.01]", "salient[oam_scope=default]",
                        "salient[oam_scope=global]"}
    assert got["salient[oam_scope=default]"]["allocator"] == "salient"
    assert got["salient[oam_scope=default]"]["verdict"] == f"salient[oam_scope=default] {VERDICT}".replace(
        "beats uniform", "beats uniform[lr=0.003]")
    assert got["uniform[lr=0.01]"]["paired"]["per_seed"] == pytest.approx([-10.0, -11.0, -9.0])
    assert got["salient[oam_scope=global]"]["paired"]["mean"] == pytest.approx(9.0)
    # the same settings on the same seed twice is still refused
    twin = _with_config(_clone(uniform_run, "twin", "salient", 0, 0.7), option)
    code, _, err = run_cli_out(capsys, "compare", *dirs, *scoped, twin)
    assert code == 2 and "two salient[oam_scope=global] runs have seed 0 and the same method settings" in err


def test_a_loss_below_one_keeps_its_unit_and_lower_is_better(uniform_run):
    """Dev NLL per token (GSM8K on SmolLM2: about 0.85) is not a fraction: no points, and the sign
    of the paired difference follows the direction (lower NLL is better)."""
    from rankscope.search.compare import compare

    def as_nll(run, values):
        for d, v in zip(run, values):
            data = json.loads((d / "result.json").read_text())
            data["metrics"].update(primary="nll", greater_is_better=False)
            data["metrics"]["final"]["nll"] = v
            (d / "result.json").write_text(json.dumps(data))
        return run

    ref = as_nll([_clone(uniform_run, f"u{s}", "uniform", s, 0.0) for s in range(3)], (0.85, 0.86, 0.84))
    other = as_nll([_clone(uniform_run, f"a{s}", "proxy-static", s, 0.0) for s in range(3)], (0.87, 0.87, 0.86))
    got = compare(ref + other)
    row = next(g for g in got["groups"] if g["allocator"] == "proxy-static")
    assert got["unit"] == "nll" and got["effect"] == 0.01
    assert row["paired"]["mean"] == pytest.approx(-0.0167, abs=1e-4)  # worse: higher NLL
    assert row["verdict"].startswith("proxy-static trails uniform by 0.0167 ± 0.0058 (3 seeds")
    assert " at 0.01 nll " in row["power"]["line"]


def test_runs_in_different_spaces_pair_at_the_same_parameters(tmp_path, capsys):
    """An allocation over the shortcut space against uniform LoRA in the lora space, at the same
    parameter count (--budget-space lora): a fair pair, named by space where one allocator has both."""
    (tmp_path / "c.toml").write_text(TINY)
    lora = [_search(capsys, tmp_path, "uniform", s, "--space", "lora", "--budget", "r2") for s in (0, 1)]
    short = [_search(capsys, tmp_path, "uniform", s, "--space", "shortcuts", "--budget", "r2", "--budget-space", "lora")
             for s in (0, 1)]
    params = {json.loads((d / "result.json").read_text())["budget"]["params"] for d in lora + short}
    assert len(params) == 1  # the same parameters, counted in the lora space
    code, out, err = run_cli_out(capsys, "compare", *lora, *short, "--reference", "uniform[space=lora]", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert [g["group"] for g in got["groups"]] == ["uniform[space=lora]", "uniform[space=shortcuts]"]
    code, text, _ = run_cli_out(capsys, "compare", *lora, *short, "--reference", "uniform[space=lora]")
    assert "spaces uniform[space=lora]: lora, uniform[space=shortcuts]: shortcuts" in text
    # the same rN counted in each run's own space is a different budget: refused
    own = _search(capsys, tmp_path, "uniform", 2, "--space", "shortcuts", "--budget", "r2")
    code, _, err = run_cli_out(capsys, "compare", lora[0], own)
    assert code == 2 and "their budget differs" in err


def _run(d, task, seed, params, spec="planted"):
    return {"dir": d, "result": {"task": task, "model": "minilm", "seed": seed,
                                 "budget": {"spec": spec, "params": params}}, "config": {}}


def test_planted_budgets_are_checked_within_each_seed_only():
    """``--budget planted`` is the teacher's parameter count, drawn with the seed: runs of
    different seeds pair (within their seed), runs of one seed must share it."""
    from rankscope.search.compare import check_comparable

    check_comparable([_run("u0", "planted", 0, 73_728), _run("a0", "planted", 0, 73_728),
                      _run("u1", "planted", 1, 61_440), _run("a1", "planted", 1, 61_440)])
    with pytest.raises(InputError, match="both are seed 1 of --task planted, yet their budget differs"):
        check_comparable([_run("u1", "planted", 1, 61_440), _run("a1", "planted", 1, 73_728)])
    with pytest.raises(InputError, match="their budget differs"):  # an explicit budget is the user's choice
        check_comparable([_run("u0", "planted", 0, 82_944, "r2"), _run("u1", "planted", 1, 41_472, "r1")])
    with pytest.raises(InputError, match="their budget differs"):
        check_comparable([_run("u0", "mrpc", 0, 82_944, "r2"), _run("u1", "mrpc", 1, 41_472, "r1")])
