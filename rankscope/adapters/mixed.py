"""An adapter's first projection ``u = x · downᵀ`` when the base is half precision and the
adapter float32 (``--dtype bfloat16``, :mod:`rankscope.models.memory`).

The plain way, ``x.float() @ down.T``, is exact but costs memory: autograd saves the float32
copy of ``x`` to form ``∂L/∂down = gᵀ x`` in the backward pass, and every adapted layer keeps
one, twice the bytes of the bfloat16 input the base layer saves already. On SmolLM2 with LoRA
on all seven projections that is about 20 KB per token and block, as much again as the
half-precision activations saved. :class:`MixedLinear` computes the same float32 product
but saves ``x`` as it is (the very tensor the base layer keeps, so it costs nothing more)
and casts it up again in the backward pass, one layer at a time::

    forward    u  = float32(x) · downᵀ                   saved: x (bfloat16), down
    backward   ∂L/∂down = gᵀ · float32(x)                 float32, as the plain way
               ∂L/∂x    = bfloat16(g · down)              the base's dtype, as the plain way

Gradients and outputs equal the plain way's (the same float32 arithmetic); only what is kept
between the passes changes. Same-dtype inputs take ``nn.functional.linear`` unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class MixedLinear(torch.autograd.Function):
    """``x · weightᵀ`` in ``weight``'s dtype, saving ``x`` in its own (see the module docstring)."""

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return nn.functional.linear(x.to(weight.dtype), weight)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad @ weight).to(x.dtype)
        if ctx.needs_input_grad[1]:  # [r, d_in]: summed over every token of the batch
            grad_w = grad.reshape(-1, grad.shape[-1]).T @ x.reshape(-1, x.shape[-1]).to(weight.dtype)
        return grad_x, grad_w


def project(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x · weightᵀ`` in ``weight``'s dtype: :class:`MixedLinear` when ``x`` is in another."""
    if x.dtype == weight.dtype:
        return nn.functional.linear(x, weight)
    return MixedLinear.apply(x, weight)
