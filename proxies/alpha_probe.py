"""ALPHA-TEST (HeteroLoRA ``importance_testing/alpha_test.py``): an ablation heuristic, not
zero-cost.

For each edge, binary-search the smallest α ∈ {0, 0.1, …, 1.0} such that

    metric(α) ≥ (1 − tol) · metric(1)          (the task's primary metric on the K batches)

where a LoRA edge scales its *whole* layer output, y ← α·(W x + b + ΔW x) (the code's choice,
frozen W included), and a shortcut edge scales only its low-rank delta. A larger α means the
edge matters more. About log₂ 11 ≈ 4 evaluations of the K batches per edge, so it costs
roughly 4·|E| forward passes. ``tol`` defaults to the code's 0.01.
"""

import torch

from rankscope.harness.loop import evaluate_batches
from rankscope.scoring import Proxy
from rankscope.space.edge import parse_site

GRID = [i / 10 for i in range(11)]


class AlphaTest(Proxy):
    name = "alpha_test"

    def __init__(self, tol: float = 0.01):
        self.tol = tol

    def _metric(self, ctx):
        obj = ctx.objective
        value = evaluate_batches(ctx.model, obj, ctx.batches)[obj.primary]
        return value if obj.greater_is_better else -value

    def finish(self, ctx):
        modules = dict(ctx.model.named_modules())
        space, adapters = ctx.handle.space, ctx.handle.adapters
        full = self._metric(ctx)
        goal = full - self.tol * abs(full)
        out = {}
        for eid in adapters:
            e = space.edge(eid)
            a = adapters[eid]

            def metric_at(alpha):
                if e.kind == "lora":
                    path, _ = parse_site(e.dst)
                    hook = modules[path].register_forward_hook(
                        lambda m, i, o, s=alpha: o * s if torch.is_tensor(o) else (o[0] * s,) + tuple(o[1:]))
                    try:
                        return self._metric(ctx)
                    finally:
                        hook.remove()
                saved = a.mask.clone()
                a.mask.mul_(alpha)
                try:
                    return self._metric(ctx)
                finally:
                    a.mask.copy_(saved)

            lo, hi = 0, len(GRID) - 1  # GRID[hi] = 1 always meets the goal
            while lo < hi:
                mid = (lo + hi) // 2
                if metric_at(GRID[mid]) >= goal:
                    hi = mid
                else:
                    lo = mid + 1
            out[eid] = GRID[lo]
        return out
