"""CONSTANT (HeteroLoRA baseline): score 1 for every edge.

Every edge ties, and ties are broken uniformly at random (seeded) by the selection, so this is
the random-allocation baseline at the same budget.
"""

from rankscope.scoring import Proxy


class Constant(Proxy):
    name = "constant"

    def finish(self, ctx):
        return {eid: 1.0 for eid in ctx.handle.adapters}
