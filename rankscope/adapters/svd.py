"""SVD form (AdaLoRA, Zhang et al. 2023, eq. 3; SalientLoRA §1):  Δ(x) = (α/r₀) · P diag(λ) Q x.

Q: r₀ × d_in and P: d_out × r₀ ~ N(0, 0.02²); λ = 0, so a fresh adapter is the identity change.
The scale α/r₀ uses the *initial* rank and never changes (AdaLoRA issue #12: rescaling by the
live rank hurts), so pruning never changes the factor of the surviving triplets (measured: they
move 1.4–2.0× as far as on an unpruned edge, docs/results/rank-stability.md), and the LoRA form's rule (``scaling``) does not apply to it
(as PEFT's AdaLoRA, which has no ``use_rslora``). :meth:`orth_penalty` is the regulariser ‖QQᵀ − I‖_F + ‖PᵀP − I‖_F (not squared,
as in PEFT and the SalientLoRA code).
"""

from __future__ import annotations

import torch
from torch import nn

from rankscope.adapters.base import LowRankAdapter


class SVDAdapter(LowRankAdapter):
    form = "svd"
    RANK_DIMS = {"Q": 0, "lam": 0, "P": 1}

    def __init__(self, d_in, d_out, rank, alpha: float, generator: torch.Generator | None = None):
        super().__init__(d_in, d_out, rank, scale=alpha / rank)
        self.Q = nn.Parameter(torch.empty(rank, d_in))
        self.lam = nn.Parameter(torch.zeros(rank))
        self.P = nn.Parameter(torch.empty(d_out, rank))
        with torch.no_grad():
            self.Q.normal_(0.0, 0.02, generator=generator)
            self.P.normal_(0.0, 0.02, generator=generator)

    @property
    def down(self):
        return self.Q

    @property
    def up(self):
        return self.P

    def gate(self):
        return self.lam * self.mask * self.scale

    def orth_penalty(self) -> torch.Tensor:
        """(‖QQᵀ − I‖_F, ‖PᵀP − I‖_F): the two terms of the orthogonality regulariser."""
        eye = torch.eye(self.rank, device=self.Q.device, dtype=self.Q.dtype)
        return torch.linalg.matrix_norm(self.Q @ self.Q.T - eye), torch.linalg.matrix_norm(self.P.T @ self.P - eye)

    def _slice(self, idx):
        self.Q = nn.Parameter(self.Q.detach()[idx].clone())
        self.lam = nn.Parameter(self.lam.detach()[idx].clone())
        self.P = nn.Parameter(self.P.detach()[:, idx].clone())
