"""Decision units: what one Optuna parameter controls, and how a trial's values become an
allocation through the shared projection (so every proposal is feasible by construction).

A unit is one edge (``units="edge"``) or a group of edges of one type in one bucket of blocks
(``units="group"``: ``type × block bucket``, e.g. ``value@b0`` = the value projections of the
first third of the blocks), so large spaces stay searchable with few parameters.

A trial suggests ``s_u ∈ [0, 1]`` per unit. Edge ``e`` of unit ``u`` gets the per-rank values

    v_{e,k} = s_u · cost₁(e) / k          (k = 1 … max_rank)

so each rank's value per parameter is ``s_u / k`` whatever the edge's size, and the greedy
knapsack of :func:`~rankscope.allocation.projection.project_to_budget` stops at a common threshold τ:
``rank_e ≈ s_u / τ``. Ranks are therefore *proportional* to the suggested values and the budget
is spent in full. All ``s_u`` equal gives exactly the uniform allocation; ``s_u = 0`` switches a
unit off whenever the budget runs out before value 0 is reached.
"""

from __future__ import annotations

from rankscope.allocation.allocation import Allocation
from rankscope.allocation.projection import project_to_budget, proportional_rank_values
from rankscope.errors import InputError

UNIT_MODES = ("auto", "edge", "group")
AUTO_EDGE_LIMIT = 64  # "auto": one unit per edge up to this many edges, groups above


class DecisionUnits:
    def __init__(self, space, mode: str = "auto", buckets: int = 3):
        if mode not in UNIT_MODES:
            raise InputError(f"unknown units {mode!r}; valid: {', '.join(UNIT_MODES)}")
        if mode == "auto":
            mode = "edge" if len(space.edges) <= AUTO_EDGE_LIMIT else "group"
        self.space, self.mode = space, mode
        layers = sorted({e.layer for e in space.edges if e.layer is not None})
        n_layers = max(layers) + 1 if layers else 1
        self.members: dict[str, list[str]] = {}
        for e in space.edges:
            if mode == "edge":
                unit = e.id
            else:
                where = "all" if e.layer is None else f"b{min(buckets - 1, e.layer * buckets // n_layers)}"
                unit = f"{e.type}@{where}"
            self.members.setdefault(unit, []).append(e.id)
        self.unit_of = {eid: u for u, ids in self.members.items() for eid in ids}

    @property
    def names(self) -> list[str]:
        return list(self.members)

    def allocation(self, values: dict[str, float], budget_params: int, form: str = "lora") -> Allocation:
        """The allocation that trial ``values`` (``{unit: s_u}``) describe, within ``budget_params``."""
        scores = {e.id: float(values[self.unit_of[e.id]]) for e in self.space.edges}
        return project_to_budget(self.space, proportional_rank_values(self.space, scores, per_parameter=True,
                                                                      form=form), budget_params, form=form)

    def values_from(self, allocation: Allocation) -> dict[str, float]:
        """Unit values that reproduce ``allocation`` (a warm start): each unit's mean rank, scaled
        so the largest is 1. Used to enqueue the uniform and ``proxy-static`` allocations."""
        means = {u: sum(allocation.ranks[eid] for eid in ids) / len(ids) for u, ids in self.members.items()}
        top = max(means.values()) or 1.0
        return {u: m / top for u, m in means.items()}
