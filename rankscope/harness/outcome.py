"""What one training run returns, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rankscope.errors import TrainingError

if TYPE_CHECKING:  # annotations only
    from rankscope.allocation.allocation import Allocation


@dataclass
class TrainOutcome:
    """``final``/``best``: dev metrics at the last evaluation and at the best one (``best`` also
    holds its ``step``); ``allocation``: the allocation the masks described at the end (what an
    in-training allocator chose). A run scored on test (``score_test``) adds its test metrics,
    prefixed ``test_``, to ``final``: dev selects and compares, test is reported."""

    final: dict
    best: dict
    history: list = field(default_factory=list)
    train_s: float = 0.0  # wall time of the whole loop, evaluations included
    steps: int = 0
    eval_s: float = 0.0  # of which dev evaluation
    allocation: Allocation | None = None
    test_s: float = 0.0  # after training: decoding the test problems (GSM8K exact match), if asked

    @property
    def step_s(self) -> float:
        """Wall time of the training steps alone (hooks included): what speed comparisons use."""
        return self.train_s - self.eval_s


class DivergedError(TrainingError):
    """The loss became NaN/inf. Carries the partial ``history`` and, once the trainer has read
    it from the masks, the ``allocation`` the run had reached."""

    def __init__(self, message, history, allocation=None):
        super().__init__(message)
        self.history, self.allocation = history, allocation
