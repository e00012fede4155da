"""Options of the ``sparse`` allocator (group-sparse LoRA supernet, :mod:`.sparse`).

============== ============ =====================================================================
option         default      meaning
============== ============ =====================================================================
init_rank      —            r₀ of every edge in the supernet; unset: ``init_multiple`` × uniform
init_multiple  16           r₀ = this × the budget's uniform rank (planted: 20; GLUE r2: 32).
                            Larger than salient's 4 ×, so a few edges can take high ranks
sparse_start   0.1          t_init: plain training before the first proximal step (steps or
                            fraction of the run)
sparse_end     0.5          t_end: the exact cut to the budget (steps or fraction); the final
                            phase trains the allocation for the rest of the run
kappa          0.5          κ: the shrinkage per step as a fraction of Adam's largest column
                            growth η·√d_out (0 = magnitude pruning on the cubic schedule alone)
interval       1            cut to B(t) every this many steps of the sparse phase
compact        true         slice the cut ranks away at t_end (AdamW moments kept)
============== ============ =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from rankscope.allocators.options import AllocatorOptions, init_rank_check


@dataclass
class SparseOptions(AllocatorOptions):
    label = "sparse"

    init_rank: int | None = None
    init_multiple: int = 16
    sparse_start: float | int = 0.1
    sparse_end: float | int = 0.5
    kappa: float = 0.5
    interval: int = 1
    compact: bool = True

    def checks(self):
        return [
            init_rank_check(self.init_rank),
            (isinstance(self.init_multiple, int) and self.init_multiple >= 1,
             f"init_multiple must be an integer >= 1, got {self.init_multiple!r}"),
            (isinstance(self.kappa, (int, float)) and self.kappa >= 0, f"kappa must be >= 0, got {self.kappa!r}"),
            (isinstance(self.interval, int) and self.interval >= 1,
             f"interval must be an integer >= 1, got {self.interval!r}"),
        ]
