"""The allocator contract: one small ABC, one required method, optional capabilities declared here.

=======================  ==========================================================================
``propose(ctx)``         **required.** Returns a :class:`~.context.Plan`. Before-training
                         allocators: the allocation to train, no hook. In-training allocators:
                         the supernet (every edge at r₀, in their adapter form) and the
                         :class:`~rankscope.harness.hooks.StepHook` that masks or prunes it once
                         per optimizer step; the final allocation is read from the masks. The hook
                         owns its state: nothing is written back into the allocator.
``preflight()``          optional check before any model loads (the Optuna storage opens). Default:
                         nothing.
``run_trials(ctx)``      only where ``runs_trials`` is true: run an outer search's trials without a
                         final training (``--trials-only``, one worker of several).
=======================  ==========================================================================

Declared capabilities (class attributes), read by the run, never discovered with ``getattr``:

* ``options_class``: the :class:`~.options.AllocatorOptions` dataclass ``__init__`` builds from
  keyword options (a mistake is an :class:`~rankscope.errors.InputError`);
* ``before_training``: true when its plan is the allocation to train, with no step hook (so
  ``rankscope plan`` can hand it to another trainer); false for in-training allocators, whose
  ranks come from the training itself; ``None`` (the default, undeclared): ``plan`` finds out
  after proposing;
* ``persistent``: keeps state in the run directory, so re-running the command resumes it;
* ``runs_trials``: implements :meth:`Allocator.run_trials` (and may start worker processes through
  ``ctx.launcher``);
* ``report_section``: the report section this family adds (:mod:`.report`).

Allocators never own a training loop; they train or score through ``ctx.trainer``. Register one
with the ``rankscope.allocators`` entry-point group (or ``ALLOCATORS.register``);
:class:`rankscope.testing.AllocatorContract` checks the contract. The reference implementation
is :mod:`.uniform`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from rankscope.allocators.context import AllocationContext, Plan
from rankscope.allocators.options import AllocatorOptions
from rankscope.allocators.report import ReportSection
from rankscope.errors import InputError
from rankscope.registry import Registry

ALLOCATORS = Registry("rankscope.allocators", "allocator")


class Allocator(ABC):
    name: ClassVar[str] = ""
    options_class: ClassVar[type[AllocatorOptions]] = AllocatorOptions
    before_training: ClassVar[bool | None] = None
    persistent: ClassVar[bool] = False
    runs_trials: ClassVar[bool] = False
    report_section: ClassVar[ReportSection] = ReportSection()

    def __init__(self, **options):
        self.opts = self.options_class.from_kwargs(**options)

    @abstractmethod
    def propose(self, ctx: AllocationContext) -> Plan:
        """Return the :class:`~.context.Plan` to train within ``ctx.budget``."""

    def preflight(self) -> None:
        """Check what can be checked before any model loads; raise InputError on a mistake."""

    def run_trials(self, ctx: AllocationContext) -> dict:
        """Run trials only (``--trials-only``); returns the study's counts."""
        raise InputError(f"--trials-only applies to outer-search allocators, not {self.name!r}")
