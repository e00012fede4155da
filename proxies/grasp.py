"""GRASP (Wang et al. 2020, "Picking winning tickets before training by preserving gradient flow").

    score_e = −Σ_θ θ ⊙ (H g)     g = ∇_θ 𝓛 (accumulated over the K batches), H = ∇²_θ 𝓛

summed over the edge's factors. Hg comes from a second pass of Hessian-vector products
(∇_θ ⟨∇_θ ℓ̄_b, stop_grad(g)⟩ per batch), which is why GraSP costs about two extra backward
passes. Not in the HeteroLoRA code. As in Abdelfattah et al.'s zero-cost version, the sum
−θ⊙Hg is the score and higher is treated as better (Wang et al. prune by it at the weight level;
at the edge level the zero-cost literature uses the aggregate as is).
"""

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from rankscope.scoring import Proxy


class GraSP(Proxy):
    name = "grasp"

    def finish(self, ctx):
        params = ctx.adapter_params()
        tensors = [p for _, _, p in params]
        g = [ctx.grads[eid][n] for eid, n, _ in params]
        hg = [torch.zeros_like(p) for p in tensors]
        for batch in ctx.batches:
            # double backward needs the math attention kernel (fused CPU/GPU kernels lack it)
            with sdpa_kernel(SDPBackend.MATH):
                loss = ctx.loss(batch)
            grads = torch.autograd.grad(loss, tensors, create_graph=True, allow_unused=True)
            z = sum((gr * gi).sum() for gr, gi in zip(grads, g) if gr is not None)
            if torch.is_tensor(z) and z.requires_grad:
                for acc, h in zip(hg, torch.autograd.grad(z, tensors, allow_unused=True)):
                    if h is not None:
                        acc += h.detach()
        out = {}
        for (eid, _, p), h in zip(params, hg):
            out[eid] = out.get(eid, 0.0) - float((p.detach() * h).sum())
        return out
