"""The causal-LM objective: loss on target tokens only, token-weighted dev NLL, lower is better."""

import math

import numpy as np
import pytest
import torch

from rankscope.harness.loop import evaluate_batches
from rankscope.harness.objectives import CausalLM


@pytest.fixture(scope="module")
def lm():
    import transformers as tf

    torch.manual_seed(0)
    cfg = tf.LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=1, vocab_size=100, pad_token_id=0)
    return tf.LlamaForCausalLM(cfg).eval()


def _batch(seed, prompt=3, n=4, t=9):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 100, (n, t), generator=g)
    labels = ids.clone()
    labels[:, :prompt] = -100  # prompt tokens are not targets
    mask = torch.ones_like(ids)
    mask[0, -2:] = 0  # a padded row: padding is never a target
    labels[0, -2:] = -100
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def test_loss_equals_the_models_own_shifted_loss_on_target_tokens(lm):
    batch = _batch(0)
    loss, nll, count = CausalLM().forward(lm, batch)
    assert float(loss) == pytest.approx(float(lm(**batch).loss), rel=1e-5)
    assert int(count) == int((batch["labels"][:, 1:] != -100).sum())
    assert float(nll) == pytest.approx(float(loss) * int(count), rel=1e-5)


def test_only_labelled_tokens_are_scored(lm):
    batch = _batch(1)
    logp = torch.log_softmax(lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits, -1)
    picked = [-float(logp[i, t - 1, batch["input_ids"][i, t]]) for i in range(4) for t in range(1, 9)
              if batch["labels"][i, t] != -100]
    assert float(CausalLM().forward(lm, batch)[0]) == pytest.approx(sum(picked) / len(picked), rel=1e-5)


def test_dev_metrics_are_token_weighted_and_lower_is_better(lm):
    objective = CausalLM()
    assert objective.primary == "nll" and objective.greater_is_better is False
    batches = [_batch(2, prompt=2), _batch(3, prompt=6)]  # different target counts per batch
    metrics = evaluate_batches(lm, objective, batches)
    total = sum(float(objective.forward(lm, b)[1]) for b in batches)
    tokens = sum(int(objective.forward(lm, b)[2]) for b in batches)
    assert metrics["nll"] == pytest.approx(total / tokens, rel=1e-6)
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["nll"]), rel=1e-6)
    assert metrics["target_tokens"] == tokens
    mean_of_means = np.mean([float(objective.forward(lm, b)[0]) for b in batches])
    assert metrics["nll"] != pytest.approx(mean_of_means, rel=1e-9)  # not a mean of batch means


def _head_widths(model):
    """The positions the output head sees on each call, and the hook's handle."""
    widths = []
    handle = model.get_output_embeddings().register_forward_hook(lambda m, a, out: widths.append(out.shape[:-1]))
    return widths, handle


def test_the_head_runs_on_target_positions_only_with_the_full_forwards_loss_and_gradients(lm):
    import copy

    model = copy.deepcopy(lm).train()
    batch = _batch(4)
    widths, _ = _head_widths(model)
    loss, nll, count = CausalLM().forward(model, batch)
    assert widths == [torch.Size([1, int(count)])]  # only the positions whose next token is a target
    loss.backward()
    gathered = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    full = CausalLM.summed_nll(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                               batch["labels"])
    (full[0] / full[1]).backward()
    assert float(nll) == pytest.approx(float(full[0]), rel=1e-6) and int(count) == int(full[1])
    for n, p in model.named_parameters():
        torch.testing.assert_close(gathered[n], p.grad, rtol=1e-5, atol=1e-7, msg=n)


class _NoHead(torch.nn.Module):
    """A causal LM behind a custom forward that hides its output embeddings."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, **kw):
        return self.inner(**kw)


def test_a_model_without_output_embeddings_is_scored_on_its_full_logits(lm):
    batch = _batch(5)
    widths, handle = _head_widths(lm)
    loss, nll, count = CausalLM().forward(_NoHead(lm), batch)
    handle.remove()
    assert widths[-1] == batch["input_ids"].shape  # every position: nothing was gathered
    assert float(loss) == pytest.approx(float(lm(**batch).loss), rel=1e-5)
    assert int(count) == int((batch["labels"][:, 1:] != -100).sum())
