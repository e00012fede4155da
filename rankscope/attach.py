"""Attach the edges of an allocation to a model with forward hooks; no copy of the base model.

How the forward pass changes (one pre-hook for ``:in`` sites, one hook for ``:out`` sites)::

    source site s (edges e₁…e_k leave it)     U_s = (x_s · [down₁; …; down_k]ᵀ) ⊙ [g₁, …, g_k]
                                                      one matmul for all edges leaving s
    target site t (edges f₁…f_m enter it)     y_t ← y_t + [U_{s(f₁)}[f₁] … U_{s(f_m)}[f_m]] · [up₁ … up_m]ᵀ
                                                      one matmul for all edges entering t

so the hot path has no Python loop over ranks, and edges are batched per source and per target.
At a site that is both a target and a source, deltas are added first and the source reads the
adapted tensor (a shortcut from "the FFN input" sees the adapted FFN input).

Adapters live in ``model.rankscope_adapters`` (an ``nn.ModuleDict`` keyed by edge id), so
``model.to(...)`` and ``model.parameters()`` include them; :meth:`AdapterHandle.detach` removes
them and the hooks and restores ``requires_grad`` of the base parameters.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping

import torch
from torch import nn

from .adapters import ADAPTER_FORMS
from .allocation import Allocation
from .edge import parse_site
from .errors import InputError
from .trace import first_tensor, output_tensor

ATTR = "rankscope_adapters"
# HeteroLoRA defaults for the LoRA form (α = 16 on modules, α_s = 4 on shortcuts); SalientLoRA's
# α = 32 for the SVD form.
DEFAULT_ALPHA = {"lora": {"lora": 16.0, "shortcut": 4.0}, "svd": {"lora": 32.0, "shortcut": 32.0}}


def _replace_input(args, kwargs, new):
    for i, a in enumerate(args):
        if torch.is_tensor(a):
            return args[:i] + (new,) + args[i + 1:], kwargs
    kwargs = dict(kwargs)
    key = "hidden_states" if torch.is_tensor(kwargs.get("hidden_states")) else next(
        k for k, v in kwargs.items() if torch.is_tensor(v) and v.is_floating_point())
    kwargs[key] = new
    return args, kwargs


def _replace_output(output, new):
    if torch.is_tensor(output):
        return new
    if isinstance(output, tuple):
        return (new,) + output[1:]
    if isinstance(output, list):
        return [new] + output[1:]
    key = next(iter(output.keys()))
    output[key] = new
    return output


class AdapterHandle:
    """The live adapters of one attach call. See :func:`attach`."""

    def __init__(self, model, space, form, adapters: nn.ModuleDict, dropout: float, frozen):
        self.model, self.space, self.form = model, space, form
        self.adapters = adapters
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self._frozen = frozen  # {param: previous requires_grad}
        self._hooks: list = []
        self._cache: dict[str, torch.Tensor] = {}
        self.observer = None  # see :meth:`observe`
        self._attached = True
        self._install()

    # ------------------------------------------------------------------ plan and hooks
    def _install(self):
        for h in self._hooks:
            h.remove()
        self._hooks = []
        self._src = defaultdict(list)  # site -> [edge ids]
        self._dst = defaultdict(list)
        for e in self.space.edges:
            if e.id in self.adapters:
                self._src[e.src].append(e.id)
                self._dst[e.dst].append(e.id)
        self._slices = {}
        for s, ids in self._src.items():
            start = 0
            for i in ids:
                r = self.adapters[i].rank
                self._slices[i] = (s, start, start + r)
                start += r
        modules = dict(self.model.named_modules())
        paths = defaultdict(set)
        for s in list(self._src) + list(self._dst):
            path, side = parse_site(s)
            paths[path].add(side)
        for path, sides in paths.items():
            mod = modules[path]
            if "in" in sides:
                self._hooks.append(mod.register_forward_pre_hook(
                    self._make_pre_hook(f"{path}:in"), with_kwargs=True))
            if "out" in sides:
                self._hooks.append(mod.register_forward_hook(self._make_post_hook(f"{path}:out")))
        self._hooks.append(self.model.register_forward_hook(lambda *a: self._cache.clear()))

    def _tap(self, site, x):
        adapters = [self.adapters[i] for i in self._src[site]]
        down = adapters[0].down if len(adapters) == 1 else torch.cat([a.down for a in adapters])
        gate = adapters[0].gate() if len(adapters) == 1 else torch.cat([a.gate() for a in adapters])
        if self.observer is not None:
            self.observer.on_input(site, x)
        if self.dropout is not None:
            x = self.dropout(x)
        self._cache[site] = (x.to(down.dtype) @ down.T) * gate

    def _delta(self, site, y):
        ids = self._dst[site]
        lead = y.shape[:-1]
        pieces = []
        for i in ids:
            s, a, b = self._slices[i]
            # reshape: some families flatten tokens inside a block (OPT's FFN sees [B·T, d])
            pieces.append(self._cache[s][..., a:b].reshape(*lead, b - a))
        u = pieces[0] if len(pieces) == 1 else torch.cat(pieces, -1)
        up = self.adapters[ids[0]].up if len(ids) == 1 else torch.cat([self.adapters[i].up for i in ids], 1)
        y = y + (u @ up.T).to(y.dtype)
        if self.observer is not None:
            self.observer.on_output(site, y)
        return y

    def _make_pre_hook(self, site):
        def hook(module, args, kwargs):
            x = first_tensor(args, kwargs)
            changed = False
            if site in self._dst:
                x = self._delta(site, x)
                args, kwargs = _replace_input(args, kwargs, x)
                changed = True
            if site in self._src:
                self._tap(site, x)
            return (args, kwargs) if changed else None
        return hook

    def _make_post_hook(self, site):
        def hook(module, args, output):
            y = output_tensor(output)
            changed = False
            if site in self._dst:
                y = self._delta(site, y)
                output = _replace_output(output, y)
                changed = True
            if site in self._src:
                self._tap(site, y)
            return output if changed else None
        return hook

    # ------------------------------------------------------------------ public API
    def parameters(self):
        return self.adapters.parameters()

    def trainable_parameters(self) -> int:
        """Number of trainable adapter parameters physically present (masked ranks included
        until :meth:`compact`). Equals ``allocation.params`` after attach and after compact."""
        return sum(p.numel() for p in self.adapters.parameters() if p.requires_grad)

    @property
    def allocation(self) -> Allocation:
        """The allocation the live masks describe (rank = number of unmasked ranks)."""
        return Allocation(self.space, {i: a.active_rank for i, a in self.adapters.items()}, self.form)

    def observe(self, observer):
        """Context manager: while active, ``observer.on_input(site, x)`` sees every tensor an
        edge reads (before dropout) and ``observer.on_output(site, y)`` every tensor edges add
        into (after the add, so a grad hook on ``y`` receives ∂L/∂(edge output)). Zero-cost
        proxies use it to form ∂L/∂ΔW = Σ_tokens g xᵀ without materialising ΔW."""
        from contextlib import contextmanager

        @contextmanager
        def scope():
            self.observer = observer
            try:
                yield observer
            finally:
                self.observer = None
        return scope()

    def masks(self) -> dict[str, torch.Tensor]:
        return {i: a.mask for i, a in self.adapters.items()}

    def set_mask(self, edge_id: str, mask) -> None:
        a = self.adapters[edge_id]
        a.mask.copy_(torch.as_tensor(mask, dtype=a.mask.dtype, device=a.mask.device))

    def orth_penalty(self) -> torch.Tensor:
        """Mean over all P and Q tensors of ‖PᵀP − I‖_F, ‖QQᵀ − I‖_F (SVD form only)."""
        if self.form != "svd":
            raise InputError("the orthogonality penalty exists only for form='svd' adapters")
        terms = [t for a in self.adapters.values() for t in a.orth_penalty()]
        return torch.stack(terms).mean()

    def compact(self) -> dict[str, torch.Tensor]:
        """Slice masked ranks away; remove edges with no rank left. Outputs are unchanged.

        Returns ``{edge_id: kept rank indices}`` (empty tensor for removed edges) so a caller can
        remap optimizer state. Parameters are replaced, so optimizers must be rebuilt.
        """
        kept = {}
        for i in list(self.adapters.keys()):
            a = self.adapters[i]
            idx = a.kept()
            kept[i] = idx
            if idx.numel() == 0:
                del self.adapters[i]
            elif idx.numel() < a.rank:
                a.keep(idx)
        self._install()
        return kept

    def save(self, directory):
        """Save these adapters in the rankscope format (:mod:`rankscope.adapter_io`)."""
        from .adapter_io import save_adapters

        return save_adapters(self, directory)

    def merge(self) -> dict:
        """Merge every module LoRA edge into its base weight (W ← W + ΔW) and drop its adapter.

        Shortcut edges cannot merge: they read one point of the network and write into another,
        so no single weight holds them. They stay as light modules, costing per token
        2·r·(d_in + d_out) multiply-adds' FLOPs each. Merged weights stay merged after
        :meth:`detach` (merge is for serving). Returns ``{"merged": [...], "kept": [...],
        "extra_flops_per_token": n}``."""
        modules = dict(self.model.named_modules())
        merged = []
        with torch.no_grad():
            for e in self.space.edges:
                path = e.module
                if e.id not in self.adapters or path is None:
                    continue
                module = modules[path]
                weight = module.weight
                delta = self.adapters[e.id].delta_weight().to(weight.dtype)
                if hasattr(module, "nf") and weight.shape == delta.T.shape:  # GPT-2's Conv1D: (d_in, d_out)
                    weight += delta.T
                elif isinstance(module, nn.Linear) and weight.shape == delta.shape:
                    weight += delta
                else:
                    raise InputError(f"edge {e.id!r}: ΔW {tuple(delta.shape)} does not fit {path}.weight "
                                     f"{tuple(weight.shape)}")
                del self.adapters[e.id]
                merged.append(e.id)
        self._install()
        flops = sum(2 * a.active_rank * (a.d_in + a.d_out) for a in self.adapters.values())
        return {"merged": merged, "kept": list(self.adapters), "extra_flops_per_token": flops}

    def detach(self) -> None:
        """Remove hooks and adapters and restore the base model's ``requires_grad`` flags."""
        if not self._attached:
            return
        for h in self._hooks:
            h.remove()
        self._hooks = []
        if getattr(self.model, ATTR, None) is self.adapters:
            delattr(self.model, ATTR)
        for p, flag in self._frozen.items():
            p.requires_grad_(flag)
        self._cache.clear()
        self._attached = False

    def __repr__(self):
        return (f"AdapterHandle(space={self.space.name!r}, form={self.form!r}, "
                f"edges={len(self.adapters)}, params={self.trainable_parameters():,})")


