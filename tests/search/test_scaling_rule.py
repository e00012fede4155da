"""The scaling rule travels with a run: result.json records it, compare refuses to pair runs
trained under different rules, and a mixed-rank allocation under alpha/r is warned about."""

import json
import logging
import re

from conftest import run_cli_out

from rankscope import Allocation, build_space, load_model
from rankscope.allocators import Plan
from rankscope.search.pipeline import warn_if_ranks_are_handicapped

TINY = 'model = "tiny-bert"\nmax_steps = 2\n[planted]\nn_train = 32\nn_dev = 16\nseq_len = 8\nn_plants = 2\n'


def _run(capsys, root, name, *flags):
    out = root / name
    code, _, err = run_cli_out(capsys, "search", "--config", root / "c.toml", "--quiet", "--out", out, *flags)
    assert code == 0, err
    return out


def test_result_records_the_rule_and_compare_refuses_mixed_rules(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(TINY)
    rs_run = _run(capsys, tmp_path, "u-rslora")  # the planted task's default: rslora
    lora_run = _run(capsys, tmp_path, "u-lora", "--scaling", "lora", "--seed", "1")
    assert json.loads((rs_run / "result.json").read_text())["scaling"] == "rslora"
    assert json.loads((lora_run / "result.json").read_text())["scaling"] == "lora"
    code, _, err = run_cli_out(capsys, "compare", rs_run, lora_run)
    assert code == 2 and re.search(r"their scaling differs \('(rslora' vs 'lora|lora' vs 'rslora)'\)", err), err


def _plan(ranks, form="lora", hook=None):
    model, _ = load_model("tiny-bert", 2)
    space = build_space("lora", model)
    alloc = Allocation(space, {e.id: ranks[i % len(ranks)] for i, e in enumerate(space.edges)}, form)
    return Plan(alloc, hook)


def test_mixed_ranks_under_alpha_over_r_are_warned_about_once(caplog):
    mixed, uniform, rounded = _plan([1, 4]), _plan([2]), _plan([3, 4])
    with caplog.at_level(logging.WARNING, logger="rankscope.search.pipeline"):
        assert warn_if_ranks_are_handicapped(mixed, "lora")
    assert len(caplog.records) == 1 and "mixes ranks 1 to 4 under --scaling lora" in caplog.text
    assert "--scaling rslora" in caplog.text
    assert not warn_if_ranks_are_handicapped(mixed, "rslora")  # the rank-stable rule
    assert not warn_if_ranks_are_handicapped(uniform, "lora")  # one rank everywhere
    assert not warn_if_ranks_are_handicapped(rounded, "lora")  # a uniform budget's rounding
    assert not warn_if_ranks_are_handicapped(_plan([1, 4], form="svd"), "lora")  # fixed alpha/r0
    assert not warn_if_ranks_are_handicapped(_plan([1, 4], hook=object()), "lora")  # a supernet: one rank at attach
