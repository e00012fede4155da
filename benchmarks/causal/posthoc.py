"""PEFT's post-hoc rank allocation, run as a before-training allocator.

PEFT turns a trained adapter into LoRA with a per-module rank (``convert_to_lora`` /
``save_as_lora`` with a fractional ``rank``, huggingface/peft PR #2939): each module keeps the
fewest leading singular values of its ΔW whose energy reaches a share ρ of the total, ::

    k_m(ρ) = min { k : Σ_{i≤k} σ_{m,i}² ≥ ρ · Σ_i σ_{m,i}² }

and the ranks k_m go into a ``rank_pattern``. As an allocator at a budget B (adapter parameters,
Σ_m k_m · (d_in,m + d_out,m) ≤ B): train uniform LoRA at :data:`FACTOR` × the budget's uniform
rank, compute every module's spectrum once, take the largest ρ whose ranks fit B (bisection;
the parameter count only grows with ρ), and train that rank pattern from scratch like any
allocation. The large training and the SVDs are the allocation's cost.
"""

from __future__ import annotations

import time

#: the large uniform rank, as a multiple of the budget's uniform rank
FACTOR = 4


def energy_fractions(singular_values):
    """The share of ΔW's energy the k leading singular values hold, k = 1 … r (float64):
    ``Σ_{i≤k} σ_i² / Σ_i σ_i²``, the points where :func:`energy_rank` steps."""
    import torch

    energy = torch.cumsum(singular_values.double() ** 2, dim=0)
    return energy / energy[-1]


def energy_rank(singular_values, share: float) -> int:
    """PEFT's cutoff: the fewest leading singular values (sorted, descending) whose squared sum
    reaches ``share`` of the total; at least 1."""
    import torch

    k = int(torch.searchsorted(energy_fractions(singular_values), share).item()) + 1
    return min(k, singular_values.numel())


def spectra(pm, edges) -> dict:
    """``{edge id: singular values of the module's trained ΔW}`` for the edges PEFT adapted."""
    import torch

    by_path = {e.module: e for e in edges}
    out = {}
    for name, mod in pm.named_modules():
        edge = by_path.get(name.removeprefix("base_model.model."))
        if edge is not None and hasattr(mod, "get_delta_weight") and "default" in getattr(mod, "lora_A", {}):
            out[edge.id] = torch.linalg.svdvals(mod.get_delta_weight("default").detach().float())
    return out


def ranks_for_budget(spectra_of: dict, edges, budget_params: int, iterations: int = 60) -> tuple[float, dict]:
    """The largest energy share ρ whose ranks fit ``budget_params``, and those ranks; ρ is
    reported at the middle of the range of shares that give the same ranks."""
    by_id = {e.id: e for e in edges}

    def ranks(share):
        return {eid: energy_rank(s, share) for eid, s in spectra_of.items()}

    def params(r):  # the space's one cost function, edge by edge
        return sum(by_id[eid].cost(k) for eid, k in r.items())

    if params(ranks(0.0)) > budget_params:
        raise ValueError(f"the budget ({budget_params:,} parameters) is below rank 1 on every adapted module "
                         f"({params(ranks(0.0)):,})")
    if params(ranks(1.0)) <= budget_params:
        return 1.0, ranks(1.0)
    low, high = 0.0, 1.0  # params(ranks(low)) fits, params(ranks(high)) does not
    for _ in range(iterations):
        mid = (low + high) / 2
        low, high = (mid, high) if params(ranks(mid)) <= budget_params else (low, mid)
    # low sits a hair below a module's energy breakpoint, where float rounding (PEFT's own
    # cumulative sums) can fall on either side: return the middle of the run of shares that give
    # these ranks, between the breakpoints on either side of low
    points = sorted({float(x) for s in spectra_of.values() for x in energy_fractions(s)})
    below = max((b for b in points if b < low), default=0.0)
    above = min((b for b in points if b >= low), default=1.0)
    share = (below + above) / 2
    return (share, ranks(share)) if ranks(share) == ranks(low) else (low, ranks(low))


def peft_rank_pattern(pm, share: float) -> dict:
    """``{module path: rank}`` as PEFT's own ``convert_to_lora(model, rank=share)`` chooses it:
    its ``rank_pattern``, plus the paths it added to ``target_modules`` at the config's ``r``
    (a module whose kept rank equals ``share`` as a number, 1 == 1.0)."""
    import warnings

    from peft.tuners.lora.conversion import convert_to_lora

    with warnings.catch_warnings():  # "converting a LoRA adapter to LoRA": here that is the point
        warnings.simplefilter("ignore")
        config, _ = convert_to_lora(pm, share)
    added = {name: config.r for name in config.target_modules or () if "." in name}
    return {**added, **config.rank_pattern}


def posthoc_allocation(session, train_peft_lora) -> tuple:
    """Train uniform LoRA at :data:`FACTOR` × the budget's rank (``train_peft_lora(session, r)``
    returns the trained PEFT model), choose the ranks, and put the base model back. Returns
    ``(Allocation, record)``; the record holds ρ, the large rank, the seconds spent and whether
    PEFT's own conversion at ρ chose the same ranks."""
    from rankscope.allocation.allocation import Allocation

    t0 = time.perf_counter()
    large = FACTOR * max(session.uniform().ranks.values())
    pm = train_peft_lora(session, large)
    edges = session.space.edges
    share, ranks = ranks_for_budget(spectra(pm, edges), edges, session.budget.params)
    by_id = {e.id: e.module for e in edges}
    pattern = peft_rank_pattern(pm, share)
    agrees = all(pattern.get(by_id[eid]) == k for eid, k in ranks.items())
    pm.unload()  # the session's base model, without the large adapters, for the training that follows
    record = {"energy_share": share, "large_rank": large, "allocate_s": time.perf_counter() - t0,
              "peft_agrees": agrees}
    return Allocation(session.space, ranks), record
