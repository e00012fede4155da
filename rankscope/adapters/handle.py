"""AdapterHandle: the live adapters of one :func:`~rankscope.attach` call, and what a caller does
with them — count, mask, compact, merge, fold for inference, observe, detach.

Adapters live in ``model.rankscope_adapters`` (an ``nn.ModuleDict`` keyed by edge id), so
``model.to(...)`` and ``model.parameters()`` include them; :meth:`AdapterHandle.detach` removes
them and the hooks and restores ``requires_grad`` of the base parameters. The hooks themselves
are :class:`~rankscope.adapters.runtime.SiteHooks`; every method that changes the set of adapters or
their ranks re-plans them. Saving is :func:`rankscope.save_adapters`, PEFT export
:func:`rankscope.export_peft`.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from rankscope.adapters.runtime import SiteHooks
from rankscope.allocation.allocation import Allocation
from rankscope.errors import InputError

ATTR = "rankscope_adapters"


def weight_delta(module: nn.Module, path: str, edge_id: str, adapter) -> torch.Tensor:
    """``adapter``'s ΔW in the layout and dtype of ``module.weight``: ``d_out × d_in`` for
    ``nn.Linear``, transposed for GPT-2's ``Conv1D`` (which stores ``d_in × d_out``)."""
    weight = module.weight
    delta = adapter.delta_weight().to(weight.dtype)
    if hasattr(module, "nf") and weight.shape == delta.T.shape:
        return delta.T
    if isinstance(module, nn.Linear) and weight.shape == delta.shape:
        return delta
    raise InputError(f"edge {edge_id!r}: ΔW {tuple(delta.shape)} does not fit {path}.weight {tuple(weight.shape)}")


class AdapterHandle:
    """The live adapters of one attach call. See :func:`~rankscope.attach`."""

    def __init__(self, model, space, form, adapters: nn.ModuleDict, dropout: float, frozen):
        self.model, self.space, self.form = model, space, form
        self.adapters = adapters
        self._frozen = frozen  # {param: previous requires_grad}
        self._runtime = SiteHooks(model, space, adapters, dropout)
        self._attached = True

    @property
    def observer(self):
        """The observer the hooks report to, or None; see :meth:`observe`."""
        return self._runtime.observer

    @observer.setter
    def observer(self, value):
        self._runtime.observer = value

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
        self._runtime.install()
        return kept

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
                module.weight += weight_delta(module, path, e.id, self.adapters[e.id])
                del self.adapters[e.id]
                merged.append(e.id)
        self._runtime.install()
        flops = sum(2 * a.active_rank * (a.d_in + a.d_out) for a in self.adapters.values())
        return {"merged": merged, "kept": list(self.adapters), "extra_flops_per_token": flops}

    @contextmanager
    def folded(self):
        """Context manager for inference: every LoRA edge that runs alone on a float32 module
        computes with ``W + ΔW`` in the module's one matmul, and its hook is removed.

        Hooked, a rank-r edge adds two small matmuls and a Python hook to each of its module's
        forwards: the matmuls weigh on a long evaluation forward, the hook calls on decoding one
        token at a time (``python -m benchmarks.fold`` measures both). Folded, the module computes
        ``(W + ΔW) x`` with no hook — the same function up to float rounding (the order of the
        sums changes). Unlike :meth:`merge` the base weights are
        never written: each folded module gets a new tensor and its own weight object back on
        exit, bit for bit. Gradients are off inside (adapters outside the matmul receive none).

        Not folded, and still hooked: shortcut edges and module edges that share a site with
        another edge (no single weight holds them), and modules whose weight is not float32 or
        float64 (``W + ΔW`` rounded to bfloat16 would lose most of a small ΔW). Memory: one extra
        copy of each folded weight while inside."""
        modules = dict(self.model.named_modules())
        swapped = []
        try:
            with torch.no_grad():
                for path, eid in self._runtime.fused.items():
                    module = modules[path]
                    weight = module.weight
                    if weight.dtype not in (torch.float32, torch.float64) or weight.is_meta:
                        continue
                    module.weight = nn.Parameter(weight + weight_delta(module, path, eid, self.adapters[eid]),
                                                 requires_grad=False)
                    swapped.append((module, weight))
                    self._runtime.folded.add(eid)
                self._runtime.install()  # without the folded edges' hooks
                yield self
        finally:
            for module, weight in swapped:
                module.weight = weight
            self._runtime.folded.clear()
            self._runtime.install()

    def detach(self) -> None:
        """Remove hooks and adapters and restore the base model's ``requires_grad`` flags."""
        if not self._attached:
            return
        self._runtime.remove()
        if getattr(self.model, ATTR, None) is self.adapters:
            delattr(self.model, ATTR)
        for p, flag in self._frozen.items():
            p.requires_grad_(flag)
        self._attached = False

    def __repr__(self):
        return (f"AdapterHandle(space={self.space.name!r}, form={self.form!r}, "
                f"edges={len(self.adapters)}, params={self.trainable_parameters():,})")
