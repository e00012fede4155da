"""The task vocabulary shared by every data source: examples, task specs, the task registry.

An :class:`Example` is one (text, optional text pair, label) row, whatever file it came from; a
:class:`TaskSpec` says what the labels mean (how many classes, or regression) and how predictions
are scored. Loaders (:mod:`.glue`, :mod:`.custom`) produce examples and check every label with
:meth:`TaskSpec.check_label`, and finish with :func:`select`, so label validation, subsetting and
the empty-dataset check are written once.

``TASKS`` maps a task name to its :class:`TaskSpec`. The GLUE tasks register themselves; a plugin
adds its own through the ``rankscope.tasks`` entry-point group (see :mod:`rankscope.registry`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rankscope.errors import InputError
from rankscope.registry import Registry
from rankscope.tasks.metrics import compute_metrics

TASKS = Registry("rankscope.tasks", "task")
SPLITS = ("train", "dev")


class DataError(InputError):
    """Task data is missing or malformed: no such file, wrong columns, a bad label, no rows."""


@dataclass(frozen=True)
class Example:
    """One input row. ``text_pair`` is ``None`` for single-sentence tasks (CoLA, SST-2)."""

    text: str
    text_pair: str | None
    label: int | float


@dataclass(frozen=True)
class TaskSpec:
    """What a task's labels are and how it is scored.

    ``num_labels`` is the number of classes, or 1 for regression (STS-B). ``metric_names`` are keys
    of :data:`rankscope.tasks.metrics.METRICS`; ``primary_metric`` (one of them) is the number a
    search maximises. ``label_names`` (optional) name the classes in index order, e.g. RTE's
    ``("entailment", "not_entailment")``; files that spell labels as names are read through them.
    """

    name: str
    num_labels: int
    primary_metric: str
    metric_names: tuple[str, ...]
    label_names: tuple[str, ...] = ()

    def __post_init__(self):
        if self.num_labels < 1:
            raise ValueError(f"task {self.name!r}: num_labels must be >= 1, got {self.num_labels}")
        if self.primary_metric not in self.metric_names:
            raise ValueError(f"task {self.name!r}: primary metric {self.primary_metric!r} "
                             f"is not one of its metrics {self.metric_names}")
        if self.label_names and len(self.label_names) != self.num_labels:
            raise ValueError(f"task {self.name!r}: {len(self.label_names)} label names "
                             f"for {self.num_labels} labels")

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1

    def metrics(self, preds, labels) -> dict[str, float]:
        """Score ``preds`` (logits N×C, or regression outputs N / N×1) against ``labels``."""
        return compute_metrics(self, preds, labels)

    def check_label(self, raw, where: str) -> int | float:
        """``raw`` (a number, or its text as read from a file) as a valid label of this task.

        Classification labels must be whole numbers in ``0..num_labels-1`` or, when the task has
        ``label_names``, one of those names; regression labels any finite number. ``where``
        (e.g. ``"RTE/dev.tsv:12"``) goes into the error message.
        """
        if isinstance(raw, str) and raw.strip() in self.label_names:
            return self.label_names.index(raw.strip())
        value = to_number(raw)
        if value is not None and self.is_regression:
            return float(value)
        if value is not None and float(value).is_integer() and 0 <= value < self.num_labels:
            return int(value)
        kind = "regression" if self.is_regression else f"{self.num_labels} classes"
        raise DataError(f"{where}: label {raw!r} does not fit task {self.name!r} ({kind}); "
                        f"valid labels: {self.valid_labels}")

    @property
    def valid_labels(self) -> str:
        if self.is_regression:
            return "any finite number"
        names = f" or one of {', '.join(self.label_names)}" if self.label_names else ""
        return f"0..{self.num_labels - 1}{names}"


def to_number(raw) -> int | float | None:
    """A finite int or float from a number or its text, else ``None`` (booleans, NaN/inf too).

    Text is kept as an int when it is written as one (``"3"``) and a float otherwise (``"3.0"``,
    ``"4.750"``).
    """
    value = raw
    if isinstance(raw, str):
        for parse in (int, float):
            try:
                value = parse(raw)
                break
            except ValueError:
                value = None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        return None
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


def parse_number(raw, where: str) -> int | float:
    """:func:`to_number`, or an error naming ``where`` when ``raw`` is not a finite number."""
    value = to_number(raw)
    if value is None:
        raise DataError(f"{where}: label {raw!r} is not a finite number")
    return value


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    return split


def select(examples: list[Example], *, max_samples: int | None, seed: int,
           source: str) -> list[Example]:
    """At most ``max_samples`` examples, drawn at random with ``numpy.random.default_rng(seed)``.

    The subset keeps the original file order (the drawn indices are sorted), so it is the same
    list for the same (data, ``max_samples``, ``seed``) on every machine, and a model sees the
    rows in the order the file has them. ``max_samples=None``, or one at least the number of
    rows, keeps everything. An empty result is an error naming ``source``.
    """
    if max_samples is not None:
        if isinstance(max_samples, bool) or not isinstance(max_samples, (int, np.integer)) \
                or max_samples < 1:
            raise InputError(f"max_samples must be a positive integer or None, got {max_samples!r}")
        if max_samples < len(examples):
            rng = np.random.default_rng(seed)
            keep = np.sort(rng.choice(len(examples), size=int(max_samples), replace=False))
            examples = [examples[i] for i in keep]
    if not examples:
        raise DataError(f"{source} holds no examples")
    return examples
