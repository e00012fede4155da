"""The interface every adapter form implements.

An adapter of rank r factors its update as  Δ(x) = up · diag(g) · down · x,  where

    down : r × d_in     (LoRA: A,  SVD: Q)
    g    : r            per-rank gate = scale · mask            (LoRA)
                                      = scale · mask · λ        (SVD)
    up   : d_out × r    (LoRA: B,  SVD: P)

The attach machinery (``rankscope.adapters.runtime``) only touches ``down``, ``gate()`` and ``up``, which
lets it batch all edges that share a source into one matmul and all edges that share a target
into another. ``mask`` is a 0/1 buffer of length r; :meth:`keep` physically slices ranks away
(``compact()``), which leaves the function unchanged because masked ranks contribute zero.
"""

from __future__ import annotations

import torch
from torch import nn


class LowRankAdapter(nn.Module):
    form: str = ""

    def __init__(self, d_in: int, d_out: int, rank: int, scale: float):
        super().__init__()
        self.d_in, self.d_out = d_in, d_out
        self.register_buffer("mask", torch.ones(rank))
        self.register_buffer("scale", torch.tensor(float(scale)))

    @property
    def rank(self) -> int:
        """Physical rank (rows of ``down``), masked ranks included."""
        return int(self.mask.numel())

    @property
    def active_rank(self) -> int:
        return int((self.mask != 0).sum())

    # subclasses provide: down, up (Parameters), gate(), _slice(idx)
    def gate(self) -> torch.Tensor:
        raise NotImplementedError

    def kept(self) -> torch.Tensor:
        """Indices of the unmasked ranks (what ``compact()``, saving and export keep)."""
        return torch.nonzero(self.mask != 0).flatten()

    def keep(self, idx: torch.Tensor) -> None:
        """Keep only ranks ``idx`` (new, smaller Parameters; optimizer state must be remapped)."""
        self._slice(idx)
        self.mask = self.mask[idx].clone()

    def delta_weight(self) -> torch.Tensor:
        """The dense update ΔW = up · diag(gate) · down, shape d_out × d_in."""
        return (self.up * self.gate()) @ self.down

    def extra_repr(self):
        return f"d_in={self.d_in}, d_out={self.d_out}, rank={self.rank}, scale={float(self.scale):.4g}"
