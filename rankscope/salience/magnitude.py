"""Orthogonality-aware magnitude (OAM), SalientLoRA §2.3 (docs/architecture.md, "SalientLoRA and AdaLoRA").

Over a window of T optimizer steps with one orthogonality value R_k per step (the mean
‖PᵀP − I‖_F, ‖QQᵀ − I‖_F over all adapters, one scalar per step)::

    w_k   = (Σ_j R_j) / R_k                         larger when the factors are more orthogonal
    ŵ_k   = (w_k − min w) / (max w − min w)         the least-orthogonal step gets weight 0
    mag_i = Σ_k ŵ_k · |λ_i(k)|                      λ_i is only a singular value when P, Q are
    OAM_i = mag_i / Σ_{i' in the same matrix} mag_i'    orthogonal; OAM sums to 1 per matrix

Constant R (all steps equally orthogonal) makes the min–max normalisation 0/0; the code then
produces NaN. We give every step weight 1 instead (documented handling; tested). A matrix whose
magnitudes are all 0 (every triplet pruned, or λ still 0) gets OAM 0.

**Scope** (``scope``; rankscope's option ``oam_scope``). The paper normalises within each matrix
(``"matrix"``, the default): OAM only ranks a triplet against its own matrix's others, so a
matrix whose λ are spread evenly keeps all its triplets (each ≈ 1/r) while a matrix with one
dominant direction loses its secondary ones first, and a matrix's last live triplet has OAM 1
and is never pruned. ``"global"`` (beyond the paper) divides by the sum over all N triplets
instead and multiplies by the number of matrices M, so the scale (sum M, mean 1/r₀) is the
paper's and the mix with ID is unchanged, but triplets of different matrices compare by their
own weighted |λ|::

    OAM_i^global = M · mag_i / Σ_{i'} mag_i'
"""

from __future__ import annotations

import torch


def orthogonality_weights(R: torch.Tensor) -> torch.Tensor:
    """ŵ of shape [T] from the per-step orthogonality series R of shape [T] (float64)."""
    R = R.to(torch.float64)
    w = R.sum() / R.clamp_min(torch.finfo(torch.float64).tiny)
    span = w.max() - w.min()
    if not torch.isfinite(span) or span <= 1e-12 * w.abs().max().clamp_min(1.0):
        return torch.ones_like(w)
    return (w - w.min()) / span


SCOPES = ("matrix", "global")


def orthogonality_aware_magnitude(X: torch.Tensor, R: torch.Tensor, groups: torch.Tensor,
                                  scope: str = "matrix") -> torch.Tensor:
    """OAM of every triplet: X is the λ series [N, T], R the orthogonality series [T], and
    ``groups[i]`` the matrix (edge) index of triplet i. Returns float64 [N], summing to 1 (or 0)
    within each matrix (``scope="matrix"``), or to M over all triplets (``"global"``)."""
    if scope not in SCOPES:
        raise ValueError(f"OAM scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    w = orthogonality_weights(R)
    mag = X.abs().to(torch.float64) @ w
    if scope == "global":
        total = mag.sum()
        return mag * len(torch.unique(groups)) / total if total > 0 else torch.zeros_like(mag)
    n_groups = int(groups.max()) + 1 if groups.numel() else 0
    per_matrix = torch.zeros(n_groups, dtype=torch.float64).index_add_(0, groups, mag)
    denom = per_matrix[groups]
    return torch.where(denom > 0, mag / denom.clamp_min(torch.finfo(torch.float64).tiny), torch.zeros_like(mag))
