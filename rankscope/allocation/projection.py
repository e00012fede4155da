"""The shared projection helper: real-valued scores → a feasible integer allocation.

Every allocator goes through :func:`project_to_budget`, so rounding and feasibility live in one
place. Two score shapes are accepted:

* **per edge** (``{edge: s}``): each edge is a single on/off unit at rank ``rank_on`` (default
  its ``max_rank``), the HeteroLoRA granularity;
* **per rank** (``{edge: [v₁, v₂, …]}``): ``v_k`` is the marginal value of the k-th rank of the
  edge (e.g. the k-th singular value of a gradient). Values are made non-increasing in k
  (``v_k ← min_{j≤k} v_j``) so that a rank is never worth more than the one before it; this
  guarantees that greedy selection takes ranks in order.

Algorithm (greedy knapsack by value per parameter, then fill)::

    units  = [(edge, size, value)]                      # size = ranks the unit adds
    order  = sort by value / cost(unit), descending; ties by edge order, then rank
    take every unit, in order, that still fits under the budget (and extends its edge in order)
    fill:  per-edge mode only — spend what is left one rank at a time, best edges first,
           never above rank_on

Guarantee: the result never exceeds the budget; when the budget is at least 20 single-rank
units, at least 95 % of min(budget, capacity) is used (tested with hypothesis).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from rankscope.allocation.allocation import Allocation
from rankscope.errors import InputError


def _as_budget_params(budget) -> int:
    return int(getattr(budget, "params", budget))


def project_to_budget(space, scores: Mapping[str, float | Sequence[float]], budget, *,
                      form: str = "lora", rank_on: int | Mapping[str, int] | None = None,
                      tiebreak: Mapping[str, float] | None = None, fill: bool = True) -> Allocation:
    """Project ``scores`` onto an allocation whose cost is at most ``budget``.

    Edges missing from ``scores`` get rank 0. A NaN or infinite score is an error that names
    the edge (callers decide about fallbacks before projecting). ``tiebreak`` orders edges of
    equal value (default: edge order; HeteroLoRA breaks ties at random, so its allocators pass a
    seeded random key). ``fill=False`` skips the per-edge fill step, so every edge is exactly
    on (at ``rank_on``) or off — what a dynamic on/off toggle needs.
    """
    second = (lambda eid: tiebreak[eid]) if tiebreak is not None else space.index
    limit = _as_budget_params(budget)
    if not scores:
        raise InputError("no scores to project: the score mapping is empty")
    per_rank = any(isinstance(v, (list, tuple, np.ndarray)) and np.ndim(v) == 1
                   for v in scores.values())
    for eid, v in scores.items():
        arr = np.atleast_1d(np.asarray(v, dtype=float))
        if not np.all(np.isfinite(arr)):
            raise InputError(f"score of edge {eid!r} is not finite ({v!r}); cannot project")
        space.edge(eid)  # raises for unknown ids

    ranks = {e.id: 0 for e in space.edges}
    used = 0
    if per_rank:
        units = []  # (ratio, edge_index, k, eid, unit_cost)
        for eid, v in scores.items():
            e = space.edge(eid)
            vals = np.minimum.accumulate(np.atleast_1d(np.asarray(v, dtype=float))[: e.max_rank])
            c = e.cost(1, form)
            for k, val in enumerate(vals, start=1):
                # 12 significant digits: values equal per parameter up to float error must tie
                units.append((float(f"{-val / c:.12e}"), second(eid), k, eid, c))
        units.sort()
        for _, _, k, eid, c in units:
            if ranks[eid] == k - 1 and used + c <= limit:
                ranks[eid] = k
                used += c
        return Allocation(space, ranks, form)

    def on_rank(eid):
        r = rank_on.get(eid) if isinstance(rank_on, Mapping) else rank_on
        return min(int(r), space.edge(eid).max_rank) if r is not None else space.edge(eid).max_rank

    order = sorted(scores, key=lambda eid: (-float(scores[eid]) / space.edge(eid).cost(on_rank(eid), form)
                                            if on_rank(eid) > 0 else math.inf, second(eid)))
    for eid in order:
        c = space.edge(eid).cost(on_rank(eid), form)
        if on_rank(eid) > 0 and used + c <= limit:
            ranks[eid] = on_rank(eid)
            used += c
    # Fill: leftover budget goes to the best edges not yet at rank_on, one rank at a time.
    for eid in order if fill else ():
        unit = space.edge(eid).cost(1, form)
        room = on_rank(eid) - ranks[eid]
        add = min(room, (limit - used) // unit)
        if add > 0:
            ranks[eid] += add
            used += add * unit
    return Allocation(space, ranks, form)


def proportional_rank_values(space, scores: Mapping[str, float], *, per_parameter: bool = False,
                             form: str = "lora") -> dict[str, list[float]]:
    """Scalar scores → per-rank values ``v_{e,k} = s_e / k`` (× ``cost₁(e)`` when
    ``per_parameter``), the ``1/k`` decay that makes greedy projection give ranks roughly
    proportional to the scores: ``rank_e ≈ s_e / τ`` for a common threshold τ. With
    ``per_parameter`` the proportionality holds in rank whatever each edge's size costs."""
    out = {}
    for eid, s in scores.items():
        e = space.edge(eid)
        top = float(s) * (e.cost(1, form) if per_parameter else 1.0)
        out[eid] = [top / k for k in range(1, e.max_rank + 1)]
    return out

