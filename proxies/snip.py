"""SNIP (Lee et al. 2019; HeteroLoRA ``importance_testing/snip.py``).

    score_e = Σ_θ Σ_ij |θ ⊙ ∇_θ 𝓛|_ij     (|·| after summing gradients over the K batches)

the connection sensitivity of multiplicative masks c = 1 on A and B. Identically 0 while B = 0
(both terms vanish), so use it after warm-up steps.
"""

from rankscope.scoring import Proxy


class Snip(Proxy):
    name = "snip"
    zero_at_init = True

    def finish(self, ctx):
        adapters = ctx.handle.adapters
        return {eid: sum(float((getattr(adapters[eid], n).detach() * g).abs().sum()) for n, g in gs.items())
                for eid, gs in ctx.grads.items()}
