"""Every built-in proxy scores a bfloat16 base (``--dtype bfloat16``): finite scores on every edge,
and the model left as it was, its frozen base bfloat16 and its adapters and head float32 (SynFlow's
float64 pass puts each tensor back in its own dtype)."""

import math

import pytest
import torch

import rankscope as rs
from rankscope.harness.objectives import SequenceClassification
from rankscope.models.loading import head_modules
from rankscope.scoring import PROXIES, get_proxy, score_edges
from rankscope.tasks import get_task_spec


@pytest.fixture(scope="module")
def scored_model():
    torch.manual_seed(0)
    model, _ = rs.load_model("tiny-bert", 2, dtype="bfloat16")
    space = rs.build_space("shortcuts", model)
    handle = rs.attach(model, space, rs.Allocation.uniform(space, 2), seed=0)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for a in handle.adapters.values():
            a.B.copy_(torch.randn(a.B.shape, generator=g) * 0.1)
    ids = torch.randint(1000, 5000, (2, 4, 9), generator=g)
    batches = [{"input_ids": x, "attention_mask": torch.ones_like(x), "labels": torch.tensor([0, 1, 0, 1])}
               for x in ids]
    return model, handle, batches


@pytest.mark.parametrize("proxy", sorted(PROXIES.names()))
def test_every_proxy_scores_a_bfloat16_base(proxy, scored_model):
    model, handle, batches = scored_model
    objective = SequenceClassification(get_task_spec("rte"))
    scores = score_edges(model, handle, objective, batches, [get_proxy(proxy)]).scores[proxy]
    assert set(scores) == set(handle.adapters)
    assert all(math.isfinite(v) for s in scores.values() for v in (s if isinstance(s, list) else [s])), scores
    head = {id(p) for m in head_modules(model).values() for p in m.parameters()}
    trained = {id(p) for p in handle.parameters()} | head
    assert all(p.dtype == (torch.float32 if id(p) in trained else torch.bfloat16) for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())
