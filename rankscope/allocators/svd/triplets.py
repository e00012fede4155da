"""Shared pieces of the in-training SVD-form allocators (``salient``, ``adalora``).

A *triplet* is one rank of one edge: a column of P, an entry of λ and a row of Q. The N triplets
of a handle are indexed globally, edge after edge in the handle's order. Pruning works in
PARAMETERS, not in triplet counts: a triplet of edge e costs ``e.cost(1, "svd")`` =
d_in + d_out + 1, so an FFN triplet costs more than an attention one. :func:`keep_within` keeps
the highest-scoring triplets whose summed cost fits the limit — i.e. it prunes lowest score first
until the adapter parameters fit. With equal costs this is exactly "keep the top-b triplets"
(the papers' triplet budget); with unequal costs it can keep more cheap triplets than a triplet
count would, and never exceeds the parameter budget the harness checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rankscope.allocators.options import steps_option  # noqa: F401  (re-exported: the SVD allocators' phases)
from rankscope.allocators.proxy.select import default_rank_on, supernet
from rankscope.errors import InputError
from rankscope.salience import require_pruning


def svd_supernet(ctx, init_rank: int | None):
    """(r₀, the SVD-form supernet): every edge at r₀ (default 4 × the budget's uniform rank).
    Refuses a budget at or above the supernet's size: there would be nothing to prune."""
    r0 = init_rank or default_rank_on(ctx.space, ctx.budget)
    net = supernet(ctx.space, r0, form="svd")
    require_pruning(net.params, ctx.budget.params)
    return r0, net


class Triplets:
    """Flat view of every triplet of an SVD-form handle (rebuild after ``compact()``)."""

    def __init__(self, handle):
        if handle.form != "svd":
            raise InputError(f"SVD-form allocators need form='svd' adapters, got {handle.form!r}")
        self.handle = handle
        self.ids = list(handle.adapters.keys())
        self.adapters = [handle.adapters[i] for i in self.ids]
        sizes = [a.rank for a in self.adapters]
        self.offsets = [0]
        for r in sizes:
            self.offsets.append(self.offsets[-1] + r)
        self.groups = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes, dtype=torch.long))
        unit = [handle.space.edge(i).cost(1, "svd") for i in self.ids]
        self.costs = torch.repeat_interleave(torch.tensor(unit, dtype=torch.float64), torch.tensor(sizes))

    @property
    def n(self) -> int:
        return self.offsets[-1]

    def lam(self) -> torch.Tensor:
        """The live singular values λ ⊙ mask, float32 [N] (pruned triplets read 0)."""
        return torch.cat([(a.lam.detach() * a.mask).float().cpu() for a in self.adapters])

    def alive(self) -> torch.Tensor:
        return torch.cat([(a.mask != 0).cpu() for a in self.adapters])

    def params(self, keep: torch.Tensor) -> int:
        return int(round(float(self.costs[keep].sum())))

    def split(self, flat: torch.Tensor):
        for k, a in enumerate(self.adapters):
            yield a, flat[self.offsets[k]:self.offsets[k + 1]]

    def set_masks(self, keep: torch.Tensor) -> None:
        with torch.no_grad():
            for a, kk in self.split(keep):
                a.mask.copy_(kk.to(a.mask.dtype).to(a.mask.device))

    def zero_lam(self, keep: torch.Tensor) -> None:
        """AdaLoRA's reversible mask: zero λ of the dropped triplets in place (they can regrow)."""
        with torch.no_grad():
            for a, kk in self.split(keep):
                a.lam.masked_fill_(~kk.to(a.lam.device), 0.0)

    def compact(self, state) -> "Triplets":
        """Slice masked ranks away, carry AdamW moments to the smaller parameters, and return the
        view of the compacted handle (edges with no rank left are gone)."""
        state.rebuild_optimizer(self.handle.compact())
        return Triplets(self.handle)


def keep_within(scores: torch.Tensor, costs: torch.Tensor, limit: float,
                alive: torch.Tensor | None = None) -> torch.Tensor:
    """Boolean keep-mask: the highest ``scores`` (among ``alive``) whose cumulative cost ≤ limit.

    Ties are broken by triplet index (stable sort), so exactly the budget is kept — no
    over-pruning at a tied threshold (SalientLoRA ambiguity A17). Dead triplets stay dead.
    """
    scores = torch.as_tensor(scores, dtype=torch.float64)
    alive = torch.ones_like(scores, dtype=torch.bool) if alive is None else alive
    s = torch.where(alive, scores, torch.full_like(scores, -torch.inf))
    order = torch.argsort(-s, stable=True)
    fits = torch.cumsum(costs[order], 0) <= limit * (1 + 1e-12)
    keep = torch.zeros_like(alive)
    keep[order[fits]] = True
    return keep & alive


@dataclass
class PruneEvent:
    step: int
    budget: int
    params: int
    triplets: int
    window: int = 0
    seconds: float = 0.0
    graph_edges: int = 0

    def to_dict(self):
        return dict(self.__dict__)
