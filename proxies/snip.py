"""SNIP (Lee et al. 2019; HeteroLoRA ``importance_testing/snip.py``).

    score_e = Σ_θ Σ_ij |θ ⊙ ∇_θ 𝓛|_ij     (|·| after summing gradients over the K batches)

the connection sensitivity of multiplicative masks c = 1 on A and B. Identically 0 while B = 0
(both terms vanish), so use it after warm-up steps.
"""

from rankscope.scoring import Proxy, connection_sensitivity


class Snip(Proxy):
    name = "snip"
    zero_at_init = True

    def finish(self, ctx):
        return {eid: connection_sensitivity(ctx.handle.adapters[eid], gs) for eid, gs in ctx.grads.items()}
