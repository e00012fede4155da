"""The per-optimizer-step hook protocol for in-training allocators.

Exactly when each method fires, and what it sees::

    on_train_begin(state)        once, after the optimizer and scheduler exist and before the
                                 first forward pass; state.step == 0
    for step in 1..total_steps:
        forward, loss (+ orth_reg · R for SVD-form adapters), backward, clip gradients
        optimizer.step(); scheduler.step()
        on_step_end(step, state) once per OPTIMIZER step (never per micro-batch), after
                                 optimizer.step() and scheduler.step(), BEFORE zero_grad():
                                 ``p.grad`` of every adapter parameter still holds this step's
                                 (clipped) gradient; state.loss / state.orth are this step's
                                 scalar values. Masks set here apply from the next forward on.
        optimizer.zero_grad()
        evaluation every eval_every steps (after the hook, so it sees the masked model)
    on_train_end(state)          once, after the last step and its evaluation, before the
                                 final allocation is read from the masks; raising here fails
                                 the run (e.g. "the allocator never pruned")

A hook owns its state (nothing is written back into the allocator that made it); after training,
``describe()`` returns what it decided for ``result.json``'s ``extras.allocator``.

A hook may call ``state.rebuild_optimizer()`` after ``state.handle.compact()``: AdamW moments
are sliced to the kept ranks and the schedule continues where it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: no import edge at run time
    import torch
    from torch import nn

    from rankscope.adapters.handle import AdapterHandle


class LRSchedule(Protocol):
    """The learning-rate schedule a hook sees: ``torch.optim.lr_scheduler.LambdaLR`` under
    ``rankscope search``; inside a ``transformers.Trainer`` whatever the Trainer built (an
    ``LRScheduler``, or accelerate's ``AcceleratedScheduler`` / DeepSpeed's wrapper around one)."""

    def step(self) -> None: ...

    def get_last_lr(self) -> list[float]: ...


class RebuildOptimizer(Protocol):
    """``state.rebuild_optimizer(kept)``: a new optimizer over the live parameters after
    ``state.handle.compact()``, moments sliced to ``kept`` (what ``compact`` returned)."""

    def __call__(self, kept: dict[str, torch.Tensor] | None = None) -> None: ...


class StepHook:
    """Base class with no-op methods; override what you need."""

    def on_train_begin(self, state: "TrainState") -> None:
        pass

    def on_step_end(self, step: int, state: "TrainState") -> None:
        pass

    def on_train_end(self, state: "TrainState") -> None:
        pass

    def describe(self) -> dict:
        """Facts about the run's decisions (prune events, reallocations, …); ``{}`` by default."""
        return {}


@dataclass
class TrainState:
    """What a hook sees. ``loss`` and ``orth`` are floats of the current step."""

    model: nn.Module
    handle: AdapterHandle
    optimizer: torch.optim.Optimizer
    scheduler: LRSchedule
    total_steps: int
    steps_per_epoch: int
    step: int = 0
    loss: float = float("nan")
    orth: float | None = None
    extras: dict = field(default_factory=dict)
    rebuild_optimizer: RebuildOptimizer | None = None  # set by the harness (None in a Trainer callback)

    @property
    def epoch(self) -> float:
        return self.step / max(1, self.steps_per_epoch)
