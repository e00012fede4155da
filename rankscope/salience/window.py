"""SalientLoRA's adaptive time-series window and pruning schedule (docs/architecture.md, "SalientLoRA and AdaLoRA").

Phases over ``total`` optimizer steps: warm-up of n_i steps (no pruning), allocation over n_f
steps (windowed pruning), then the final phase (masks frozen). During allocation, every step::

    c      = (t − n_i) / n_f                          the corrected progress (default)
           = (t − n_i) / (n_i + n_f)                  the released code's ("code"; quirk A7:
                                                      c never reaches 1, the target is missed)
    T(t)   = round(T_f + (T_i − T_f) · (1 − c)³)      window length, eases from T_i up to T_f
    countdown −= 1   (starts at T_i)
    prune when countdown hits 0 (then countdown = T(t)), to
    B(t)   = ⌊B₀ − (T(t)/T_f) · (B₀ − B_t)⌋           the budget, in PARAMETERS here (the code
                                                      counts triplets; see the allocator)

``final_prune`` (default on) forces one last prune to exactly B_t at t = n_i + n_f, which the
code never does. Windows lengthen as training proceeds: frequent cheap pruning early, long and
stable windows late; the whole run holds only a handful of prune events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rankscope.errors import InputError


def require_pruning(budget_init: int, budget_target: int) -> None:
    """An in-training pruner needs a target below its initial supernet; say so clearly."""
    if budget_target >= budget_init:
        raise InputError(
            f"the target budget ({budget_target:,} parameters) is at or above the initial "
            f"supernet's ({budget_init:,}): nothing to prune; lower the budget or raise init_rank")


@dataclass
class WindowSchedule:
    total: int
    n_i: int
    n_f: int
    T_i: int = 10
    T_f: int = 200
    budget_init: int = 0
    budget_target: int = 0
    variant: str = "corrected"  # or "code"
    final_prune: bool = True

    def __post_init__(self):
        if self.variant not in ("corrected", "code"):
            raise InputError(f"schedule must be 'corrected' or 'code', got {self.variant!r}")
        if self.n_i < 0 or self.n_f < 1:
            raise InputError(f"init_steps (n_i = {self.n_i}) must be >= 0 and allocation_steps "
                             f"(n_f = {self.n_f}) >= 1")
        if self.n_i + self.n_f >= self.total:
            raise InputError(
                f"the pruning schedule does not fit the run: init_steps + allocation_steps = "
                f"{self.n_i} + {self.n_f} = {self.n_i + self.n_f} must be below the {self.total} "
                f"training steps (the final phase needs at least one step)")
        if not (1 <= self.T_i <= self.T_f):
            raise InputError(f"windows need 1 <= T_i <= T_f, got T_i={self.T_i}, T_f={self.T_f}")
        require_pruning(self.budget_init, self.budget_target)
        self.countdown = self.T_i

    @property
    def end(self) -> int:
        """Last step of the allocation phase (snapshots are taken for n_i < t ≤ end)."""
        return self.n_i + self.n_f

    def recording(self, t: int) -> bool:
        return self.n_i < t <= self.end

    def window_length(self, t: int) -> int:
        denom = self.n_f if self.variant == "corrected" else self.n_i + self.n_f
        c = min(1.0, (t - self.n_i) / denom)
        return int(round(self.T_f + (self.T_i - self.T_f) * (1.0 - c) ** 3))

    def step(self, t: int) -> int | None:
        """Advance the countdown at step t; return the parameter budget to prune to, or None."""
        if not self.recording(t):
            return None
        T = self.window_length(t)
        self.countdown -= 1
        last = t == self.end and self.final_prune
        if self.countdown > 0 and not last:
            return None
        self.countdown = T
        if last:
            return self.budget_target
        return math.floor(self.budget_init - (T / self.T_f) * (self.budget_init - self.budget_target))
