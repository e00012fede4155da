"""DESIGN.md invariants 1, 2 and 4 for every family, every built-in space and both forms.

1. With every edge at rank 0, or freshly initialised, outputs equal the base model's.
2. Trainable adapter parameters, Allocation.params and the budget accounting agree exactly.
4. compact() leaves outputs unchanged.
"""

import pytest
import torch
from conftest import batch

import rankscope as rs

SPACES = ["lora", "lora-qv", "shortcuts"]


def logits(model, b):
    with torch.no_grad():
        return model(**b).logits


@pytest.mark.parametrize("space_name", SPACES)
@pytest.mark.parametrize("form", ["lora", "svd"])
def test_fresh_and_zero_adapters_keep_base_function(tiny_model, space_name, form):
    family, model = tiny_model
    b = batch()
    base = logits(model, b)
    space = rs.build_space(space_name, model, max_rank=8)
    for alloc in (rs.Allocation.zeros(space, form), rs.Allocation.uniform(space, 3, form)):
        handle = rs.attach(model, space, alloc)
        assert torch.allclose(logits(model, b), base, atol=1e-6), (family, space_name, form)
        handle.detach()
    assert torch.equal(logits(model, b), base)


@pytest.mark.parametrize("form", ["lora", "svd"])
def test_parameter_accounting_agrees(tiny_model, form):
    _, model = tiny_model
    space = rs.build_space("shortcuts", model, max_rank=8)
    ranks = {e.id: (i * 3) % 9 for i, e in enumerate(space.edges)}  # mixed, some zero
    alloc = rs.Allocation(space, ranks, form)
    handle = rs.attach(model, space, alloc)
    expected = sum(e.cost(ranks[e.id], form) for e in space.edges)
    assert handle.trainable_parameters() == alloc.params == space.cost(alloc) == expected
    per_unit = sum(e.d_in + e.d_out + (form == "svd") for e in space.edges)
    assert rs.Budget.parse("r1", space, form).params == per_unit
    # only adapters train: the base model is frozen by attach
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in handle.parameters()}
    handle.detach()
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("form", ["lora", "svd"])
def test_compact_keeps_outputs(tiny_model, form):
    _, model = tiny_model
    b = batch(1)
    space = rs.build_space("shortcuts", model, max_rank=8)
    handle = rs.attach(model, space, rs.Allocation.uniform(space, 4, form), seed=3)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for a in handle.adapters.values():  # move away from the identity init
            for p in a.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    for i, eid in enumerate(space.ids):
        handle.set_mask(eid, [1, 0, 1, 0] if i % 3 == 0 else ([0, 0, 0, 0] if i % 3 == 1 else [1, 1, 1, 1]))
    before = logits(model, b)
    masked_alloc = handle.allocation
    kept = handle.compact()
    after = logits(model, b)
    assert torch.allclose(before, after, atol=1e-6)
    assert handle.allocation == masked_alloc
    assert handle.trainable_parameters() == masked_alloc.params
    assert all(kept[eid].numel() == 0 for i, eid in enumerate(space.ids) if i % 3 == 1)
    handle.detach()


def test_rank_masks_change_the_function_and_svd_gate_uses_lambda():
    from conftest import make_tiny

    model = make_tiny("bert")
    b = batch()
    base = logits(model, b)
    space = rs.build_space("lora", model, max_rank=4)
    handle = rs.attach(model, space, rs.Allocation.uniform(space, 2, "svd"))
    with torch.no_grad():
        for a in handle.adapters.values():
            a.lam.fill_(1.0)
    moved = logits(model, b)
    assert not torch.allclose(moved, base, atol=1e-4)
    for eid in space.ids:
        handle.set_mask(eid, [0, 0])
    assert torch.allclose(logits(model, b), base, atol=1e-6)
    handle.detach()


def test_batched_hooks_match_dense_delta_weights():
    """The batched per-source/per-target computation equals adding ΔW = up·diag(g)·down per edge."""
    from conftest import make_tiny

    model = make_tiny("bert")
    b = batch(2)
    space = rs.build_space("lora", model, max_rank=4)
    handle = rs.attach(model, space, rs.Allocation(space, {e.id: 1 + i % 4 for i, e in enumerate(space.edges)}))
    with torch.no_grad():
        for a in handle.adapters.values():
            a.B.normal_(0, 0.2)
    hooked = logits(model, b)
    deltas = {eid: a.delta_weight().detach() for eid, a in handle.adapters.items()}
    handle.detach()
    modules = dict(model.named_modules())
    with torch.no_grad():
        for eid, dw in deltas.items():
            modules[rs.parse_site(space.edge(eid).src)[0]].weight += dw
    assert torch.allclose(logits(model, b), hooked, atol=1e-5)
