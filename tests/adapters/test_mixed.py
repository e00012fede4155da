"""The mixed-precision first projection of an adapter (:mod:`rankscope.adapters.mixed`): the same
output and gradients as casting the bfloat16 input up, without saving a float32 copy of it."""

import torch

from rankscope.adapters.mixed import project


def test_mixed_projection_equals_the_plain_cast_and_saves_only_the_input():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 16, generator=g).to(torch.bfloat16).requires_grad_(True)
    w = torch.randn(3, 16, generator=g, requires_grad=True)
    upstream = torch.randn(2, 5, 3, generator=g)

    plain = torch.nn.functional.linear(x.float(), w)
    plain.backward(upstream)
    want = (plain.detach(), x.grad.clone(), w.grad.clone())
    x.grad = w.grad = None

    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out = project(x, w)
    out.backward(upstream)
    assert out.dtype == torch.float32 and x.grad.dtype == torch.bfloat16 and w.grad.dtype == torch.float32
    for got, ref in zip((out.detach(), x.grad, w.grad), want):
        assert torch.allclose(got.float(), ref.float(), rtol=1e-5, atol=1e-6)
    # what waits for the backward pass: the bfloat16 input itself and the float32 weight, no float32 copy of x
    assert {(t.dtype, tuple(t.shape)) for t in saved} == {(torch.bfloat16, (2, 5, 16)), (torch.float32, (3, 16))}
    assert len(saved) == 2


def test_same_dtype_inputs_take_the_plain_linear():
    x, w = torch.randn(4, 8), torch.randn(2, 8)
    assert torch.equal(project(x, w), torch.nn.functional.linear(x, w))
