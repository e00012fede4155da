"""Attach the edges of an allocation to a model with forward hooks; no copy of the base model.

Three pieces, one file each::

    attach(model, space, allocation)   this file: one adapter per edge with rank > 0, base frozen
     └─► AdapterHandle                 rankscope.adapters.handle: count, mask, compact, merge, detach
          └─► SiteHooks                rankscope.adapters.runtime: the forward hooks, edges batched
                                       per source and per target site

Attaching never copies the base model: adapters live in ``model.rankscope_adapters``, and
:meth:`AdapterHandle.detach` removes them and the hooks and restores ``requires_grad``.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from rankscope.adapters import ADAPTER_FORMS
from rankscope.adapters.handle import ATTR, AdapterHandle
from rankscope.adapters.lora import DEFAULT_SCALING, check_scaling
from rankscope.allocation.allocation import Allocation
from rankscope.errors import InputError

__all__ = ["ATTR", "AdapterHandle", "DEFAULT_ALPHA", "attach"]

# HeteroLoRA defaults for the LoRA form (α = 16 on modules, α_s = 4 on shortcuts); SalientLoRA's
# α = 32 for the SVD form.
DEFAULT_ALPHA = {"lora": {"lora": 16.0, "shortcut": 4.0}, "svd": {"lora": 32.0, "shortcut": 32.0}}


def attach(model, space, allocation: Allocation, form: str | None = None, *,
           alpha: float | Mapping[str, float] | None = None, scaling: str = DEFAULT_SCALING, dropout: float = 0.0,
           seed: int = 0, freeze_base: bool = True, validate: bool = False) -> AdapterHandle:
    """Attach one adapter per edge with rank > 0 and return its :class:`AdapterHandle`.

    ``form`` is ``"lora"`` (A, B) or ``"svd"`` (P, λ, Q); it defaults to the allocation's form.
    ``alpha`` is a float or ``{"lora": α, "shortcut": α_s}``; defaults: LoRA form 16 / 4
    (HeteroLoRA), SVD form 32 (SalientLoRA). ``scaling`` is the LoRA form's rule: ``"rslora"``
    (α/√r, PEFT's ``use_rslora``; rank stable) or ``"lora"`` (α/r, PEFT's default); the SVD form
    always scales by α/r₀ (docs/architecture.md, "Rank-stable scaling"). Adapter init draws from ``torch.Generator(seed)``,
    so it does not depend on (or disturb) the global RNG. Adapters are float32 on a
    half-precision base (at least float32, on the device of the model's first parameter). With ``freeze_base`` every parameter
    of the model is frozen; the harness unfreezes the task head.
    """
    form = form or allocation.form
    if form not in ADAPTER_FORMS:
        raise InputError(f"unknown adapter form {form!r}; valid forms: {', '.join(ADAPTER_FORMS)}")
    if allocation.space.fingerprint != space.fingerprint:
        raise InputError(f"allocation is for space {allocation.space.name!r}, not {space.name!r}")
    if hasattr(model, ATTR):
        raise InputError("model already has rankscope adapters attached; call handle.detach() first")
    if validate:
        space.validate(model)
    alphas = dict(DEFAULT_ALPHA[form])
    if isinstance(alpha, Mapping):
        alphas.update(alpha)
    elif alpha is not None:
        alphas = {"lora": float(alpha), "shortcut": float(alpha)}
    param = next(model.parameters())
    gen = torch.Generator().manual_seed(int(seed))
    adapters = nn.ModuleDict()
    check_scaling(scaling)
    cls = ADAPTER_FORMS[form]
    # the rule sets how the LoRA form's factor depends on its rank; the SVD form's α/r₀ is fixed
    rule = {"rslora": scaling == "rslora"} if form == "lora" else {}
    for e in space.edges:
        r = allocation.ranks.get(e.id, 0)
        if r > 0:
            adapters[e.id] = cls(e.d_in, e.d_out, r, alphas[e.kind], generator=gen, **rule)
    # adapters train in float32 on a bfloat16/float16 base (rankscope.models.memory); a float64
    # base keeps float64 adapters. The runtime casts what they read up and what they add back down.
    dtype = torch.promote_types(param.dtype, torch.float32) if param.is_floating_point() else None
    adapters.to(device=param.device, dtype=dtype)
    frozen = {}
    if freeze_base:
        for p in model.parameters():
            frozen[p] = p.requires_grad
            p.requires_grad_(False)
    model.add_module(ATTR, adapters)
    return AdapterHandle(model, space, form, adapters, dropout, frozen)
