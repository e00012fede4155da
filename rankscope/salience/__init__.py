"""SalientLoRA's salience of singular values over a time-series window
(docs/architecture.md, "SalientLoRA and AdaLoRA").

    salience = λ_mix · OAM + (1 − λ_mix) · M · ID          ``mix="paper"`` (default, λ_mix = 0.7)
    salience = OAM + ID                                     ``mix="code"`` (the released code)

OAM (:mod:`.magnitude`) sums to 1 within each of the M matrices, ID (:mod:`.influence`) to 1 over
all N triplets. Mixing them with a weight is only meaningful on a common scale (ambiguity A2), so
the paper mix multiplies ID by M: both terms then sum to M (mean 1/r₀ per triplet). The code's
plain sum keeps the mismatched scales, where OAM dominates every triplet without a large ID.
No gradients are involved; the cost is O(N·W + E) memory (:mod:`.dependency`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from rankscope.errors import InputError, TrainingError
from rankscope.salience.dependency import DependencyGraph, decycle, dependency_graph
from rankscope.salience.influence import influence_domain, streamed_influence
from rankscope.salience.magnitude import (
    SCOPES,
    orthogonality_aware_magnitude,
    orthogonality_weights,
)
from rankscope.salience.window import WindowSchedule, require_pruning

MIXES = ("paper", "code")


@dataclass
class SalienceResult:
    salience: np.ndarray  # [N] float64
    oam: np.ndarray
    influence: np.ndarray
    n_edges: int
    removed_for_cycles: int
    seconds: float


def salience_scores(X: torch.Tensor, R: torch.Tensor, groups: torch.Tensor, *, beta: float = 0.9,
                    gamma: float = 2.0, mix_lambda: float = 0.7, mix: str = "paper",
                    oam_scope: str = "matrix") -> SalienceResult:
    """Salience of N triplets from their λ series X [N, T] (signed), the orthogonality series R [T]
    and the matrix index ``groups`` [N]; ``oam_scope`` as in :mod:`.magnitude`."""
    t0 = time.perf_counter()
    if not torch.isfinite(X).all():
        bad = torch.nonzero(~torch.isfinite(X).all(dim=1)).flatten()[:5].tolist()
        raise TrainingError(f"singular values λ became NaN/inf (triplets {bad} …); salience cannot be "
                            f"computed: lower the learning rate or raise the orthogonality coefficient")
    if not torch.isfinite(R).all():
        raise TrainingError("the orthogonality regulariser R became NaN/inf; salience cannot be computed")
    oam = orthogonality_aware_magnitude(X, R, groups, oam_scope).numpy()
    if gamma > 1 and beta > 0:  # the paper's setting: acyclic by σ, streamed, no edge list
        ident, n_edges = streamed_influence(X, beta, gamma)
        removed = 0
    else:
        graph = dependency_graph(X, beta, gamma)
        ident, n_edges, removed = influence_domain(graph), graph.n_edges, graph.removed_for_cycles
    if mix == "paper":
        m = len(np.unique(groups.numpy()))
        sal = mix_lambda * oam + (1.0 - mix_lambda) * m * ident
    elif mix == "code":
        sal = oam + ident
    else:
        raise InputError(f"salience mix must be one of {MIXES}, got {mix!r}")
    return SalienceResult(sal, oam, ident, n_edges, removed, time.perf_counter() - t0)


__all__ = ["salience_scores", "SalienceResult", "WindowSchedule", "dependency_graph", "decycle",
           "DependencyGraph", "influence_domain", "streamed_influence", "orthogonality_aware_magnitude", "orthogonality_weights",
           "MIXES", "SCOPES", "require_pruning"]
