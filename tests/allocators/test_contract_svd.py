"""The in-training SVD-form allocators (``salient``, ``adalora``) through the one harness."""

import pytest
from conftest import run_cli

from rankscope.errors import TrainingError
from rankscope.testing import AllocatorContract, run_small


class TestSalientContract(AllocatorContract):
    allocator = "salient"


class TestAdaLoRAContract(AllocatorContract):
    allocator = "adalora"


class TestSalientCodeMixContract(AllocatorContract):
    allocator = "salient"
    options = {"salience_mix": "code", "compact": False}
    space = "lora"


def test_salient_prunes_on_the_window_schedule_then_compacts():
    result, final, cfg = run_small("salient", {"init_steps": 1, "allocation_steps": 8, "T_i": 2, "T_f": 6})
    rec = result["extras"]["allocator"]
    events = rec["prune_events"]
    assert len(events) >= 2 and events[-1]["step"] == 9  # n_i + n_f: the forced final prune
    budgets = [e["budget"] for e in events]
    assert budgets == sorted(budgets, reverse=True) and budgets[-1] == result["budget"]["params"]
    assert all(e["params"] <= e["budget"] for e in events)
    assert [e["triplets"] for e in events] == sorted((e["triplets"] for e in events), reverse=True)
    assert rec["compacted_at"] == 9
    assert final.params <= result["budget"]["params"] and final.form == "svd"
    # shortcut edges are salience units like any other edge: both kinds are pruned below r0, and kept
    edges = result["allocation"]["edges"]
    kept = {e["kind"] for e in edges if e["rank"] > 0}
    pruned = {e["kind"] for e in edges if e["rank"] < rec["init_rank"]}
    assert result["space"] == "shortcuts" and kept == pruned == {"lora", "shortcut"}
    from rankscope.report.markdown import render_markdown

    md = render_markdown(result)
    assert "Pruning from r0" in md and "compacted after step 9" in md


def test_code_schedule_without_final_prune_misses_the_budget_loudly():
    with pytest.raises(TrainingError, match="stops short of the target"):
        run_small("salient", {"schedule": "code", "final_prune": False, "init_steps": 1, "allocation_steps": 6,
                              "T_i": 2, "T_f": 50})


TINY = ["--model", "tiny-bert", "--max-steps", "12", "--quiet"]


@pytest.mark.parametrize("allocator,option,message", [
    ("salient", "allocation_steps=0.95", "does not fit the run"),
    ("salient", "salience_mix=average", "salience_mix must be one of paper, code"),
    ("salient", "oam_scope=layer", "oam_scope must be one of matrix, global"),
    ("salient", "T_i=300", "T_i <= T_f"),
    ("salient", "init_rank=1", "at or above the initial"),
    ("adalora", "tfinal=0.95", "does not fit the run"),
    ("adalora", "deltaT=0", "deltaT must be an integer >= 1"),
    ("adalora", "gamma=2", "valid options: init_rank, tinit"),
])
def test_bad_schedule_or_option_is_a_clear_error(capsys, tmp_path, allocator, option, message):
    code, err = run_cli(capsys, "search", "--allocator", allocator, "-o", option, *TINY, "--out", tmp_path / "r")
    assert code == 2 and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_salience_mix_flag_reaches_the_allocator(capsys, tmp_path):
    code, err = run_cli(capsys, "search", "--allocator", "salient", "--salience-mix", "code", "--budget", "r1",
                        "-o", "init_rank=4", *TINY, "--out", tmp_path / "r", "--json")
    assert code == 0, err
    import json

    result = json.loads((tmp_path / "r" / "result.json").read_text())
    assert result["extras"]["allocator"]["options"]["salience_mix"] == "code"


def test_adalora_needs_a_scored_step_before_its_final_mask(capsys, tmp_path):
    # 2 steps: tinit 0, tfinal 1, so the final mask would fall on step 1 with no scores yet
    code, err = run_cli(capsys, "search", "--allocator", "adalora", "--model", "tiny-bert", "--max-steps", "2",
                        "--quiet", "--out", tmp_path / "r")
    assert code == 2 and "must be at least 2" in err and "Traceback" not in err, err
