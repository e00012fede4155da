"""Singular values of an accumulated gradient G = Σ_batches gᵀx, exactly or by sketching.

G = ∂𝓛/∂ΔW (d_out × d_in) is a sum of per-batch outer-product blocks gᵀx. Small G is
accumulated densely and its singular values are exact (``torch.linalg.svdvals``). Above
``dense_limit`` entries (a LLaMA-7B FFN edge has 45M) G is never formed: a two-sided
randomized sketch (Tropp, Yurtsever, Udell & Cevher 2017, "Practical sketching algorithms for
low-rank matrix approximation", Alg. 2–3) is updated in one pass::

    Y += gᵀ (x Ω)      Ω ~ N(0,1)  [d_in, s]     range sketch:  Y = G Ω        [d_out, s]
    Z += (Ψ gᵀ) x      Ψ ~ N(0,1)  [l, d_out]    co-range:      Z = Ψ G        [l, d_in]
    finish:  Q = orth(Y);  X = (Ψ Q)⁺ Z;  G ≈ Q X;  σ(G) ≈ σ(X)

with s = k + oversample and l = 2s + 1. Memory is O((d_out + d_in)·s) instead of d_out·d_in.
The top-k values are accurate when the spectrum decays past k (tested against the exact path).
"""

from __future__ import annotations

import torch


class GradientSpectrum:
    def __init__(self, d_out: int, d_in: int, k: int, *, dense_limit: int = 1 << 22,
                 oversample: int = 10, generator: torch.Generator | None = None):
        self.k = min(k, d_out, d_in)
        self.dense = d_out * d_in <= dense_limit
        if self.dense:
            self.G = torch.zeros(d_out, d_in)
        else:
            s = min(self.k + oversample, d_out, d_in)
            l = min(2 * s + 1, d_out)
            self.omega = torch.randn(d_in, s, generator=generator)
            self.psi = torch.randn(l, d_out, generator=generator)
            self.Y = torch.zeros(d_out, s)
            self.Z = torch.zeros(l, d_in)

    def add(self, g: torch.Tensor, x: torch.Tensor) -> None:
        """Add the block gᵀx (g: [N, d_out], x: [N, d_in])."""
        if self.dense:
            self.G.addmm_(g.T, x)
        else:
            self.Y.addmm_(g.T, x @ self.omega)
            self.Z.addmm_(self.psi @ g.T, x)

    def singular_values(self, right: torch.Tensor | None = None) -> torch.Tensor:
        """The top-k singular values of G (or of G·``right``, ``right`` [d_in, d_in] invertible),
        descending, length ``k``. The sketch serves G·M too: range(G·M) = range(G), so Q is
        unchanged and the co-range sketch becomes Z·M = Ψ(G·M)."""
        if self.dense:
            return torch.linalg.svdvals(self.G if right is None else self.G @ right)[: self.k]
        q, _ = torch.linalg.qr(self.Y)
        x = torch.linalg.lstsq(self.psi @ q, self.Z if right is None else self.Z @ right).solution
        return torch.linalg.svdvals(x)[: self.k]
