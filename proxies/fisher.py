"""FISHER (Theis et al. 2018; Turner et al. 2020; the zero-cost form of Abdelfattah et al. 2021).

Channel-wise Fisher pruning saliency on the edge's rank bottleneck u = gate ⊙ (down · x)
(the r "channels" of the adapter). Per scoring batch, with ∂ℓ̄/∂u = (∂ℓ̄/∂y) · up::

    Δ_{i,c} = Σ_t u_{i,t,c} · ∂ℓ̄/∂u_{i,t,c}         (example i, token t, channel c)
    score_e += ½ Σ_c mean_i Δ_{i,c}²

summed over the K batches. Listed but unimplemented in the HeteroLoRA code. Zero while B = 0.
"""

from rankscope.scoring import Proxy


class Fisher(Proxy):
    name = "fisher"
    zero_at_init = True
    needs_records = True

    def __init__(self):
        self._acc = {}

    def on_batch(self, records):
        for eid in records.edge_ids:
            x, g = records.io(eid)
            u = records.bottleneck(eid, x)
            gu = g @ records.handle.adapters[eid].up.detach().float()  # ∂ℓ̄/∂u
            delta = records.per_example(u * gu).sum(1)  # [B, r]
            self._acc[eid] = self._acc.get(eid, 0.0) + 0.5 * float(delta.pow(2).mean(0).sum())

    def finish(self, ctx):
        out = {eid: self._acc.get(eid, 0.0) for eid in ctx.handle.adapters}
        self._acc = {}
        return out