def attach(model, space, allocation: Allocation, form: str | None = None, *,
           alpha: float | Mapping[str, float] | None = None, scaling: str = "lora", dropout: float = 0.0,
           seed: int = 0, freeze_base: bool = True, validate: bool = False) -> AdapterHandle:
    """Attach one adapter per edge with rank > 0 and return its :class:`AdapterHandle`.

    ``form`` is ``"lora"`` (A, B) or ``"svd"`` (P, λ, Q); it defaults to the allocation's form.
    ``alpha`` is a float or ``{"lora": α, "shortcut": α_s}``; defaults: LoRA form 16 / 4
    (HeteroLoRA), SVD form 32 (SalientLoRA). ``scaling`` is ``"lora"`` (α/r, as PEFT) or
    ``"rslora"`` (α/√r, PEFT's ``use_rslora``). Adapter init draws from ``torch.Generator(seed)``,
    so it does not depend on (or disturb) the global RNG. With ``freeze_base`` every parameter
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
    if scaling not in ("lora", "rslora"):
        raise InputError(f"unknown scaling {scaling!r}; valid: lora (alpha/r), rslora (alpha/sqrt(r))")
    cls = ADAPTER_FORMS[form]
    for e in space.edges:
        r = allocation.ranks.get(e.id, 0)
        if r > 0:
            adapters[e.id] = cls(e.d_in, e.d_out, r, alphas[e.kind], generator=gen, rslora=scaling == "rslora")
    adapters.to(device=param.device, dtype=param.dtype if param.is_floating_point() else None)
    frozen = {}
    if freeze_base:
        for p in model.parameters():
            frozen[p] = p.requires_grad
            p.requires_grad_(False)
    model.add_module(ATTR, adapters)
    return AdapterHandle(model, space, form, adapters, dropout, frozen)
