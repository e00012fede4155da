"""The forward-hook runtime of attached adapters: edges batched per source and per target site.

How the forward pass changes (one pre-hook for ``:in`` sites, one hook for ``:out`` sites)::

    source site s (edges e₁…e_k leave it)     U_s = (x_s · [down₁; …; down_k]ᵀ) ⊙ [g₁, …, g_k]
                                                      one matmul for all edges leaving s
    target site t (edges f₁…f_m enter it)     y_t ← y_t + [U_{s(f₁)}[f₁] … U_{s(f_m)}[f_m]] · [up₁ … up_m]ᵀ
                                                      one matmul for all edges entering t

so the hot path has no Python loop over ranks, and edges are batched per source and per target.
A *module edge* that is alone at both its sites (``m:in`` → ``m:out``, nothing else leaving
``m:in`` or entering ``m:out``, neither site in another role: every LoRA edge of the ``lora``
space) runs in one forward hook on ``m``, ``y ← y + ((x·downᵀ) ⊙ g)·upᵀ``, with no per-forward
cache: the same arithmetic with half the hooks, which is what keeps token-by-token decoding
close to PEFT's cost (``python -m benchmarks.causal``, speed table).
At a site that is both a target and a source, deltas are added first and the source reads the
adapted tensor (a shortcut from "the FFN input" sees the adapted FFN input). ``U_s`` waits in a
per-forward cache until its targets run; a hook on the whole model clears it when the next forward
starts (or right after a forward that builds no graph). Under gradient checkpointing the backward
pass replays blocks and reads the cache again, so a training forward must be followed by its
backward before the next forward (as every training loop does).

The runtime only reads ``down``, ``gate()`` and ``up`` of each adapter
(:class:`~rankscope.adapters.LowRankAdapter`), so the LoRA and SVD forms share it.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn

from rankscope.adapters.mixed import project
from rankscope.space.edge import parse_site
from rankscope.space.trace import first_tensor, output_tensor, register_site_hooks


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


class SiteHooks:
    """The hooks that run ``adapters`` (an ``nn.ModuleDict`` keyed by edge id) inside ``model``.

    :meth:`install` plans from the adapters present *now*; call it again after adding, slicing
    or removing adapters. ``observer`` (``on_input(site, x)``, ``on_output(site, y)``) sees the
    tensors edges read and write while it is set.
    """

    def __init__(self, model, space, adapters: nn.ModuleDict, dropout: float):
        self.model, self.space, self.adapters = model, space, adapters
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.observer = None
        #: edge ids whose ΔW is folded into their module's weight for now (:meth:`AdapterHandle.folded`);
        #: :meth:`install` leaves their modules unhooked
        self.folded: set[str] = set()
        self._hooks: list = []
        self._cache: dict[str, torch.Tensor] = {}
        self.install()

    def install(self) -> None:
        self.remove()
        self._src = defaultdict(list)  # site -> [edge ids]
        self._dst = defaultdict(list)
        for e in self.space.edges:
            if e.id in self.adapters:
                self._src[e.src].append(e.id)
                self._dst[e.dst].append(e.id)
        self._slices = {}  # edge id -> (source site, start, stop) of its columns in U_s
        for s, ids in self._src.items():
            start = 0
            for i in ids:
                r = self.adapters[i].rank
                self._slices[i] = (s, start, start + r)
                start += r
        modules = dict(self.model.named_modules())
        fused = self.fused = self._fused_module_edges()
        for path, eid in fused.items():
            if eid in self.folded:  # the module's weight holds W + ΔW: no hook, not even an idle one
                continue
            self._hooks.append(modules[path].register_forward_hook(self._make_fused_hook(path, eid), with_kwargs=True))
        sites = [s for s in list(self._src) + list(self._dst) if parse_site(s)[0] not in fused]
        self._hooks += register_site_hooks(self.model, sites, self._make_pre_hook, self._make_post_hook)
        self._hooks.append(self.model.register_forward_pre_hook(lambda *a: self._cache.clear()))
        self._hooks.append(self.model.register_forward_hook(self._after_forward))

    def _after_forward(self, module, args, output):
        """Drop the per-forward cache, unless a backward pass may still replay blocks: under
        gradient checkpointing it recomputes each block, and a shortcut edge in block ℓ then reads
        ``U_s`` cached by the forward (from block ℓ's input, or block ℓ−1's FFN input), so a
        training forward's cache lives until the next forward starts."""
        if not (module.training and torch.is_grad_enabled()):
            self._cache.clear()

    def _fused_module_edges(self) -> dict[str, str]:
        """``{module path: edge id}`` of the module edges that are alone at both of their sites."""
        fused = {}
        for site, ids in self._src.items():
            path, side = parse_site(site)
            out = f"{path}:out"
            if (side == "in" and len(ids) == 1 and self._dst.get(out) == ids and site not in self._dst
                    and out not in self._src and self.space.edge(ids[0]).dst == out):
                fused[path] = ids[0]
        return fused

    def _make_fused_hook(self, path, eid):
        src, dst = f"{path}:in", f"{path}:out"

        def hook(module, args, kwargs, output):
            x, y, a = first_tensor(args, kwargs), output_tensor(output), self.adapters[eid]
            if self.observer is not None:
                self.observer.on_input(src, x)
            if self.dropout is not None:
                x = self.dropout(x)
            down = a.down
            u = project(x, down) * a.gate()  # float32 adapters on a bfloat16 base: rankscope.adapters.mixed
            y = y + nn.functional.linear(u, a.up).to(y.dtype)
            if self.observer is not None:
                self.observer.on_output(dst, y)
            return _replace_output(output, y)
        return hook

    def remove(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []
        self._cache.clear()

    def _tap(self, site, x):
        adapters = [self.adapters[i] for i in self._src[site]]
        down = adapters[0].down if len(adapters) == 1 else torch.cat([a.down for a in adapters])
        gate = adapters[0].gate() if len(adapters) == 1 else torch.cat([a.gate() for a in adapters])
        if self.observer is not None:
            self.observer.on_input(site, x)
        if self.dropout is not None:
            x = self.dropout(x)
        self._cache[site] = project(x, down) * gate  # U_s: [..., Σ ranks], in the adapters' dtype

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
