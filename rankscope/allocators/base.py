"""The allocator contract: one small ABC, at most three methods.

=====================  ============================================================================
``propose(ctx)``       **required.** Before-training allocators return the allocation to train.
                       In-training allocators return the *supernet* allocation (every edge at its
                       initial rank r₀); the harness attaches it in ``form``.
``step_hook(ctx)``     in-training allocators return a :class:`~rankscope.harness.hooks.StepHook`
                       that masks/prunes ranks once per optimizer step; the final allocation is
                       read from the masks. Default: ``None`` (before-training).
``describe()``         extra facts for ``result.json["extras"]`` (scores, schedules, timings).
=====================  ============================================================================

``ctx`` is an :class:`AllocationContext`: the space, the budget, the model with its tokenizer,
the harness (to train or score through the one training loop), the seed, the options, and the
``attach_options`` (α, scaling) to attach a scoring supernet exactly as the harness would, and
for allocators with ``persistent = True`` (the Optuna study) the run directory to keep state in.
Allocators never own a training loop. Register an allocator with the ``rankscope.allocators``
entry-point group (or ``ALLOCATORS.register``); ``rankscope.testing`` checks the contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from ..registry import Registry

ALLOCATORS = Registry("rankscope.allocators", "allocator")


@dataclass
class AllocationContext:
    space: object
    budget: object
    model: object
    tokenizer: object
    harness: object
    seed: int = 0
    options: dict = field(default_factory=dict)
    attach_options: dict = field(default_factory=dict)  # alpha / scaling, as the harness attaches
    workdir: object = None  # the run directory, for state that must survive a restart (a study)
    config: object = None  # the SearchConfig, for allocators that start worker processes
    progress: bool = True


class Allocator(ABC):
    name: str = ""
    form: str = "lora"  # adapter form the harness attaches
    persistent: bool = False  # keeps state in the run directory, so re-running the command resumes

    @abstractmethod
    def propose(self, ctx: AllocationContext):
        """Return an :class:`~rankscope.Allocation` within ``ctx.budget`` (or the supernet)."""

    def step_hook(self, ctx: AllocationContext):
        return None

    def describe(self) -> dict:
        return {}
