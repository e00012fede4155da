"""Options of the SVD-form family: ``salient`` (SalientLoRA; defaults = the paper, docs/architecture.md,
"SalientLoRA and AdaLoRA") in the table below, and ``adalora`` (:class:`AdaLoRAOptions`, as PEFT).

================ ============ ===================================================================
option           default      meaning
================ ============ ===================================================================
init_rank        4 × uniform  r₀ of every edge in the supernet (r2 budget → 8)
init_steps       0.1          n_i: warm-up without pruning (steps, or a fraction of the run)
allocation_steps 0.5          n_f: length of the pruning phase (steps or fraction; the docs'
                              meaning, A8); the final phase is the rest
T_i, T_f         10, 200      initial and final time-series window (steps)
beta             0.9          correlation threshold of a dependency edge (C_ij ≥ β)
gamma            2.0          slope threshold (S_ij ≥ γ); γ ≤ 1 needs de-cycling (networkx)
mix_lambda       0.7          λ of the paper's salience = λ·OAM + (1−λ)·M·ID
salience_mix     paper        ``paper`` (scale-matched λ mix) or ``code`` (the code's OAM + ID)
oam_scope        matrix       ``matrix``: OAM normalised within each matrix (the paper), so every
                              matrix keeps ranks; ``global``: over all triplets (× M), so
                              matrices compare by |λ| (beyond the paper; salience/magnitude.py)
schedule         corrected    ``corrected``: c = (t − n_i)/n_f; ``code``: the released code's
                              denominator (n_i + n_f), which stops short of the target (A7)
final_prune      true         force a last prune to exactly the budget at t = n_i + n_f
compact          true         after the final prune, slice pruned ranks away and train the rest
                              on the smaller matrices (beyond the paper; AdamW moments kept)
================ ============ ===================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from rankscope.allocators.options import AllocatorOptions, init_rank_check
from rankscope.salience import MIXES, SCOPES


@dataclass
class SalientOptions(AllocatorOptions):
    label = "salient"

    init_rank: int | None = None
    init_steps: float | int = 0.1
    allocation_steps: float | int = 0.5
    T_i: int = 10
    T_f: int = 200
    beta: float = 0.9
    gamma: float = 2.0
    mix_lambda: float = 0.7
    salience_mix: str = "paper"
    oam_scope: str = "matrix"
    schedule: str = "corrected"
    final_prune: bool = True
    compact: bool = True

    def checks(self):
        return [
            init_rank_check(self.init_rank),
            (self.salience_mix in MIXES, f"salience_mix must be one of {', '.join(MIXES)}"),
            (self.oam_scope in SCOPES, f"oam_scope must be one of {', '.join(SCOPES)}"),
            (self.schedule in ("corrected", "code"), "schedule must be corrected or code"),
            (0.0 <= self.mix_lambda <= 1.0, "mix_lambda must be in [0, 1]"),
            (-1.0 <= self.beta <= 1.0, "beta (a correlation threshold) must be in [-1, 1]"),
            (isinstance(self.T_i, int) and isinstance(self.T_f, int) and 1 <= self.T_i <= self.T_f,
             "windows need integers 1 <= T_i <= T_f"),
        ]


@dataclass
class AdaLoRAOptions(AllocatorOptions):
    """``init_rank`` (r₀, default 4 × uniform), ``tinit`` (warm-up; steps or fraction, default 0.1),
    ``tfinal`` (the final phase's LENGTH, as PEFT; default 0.4), ``deltaT`` (mask interval, 1),
    ``beta1``/``beta2`` (EMA factors, 0.85), ``compact`` (slice the final pattern, default off as
    PEFT). The defaults match ``salient``'s phases (10 % warm-up, 50 % allocation)."""

    label = "adalora"

    init_rank: int | None = None
    tinit: float | int = 0.1
    tfinal: float | int = 0.4
    deltaT: int = 1
    beta1: float = 0.85
    beta2: float = 0.85
    compact: bool = False

    def checks(self):
        return [
            (isinstance(self.deltaT, int) and self.deltaT >= 1, f"deltaT must be an integer >= 1, got {self.deltaT!r}"),
            init_rank_check(self.init_rank),
            (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0,
             f"beta1 and beta2 must be in [0, 1), got {self.beta1}, {self.beta2}"),
        ]
