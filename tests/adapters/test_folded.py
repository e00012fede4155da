"""``AdapterHandle.folded()``: inference with LoRA edges folded into their weights computes the same
function as the hooks, leaves the base weights bit for bit as they were, and folds only what one
weight can hold."""

import pytest
import torch
from conftest import batch, make_tiny

import rankscope as rs


def trained_like(handle, seed: int = 1):
    """Give every adapter nonzero B (LoRA) or λ (SVD), as training would, so ΔW ≠ 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for a in handle.adapters.values():
            grown = a.lam if a.form == "svd" else a.up
            grown.copy_(torch.randn(grown.shape, generator=g) * 0.5)


def logits(model, b):
    with torch.no_grad():
        return model(**b).logits


@pytest.mark.parametrize("form", ["lora", "svd"])
def test_folded_equals_hooked_and_restores_the_weights(tiny_model, form):
    family, model = tiny_model
    b = batch()
    base = logits(model, b)
    space = rs.build_space("lora", model, max_rank=8)
    ranks = {e.id: (i * 3) % 9 for i, e in enumerate(space.edges)}  # mixed, some zero
    handle = rs.attach(model, space, rs.Allocation(space, ranks, form))
    trained_like(handle)
    before = {n: (p, p.detach().clone()) for n, p in model.named_parameters()}
    hooked = logits(model, b)
    with handle.folded():
        assert handle._runtime.folded  # something was folded: the hooks stepped aside
        folded = logits(model, b)
    assert not handle._runtime.folded
    assert torch.allclose(folded, hooked, rtol=1e-4, atol=1e-5), (family, (folded - hooked).abs().max())
    assert (hooked - base).abs().max() > 1e-6, (hooked - base).abs().max()  # the adapters change the function
    for n, p in model.named_parameters():  # the same objects, the same bits
        assert p is before[n][0] and torch.equal(p.detach(), before[n][1]), n
    assert torch.equal(logits(model, b), hooked)
    handle.detach()


def uniform_trained(model, space_name: str, rank: int):
    """``(space, handle, batch, logits)``: uniform LoRA at ``rank`` over ``space_name``, ΔW ≠ 0."""
    b = batch()
    space = rs.build_space(space_name, model, max_rank=8)
    handle = rs.attach(model, space, rs.Allocation.uniform(space, rank, "lora"))
    trained_like(handle)
    return space, handle, b, logits(model, b)


def test_shortcut_edges_stay_hooked_while_lone_module_edges_fold():
    model = make_tiny("llama")
    space, handle, b, hooked = uniform_trained(model, "shortcuts", 3)
    hooks = len(handle._runtime._hooks)
    with handle.folded():
        folded_ids = set(handle._runtime.folded)
        assert len(handle._runtime._hooks) == hooks - len(folded_ids)  # folded modules run unhooked
        out = logits(model, b)
    assert len(handle._runtime._hooks) == hooks
    assert torch.allclose(out, hooked, rtol=1e-4, atol=1e-5)
    shortcut_ids = {e.id for e in space.edges if e.module is None}
    assert shortcut_ids and not (folded_ids & shortcut_ids)
    assert folded_ids == set(handle._runtime.fused.values())
    handle.detach()


def test_bfloat16_weights_are_not_folded_and_gradients_are_off_inside():
    model = make_tiny("llama").to(torch.bfloat16)
    _, handle, b, hooked = uniform_trained(model, "lora", 4)
    with handle.folded():
        assert not handle._runtime.folded  # W + ΔW in bfloat16 would round most of ΔW away
        assert torch.equal(logits(model, b), hooked)
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()
    handle.detach()


def test_an_error_inside_still_restores_the_weights():
    model = make_tiny("gpt2")  # Conv1D weights: d_in × d_out
    _, handle, _, _ = uniform_trained(model, "lora", 2)
    before = {n: p for n, p in model.named_parameters()}
    with pytest.raises(RuntimeError, match="inside"):
        with handle.folded():
            raise RuntimeError("inside")
    assert {n: p for n, p in model.named_parameters()} == before
    assert not handle._runtime.folded
    handle.detach()
