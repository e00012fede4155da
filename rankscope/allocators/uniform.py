"""``uniform``: the reference allocator — the same rank on every edge, at the budget.

The largest uniform rank that fits is taken on every edge; what is left is spent one rank at a
time in edge order. Both steps are the shared projection applied to *rank-level* scores
v_{e,k} = (R − k)·cost₁(e): every edge's k-th rank has the same value per parameter, so greedy
selection fills level k on all edges before level k + 1.

The whole contract in a few lines: ``propose`` returns a :class:`~.context.Plan` with no hook.

>>> import rankscope as rs
>>> model, _ = rs.load_model("tiny-bert", 2)
>>> space = rs.build_space("lora-qv", model)
>>> alloc = uniform_allocation(space, rs.Budget.parse("r2", space))
>>> sorted(set(alloc.ranks.values())), alloc.params == rs.Allocation.uniform(space, 2).params
([2], True)
"""

from __future__ import annotations

from rankscope.allocation.projection import project_to_budget
from rankscope.allocators.base import Allocator
from rankscope.allocators.context import AllocationContext, Plan


def uniform_allocation(space, budget, form: str = "lora"):
    top = max(e.max_rank for e in space.edges) + 1
    scores = {e.id: [(top - k) * e.cost(1, form) for k in range(1, e.max_rank + 1)] for e in space.edges}
    return project_to_budget(space, scores, budget, form=form)


class UniformAllocator(Allocator):
    name = "uniform"
    before_training = True

    def propose(self, ctx: AllocationContext) -> Plan:
        return Plan(uniform_allocation(ctx.space, ctx.budget))
