"""Greedy decoding with edges attached (KV cache on and off agree), and GSM8K exact match."""

import json

import pytest
import torch
from conftest import SHARED_DATA

from rankscope.adapters.attach import attach
from rankscope.allocation.allocation import Allocation
from rankscope.errors import InputError
from rankscope.models.loading import load_model
from rankscope.registry import SPACES
from rankscope.tasks.causal.exact_match import GSM8KExactMatch, subset_indices
from rankscope.tasks.causal.features import CausalRow, encode_prompts
from rankscope.tasks.causal.generation import cut_at_stop, greedy_generate

PROMPTS = ["Question: 2+2?\nAnswer:", "Question: What is three times seven, plus one?\nAnswer:",
           "Question: Tom has 5 apples.\nAnswer:"]


@pytest.fixture(scope="module")
def decoder():
    torch.manual_seed(0)
    return load_model("tiny-llama", causal_lm=True)


def _prompt_ids(tok):
    return encode_prompts([CausalRow("prompt_response", prompt=p, response=" x") for p in PROMPTS], tok, 64)


def _attached(model, space_name, form):
    """Every edge of the space at rank 4, with non-zero up weights (a fresh LoRA is the identity)."""
    space = SPACES.get(space_name)(model, max_rank=8)
    handle = attach(model, space, Allocation(space, {e.id: 4 for e in space.edges}, form=form), seed=1)
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for adapter in handle.adapters.values():
            for p in adapter.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return handle


@pytest.mark.parametrize("space_name,form", [("shortcuts", "lora"), ("shortcuts", "svd"), ("lora", "lora")])
def test_cached_and_uncached_decoding_agree_with_every_edge_attached(decoder, space_name, form):
    model, tok = decoder
    ids = _prompt_ids(tok)
    plain = greedy_generate(model, tok, ids, max_new_tokens=12, batch_size=2, stops=())
    handle = _attached(model, space_name, form)
    try:
        kinds = {handle.space.edge(e).kind for e in handle.adapters}
        assert kinds == ({"lora", "shortcut"} if space_name == "shortcuts" else {"lora"})
        cached = greedy_generate(model, tok, ids, max_new_tokens=12, batch_size=2, use_cache=True, stops=())
        uncached = greedy_generate(model, tok, ids, max_new_tokens=12, batch_size=2, use_cache=False, stops=())
        alone = [greedy_generate(model, tok, [row], max_new_tokens=12, stops=())[0] for row in ids]
    finally:
        handle.detach()
    assert cached == uncached  # the KV cache changes nothing, shortcuts included
    assert cached == alone  # nor does left padding in a batch
    assert cached != plain  # the edges act during decoding (this test sees a skipped hook)


def test_stop_strings_cut_the_text():
    assert cut_at_stop("5 + 3 = 8\n#### 8\n\nQuestion: next") == "5 + 3 = 8\n#### 8"
    assert cut_at_stop("no stop here") == "no stop here"


def test_subset_is_seeded_the_same_for_every_run_and_checked():
    assert subset_indices(1319, 5) == subset_indices(1319, 5)
    assert subset_indices(10, -1) == list(range(10)) == subset_indices(10, 10)
    assert len(set(subset_indices(1319, 50))) == 50
    with pytest.raises(InputError, match="holds 10 problems"):
        subset_indices(10, 11)


def test_exact_match_scores_the_generated_answers(decoder, tmp_path):
    model, tok = decoder
    rows = [{"question": f"What is {i} plus 0?", "answer": f"{i} + 0 = {i}\n#### {i}"} for i in range(6)]
    for name in ("train", "test"):
        (tmp_path / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    scorer = GSM8KExactMatch(tok, 4, data_dir=tmp_path, max_new_tokens=6, batch_size=3)
    metrics = scorer(model)
    problems = scorer.last["problems"]
    assert metrics["test_problems"] == 4 == len(problems)
    assert [p["index"] for p in problems] == subset_indices(6, 4)
    # the score is the share of predictions whose final number is the gold one
    from rankscope.tasks.causal.gsm8k import exact_match

    assert metrics["test_exact_match"] == sum(
        exact_match(p["prediction"], rows[p["index"]]["answer"]) for p in problems) / 4
    assert 0 < scorer.last["generated_tokens"] <= 4 * 6


GSM8K = SHARED_DATA / "gsm8k"


@pytest.mark.skipif(not (GSM8K / "test.jsonl").is_file(), reason=f"GSM8K not found at {GSM8K}")
def test_gsm8k_run_reports_exact_match_for_the_run_and_its_baseline():
    from rankscope.search.config import SearchConfig
    from rankscope.search.pipeline import run_search

    cfg = SearchConfig(model="tiny-llama", task="gsm8k", space="shortcuts", allocator="proxy-static",
                       allocator_options={"n_batches": 1}, max_steps=2, batch_size=2, max_train_samples=8,
                       max_len=128, eval_batch_size=4, exact_match=3, max_new_tokens=4, baseline=["uniform"],
                       planted={}).resolved()
    result = run_search(cfg, progress=False)
    assert result.completed, result.failure
    for metrics in (result.metrics, result.baseline["uniform"]["metrics"]):
        assert metrics["final"]["test_problems"] == 3
        assert 0 <= metrics["final"]["test_exact_match"] <= 1
    assert result.timing["test_s"] > 0
