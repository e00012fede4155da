"""JACOB_COV (Mellor et al. 2021, NASWOT; as in Abdelfattah et al. 2021), per edge.

The network-level score correlates input Jacobians across a batch. Per edge we correlate the
per-example gradients of the edge's up factor, J_i = Σ_t (∂ℓ̄/∂y_{i,t}) u_{i,t}ᵀ (flattened,
u = gate ⊙ down·x), which are non-zero at B = 0. With Σ the B × B correlation matrix of {J_i}
and λ its eigenvalues::

    score_e = mean over batches of  −Σ_j [ log(λ_j + ε) + 1/(λ_j + ε) ],   ε = 1e-5

Higher means the edge's gradients separate the examples better (less redundant). Listed but
unimplemented in the HeteroLoRA code.
"""

import torch

from rankscope.scoring import Proxy

EPS = 1e-5


class JacobCov(Proxy):
    name = "jacob_cov"
    needs_records = True

    def __init__(self):
        self._acc, self._n = {}, 0

    def on_batch(self, records):
        self._n += 1
        for eid in records.edge_ids:
            x, g = records.io(eid)
            u = records.bottleneck(eid, x)
            jac = torch.einsum("btd,btr->bdr", records.per_example(g), records.per_example(u)).flatten(1)
            if jac.shape[0] < 2:
                score = 0.0
            else:
                corr = torch.nan_to_num(torch.corrcoef(jac.double()))  # constant rows → 0
                lam = torch.linalg.eigvalsh(corr).clamp_min(0)
                score = float(-(torch.log(lam + EPS) + 1.0 / (lam + EPS)).sum())
            self._acc[eid] = self._acc.get(eid, 0.0) + score

    def finish(self, ctx):
        out = {eid: self._acc.get(eid, 0.0) / max(1, self._n) for eid in ctx.handle.adapters}
        self._acc, self._n = {}, 0
        return out
