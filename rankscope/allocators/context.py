"""What an allocator is given (:class:`AllocationContext`) and what it returns (:class:`Plan`).

The context is narrow and typed. Its :class:`Trainer` is the only way an allocator trains or
scores, so attach → train → detach → restore-the-head exists once, in the run's session
(:class:`rankscope.search.session.Session`); the ``transformers.Trainer`` callback implements the same
protocol (:class:`rankscope.integrations.CallbackTrainer`)::

    ctx.trainer.total_steps                  optimizer steps of the run
    ctx.trainer.steps_per_epoch              ceil(train rows / batch size)
    ctx.trainer.batch_size, .device          what scoring batches are built with
    ctx.trainer.objective                    loss and metrics (proxies score with it)
    ctx.trainer.train(allocation, hook, steps=…)   attach, train, detach, restore → TrainOutcome
    ctx.trainer.scoring_batches(n, data, seed)     K fixed batches for zero-cost proxies
    ctx.trainer.restore_head()               the task head back at its initial weights
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:  # annotations only: no import edge at run time
    from torch import nn

    from rankscope.allocation.allocation import Allocation
    from rankscope.allocation.budget import Budget
    from rankscope.harness.hooks import StepHook
    from rankscope.harness.objectives import Objective
    from rankscope.harness.outcome import TrainOutcome
    from rankscope.space.graph import SearchSpace


class Trainer(Protocol):
    """The training an allocator may ask for. Every method trains or scores through the one loop."""

    @property
    def total_steps(self) -> int: ...

    @property
    def steps_per_epoch(self) -> int: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def device(self) -> str: ...

    @property
    def objective(self) -> Objective: ...

    @property
    def train_size(self) -> int: ...

    def train(self, allocation: "Allocation", hook: "StepHook | None" = None, *, steps: int | None = None,
              eval_every: int | None = None, evaluate: bool = True, report: Callable | None = None,
              desc: str = "train", progress: bool = True) -> "TrainOutcome":
        """Attach ``allocation`` (in its form), train ``steps`` steps (default: the run's),
        detach and put the task head back. ``steps=0`` runs only the hook's begin and end
        (score an untrained supernet). ``report(step, metrics)`` after each evaluation."""

    def scoring_batches(self, n: int, data: str = "train", seed: int = 0) -> list: ...

    def restore_head(self) -> None: ...


class WorkerLauncher(Protocol):
    """Starts extra processes that run an outer search's trials (supplied by the run)."""

    def start(self, n: int, storage_url: str | None) -> list: ...

    def wait(self, workers: list) -> list[int]: ...

    def stop(self, workers: list) -> None: ...


@dataclass(frozen=True)
class AllocationContext:
    """The run as an allocator sees it. ``workdir``: the run directory, for state that must
    survive a restart (a study); ``launcher``: starts worker processes (``None``: none allowed);
    ``run_key``: what identifies the run (task, model), for a persistent study's fingerprint."""

    space: "SearchSpace"
    budget: "Budget"
    model: nn.Module
    trainer: Trainer
    seed: int = 0
    workdir: Path | None = None
    launcher: WorkerLauncher | None = None
    run_key: dict = field(default_factory=dict)
    progress: bool = True


@dataclass
class Plan:
    """What ``propose`` returns: the allocation to train (in-training allocators: the supernet,
    every edge at r₀) in its form, the step hook that masks or prunes it (``None`` for
    before-training allocators), and the facts known at proposal time for ``result.json``'s
    ``extras.allocator``. The hook adds its own facts through ``StepHook.describe()``."""

    allocation: "Allocation"
    hook: "StepHook | None" = None
    record: dict = field(default_factory=dict)

    @property
    def form(self) -> str:
        return self.allocation.form

    def describe(self) -> dict:
        return {**self.record, **(self.hook.describe() if self.hook is not None else {})}
