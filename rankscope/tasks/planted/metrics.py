"""Planted-task diagnostics (docs/architecture.md, "The planted-structure task")."""

from __future__ import annotations

import math

from scipy.stats import spearmanr


def planted_metrics(allocation, planted, r2: float, r2_uniform: float, r2_oracle: float) -> dict:
    """gap_closed, planted_recall, rank_spearman and the calibration ratio.

    ``planted`` is the oracle :class:`~rankscope.Allocation`. ``gap_closed`` is ``None`` when the
    oracle does not beat uniform (the task cannot tell allocators apart then), and
    ``rank_spearman`` is ``None`` when either rank vector is constant.
    """
    space = allocation.space
    total = allocation.params
    on_planted = sum(space.edge(i).cost(r, allocation.form)
                     for i, r in allocation.ranks.items() if planted.ranks[i] > 0)
    ours = [allocation.ranks[i] for i in space.ids]
    truth = [planted.ranks[i] for i in space.ids]
    rho = spearmanr(ours, truth).statistic if len(set(ours)) > 1 and len(set(truth)) > 1 else None
    gap = r2_oracle - r2_uniform
    return {
        "r2": r2,
        "r2_uniform": r2_uniform,
        "r2_oracle": r2_oracle,
        "gap_closed": (r2 - r2_uniform) / gap if gap > 1e-9 else None,
        "planted_recall": on_planted / total if total else 0.0,
        "rank_spearman": None if rho is None or math.isnan(rho) else float(rho),
        "calibration_ratio": (1 - r2_oracle) / (1 - r2_uniform) if r2_uniform < 1 else None,
        "planted_edges": {i: r for i, r in planted.ranks.items() if r > 0},
    }
