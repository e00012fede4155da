"""Task data: GLUE and custom datasets as lists of :class:`Example`, and their official metrics.

>>> import numpy as np
>>> spec = get_task_spec("mrpc")                 # TaskSpec: 2 labels, accuracy (primary) + f1
>>> spec.num_labels, spec.primary_metric
(2, 'accuracy')
>>> logits = np.array([[2.0, -1.0], [0.0, 3.0], [1.0, 0.0]])
>>> {k: round(v, 3) for k, v in spec.metrics(logits, np.array([0, 1, 1])).items()}
{'accuracy': 0.667, 'f1': 0.667}

GLUE splits come from ``data_dir`` (GLUE v1 TSV), else ``$RANKSCOPE_GLUE_DIR``, else the HF hub:
``load_task_data("mrpc", "train", data_dir="glue_data", max_samples=1000, seed=0)``. A custom
task is a directory of ``train`` and ``dev`` files:

>>> import json, tempfile
>>> from pathlib import Path
>>> d = Path(tempfile.mkdtemp())
>>> for split in ("train", "dev"):
...     rows = [{"text": f"{split} row {i}", "label": i % 2} for i in range(4)]
...     _ = (d / f"{split}.jsonl").write_text("\\n".join(json.dumps(r) for r in rows))
>>> spec, train = load_custom_data(d, "train")   # the spec is inferred from the labels
>>> spec.num_labels, len(train), train[0].text
(2, 4, 'train row 0')

Every task name belongs to one kind (:mod:`rankscope.tasks.kind`): classification (this
module's data), causal LM (:mod:`.causal`) or planted (:mod:`.planted`). Task names: the GLUE tasks (``cola sst2 mrpc rte stsb qnli qqp mnli``, see :mod:`.glue`), tasks
registered by plugins in :data:`TASKS` (their data is read in the custom file layout), and
``custom`` (see :mod:`.custom`).
"""

from __future__ import annotations

from rankscope.errors import InputError
from rankscope.tasks.base import TASKS, DataError, Example, TaskSpec
from rankscope.tasks.classification.custom import (
    CUSTOM,
    infer_custom_spec,
    load_custom_data,
)
from rankscope.tasks.classification.data import get_task_spec, load_task_data
from rankscope.tasks.classification.glue import GLUE, GLUE_DIR_ENV
from rankscope.tasks.kind import TaskKind
from rankscope.tasks.metrics import METRICS, compute_metrics


def kinds() -> list[TaskKind]:
    """Every task kind, planted and causal first (they own fixed names), classification last
    (it owns every other registered task, and ``custom``)."""
    from rankscope.tasks.causal.kind import CAUSAL_KIND
    from rankscope.tasks.classification.kind import CLASSIFICATION_KIND
    from rankscope.tasks.planted.kind import PLANTED_KIND

    return [PLANTED_KIND, CAUSAL_KIND, CLASSIFICATION_KIND]


def task_kind(task: str) -> TaskKind:
    """The kind that owns task name ``task``; an unknown name is an :class:`InputError` that
    lists the valid ones.

    >>> task_kind("mrpc").name, task_kind("gsm8k").name, task_kind("planted").name
    ('classification', 'causal', 'planted')
    >>> task_kind("gsm8k").defaults["max_len"]
    512
    """
    for kind in kinds():
        if kind.owns(task):
            return kind
    raise InputError(f"unknown task {task!r}; available: {', '.join(task_names())}")


def task_names() -> list[str]:
    """Every valid task name: the registered ones (sorted), ``custom``, the causal-LM tasks and
    ``planted``, each listed once, by the kind that owns it."""
    names = []
    for kind in reversed(kinds()):  # classification's names first, planted last
        names += [n for n in kind.task_names() if task_kind(n) is kind and n not in names]
    return names


def all_presets() -> dict:
    """``{preset: settings}`` over every kind."""
    return {name: settings for k in kinds() for name, settings in k.presets.items()}


__all__ = [
    "CUSTOM", "DataError", "Example", "GLUE", "GLUE_DIR_ENV", "METRICS", "TASKS", "TaskSpec",
    "compute_metrics", "get_task_spec", "infer_custom_spec", "load_custom_data", "load_task_data",
    "TaskKind", "all_presets", "kinds", "task_kind", "task_names",
]
