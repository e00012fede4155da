"""GRAD-NORM (Abdelfattah et al. 2021; HeteroLoRA ``importance_testing/grad_norm.py``).

    score_e = Σ_θ ‖∇_θ 𝓛‖_F   over the edge's factors (LoRA: ‖∇A‖_F + ‖∇B‖_F)

a sum of per-factor Frobenius norms, not the norm of their concatenation (as the code). With
B = 0, ∇A = 0 and the score is ‖∇B‖_F, so it is informative at initialisation.
"""

from rankscope.scoring import Proxy


class GradNorm(Proxy):
    name = "grad_norm"

    def finish(self, ctx):
        return {eid: sum(float(g.norm()) for g in gs.values()) for eid, gs in ctx.grads.items()}
