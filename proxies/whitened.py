"""WHITENED (rankscope): the loss reduction of an edge's best rank-k update, to second order.

For an edge e with inputs X [N, d_in] (the rows of its source site over the K scoring batches)
and G_e = ∂𝓛/∂ΔW_e = Σ gᵀx [d_out, d_in], take the Gauss-Newton model of the loss in a dense
update ΔW with an isotropic curvature at the edge's output::

    𝓛(ΔW) ≈ 𝓛 + ⟨G, ΔW⟩ + ½ ‖ΔW Xᵀ‖²  =  𝓛 + ⟨G, ΔW⟩ + ½ tr(ΔW C ΔWᵀ),   C = XᵀX

Substituting ΔW = M C^{-½} turns it into 𝓛 + ⟨G C^{-½}, M⟩ + ½‖M‖², whose best rank-k M
(Eckart–Young) is minus the top-k SVD of the *whitened gradient* G C^{-½}. The loss falls by

    ½ Σ_{i≤k} σ_i²(G C^{-½}),   so the k-th rank of edge e is worth   v_{e,k} = σ_k²(G_e C_e^{-½})

and the shared projection allocates by value per parameter. Compare ``spectral``, v = σ_k(G):
a first-order step of fixed norm, which favours edges whose inputs have large variance
(docs/results/planted.md, "Diagnosis: why allocators miss the planted edges": the R2/S shortcuts of every block). Whitening asks
instead what the edge can *achieve*, measured in the loss, at rank k. The same quantity drives
LoRA-GA's initialisation (Wang et al. 2024, arXiv 2407.05000), EVA's input-activation SVD
(Paischer et al. 2024, arXiv 2410.07170) and GoRA's gradient-based rank choice (He et al. 2025,
arXiv 2502.12171); this proxy combines the gradient and the input covariance into one score.

Details:
- rows whose output gradient is zero (padding, tokens the loss never reads) are left out of C:
  their curvature is zero, and they would only dilute the whitening;
- C is damped, C + δ·(tr C / d_in)·I with δ = ``DAMPING`` (1e-2), so directions the data never
  visits cannot be bought for free;
- inputs wider than ``DENSE_COV_LIMIT`` (4,096) use the diagonal of C (a Jacobi whitening):
  a dense C of a LLaMA-7B FFN input would be 11,008² floats per edge;
- G is dense or sketched exactly as in ``spectral`` (:class:`rankscope.scoring.GradientSpectrum`).
"""

import torch

from rankscope.proxies.spectral import Spectral

DAMPING = 1e-2
DENSE_COV_LIMIT = 4096


def inverse_sqrt(cov: torch.Tensor, damping: float) -> torch.Tensor:
    """(C + δ·mean(diag C)·I)^{-½} for a dense C [d, d], or elementwise for a diagonal C [d]."""
    scale = damping * float(cov.diagonal().mean() if cov.dim() == 2 else cov.mean())
    scale = scale if scale > 0 else 1.0
    if cov.dim() == 1:
        return torch.diag((cov + scale).rsqrt())
    evals, evecs = torch.linalg.eigh(cov.double())
    return ((evecs * (evals.clamp_min(0) + scale).rsqrt()) @ evecs.T).float()


class Whitened(Spectral):
    """``spectral``'s accumulation of G, plus each edge's input covariance C."""

    name = "whitened"

    def __init__(self, dense_limit: int = 1 << 22):
        super().__init__(dense_limit)
        self._covs = {}

    def on_batch(self, records):
        for eid in records.edge_ids:
            d_in = records.space.edge(eid).d_in
            if eid not in self._covs:
                self._covs[eid] = torch.zeros(d_in, d_in) if d_in <= DENSE_COV_LIMIT else torch.zeros(d_in)
            x, g = records.io(eid)
            seen = g.abs().amax(1) > 0  # rows the loss reads
            self.add_block(records.space.edge(eid), g[seen], x[seen])
            cov = self._covs[eid]
            cov.addmm_(x[seen].T, x[seen]) if cov.dim() == 2 else cov.add_(x[seen].pow(2).sum(0))

    def finish(self, ctx):
        whiten = {eid: inverse_sqrt(cov, DAMPING) for eid, cov in self._covs.items()}
        self._covs = {}
        return {eid: [s * s for s in v] for eid, v in self.spectra(ctx, right=whiten).items()}
