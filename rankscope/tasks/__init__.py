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

Task names: the GLUE tasks (``cola sst2 mrpc rte stsb qnli qqp mnli``, see :mod:`.glue`), tasks
registered by plugins in :data:`TASKS` (their data is read in the custom file layout), and
``custom`` (see :mod:`.custom`).
"""

from __future__ import annotations

from ..errors import InputError
from .base import TASKS, DataError, Example, TaskSpec
from .custom import CUSTOM, infer_custom_spec, load_custom_data
from .glue import GLUE, GLUE_DIR_ENV, load_glue
from .metrics import METRICS, compute_metrics


PLANTED = "planted"  # the offline ground-truth task (:mod:`rankscope.planted`)
CAUSAL = ("gsm8k", "causal")  # decoder tasks (:mod:`.causal`): next-token loss on responses


def task_names() -> list[str]:
    """Every valid task name: the registered ones (sorted), ``custom``, the causal-LM tasks and
    ``planted``."""
    special = (CUSTOM, *CAUSAL, PLANTED)
    return [n for n in TASKS.names() if n not in special] + list(special)


def get_task_spec(name: str, *, data_dir=None) -> TaskSpec:
    """The :class:`TaskSpec` of task ``name``; ``custom`` infers it from the files in data_dir."""
    if name == CUSTOM:
        return infer_custom_spec(_require_dir(name, data_dir))
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; available: {', '.join(task_names())}")
    return TASKS.get(name)


def load_task_data(name: str, split: str, *, data_dir=None, max_samples: int | None = None,
                   seed: int = 0) -> list[Example]:
    """The examples of ``split`` (``"train"`` or ``"dev"``) of task ``name``.

    GLUE tasks read ``data_dir`` (GLUE v1 TSV layout), else ``$RANKSCOPE_GLUE_DIR``, else the
    Hugging Face hub. ``custom`` and plugin tasks read ``<data_dir>/<split>.csv|.jsonl``.
    ``max_samples`` keeps a random subset drawn with ``numpy.random.default_rng(seed)``, in file
    order, so the same arguments always give the same examples.
    """
    spec = get_task_spec(name, data_dir=data_dir)
    if name in GLUE:
        return load_glue(name, split, data_dir=data_dir, max_samples=max_samples, seed=seed)
    return load_custom_data(_require_dir(name, data_dir), split, spec=spec,
                            max_samples=max_samples, seed=seed)[1]


def _require_dir(name: str, data_dir):
    if data_dir is None:
        raise InputError(f"task {name!r} reads <data_dir>/train.csv|.jsonl and dev.csv|.jsonl: "
                         f"pass --data-dir (data_dir=...)")
    return data_dir


__all__ = [
    "CAUSAL", "CUSTOM", "PLANTED", "DataError", "Example", "GLUE", "GLUE_DIR_ENV", "METRICS", "TASKS", "TaskSpec",
    "compute_metrics", "get_task_spec", "infer_custom_spec", "load_custom_data", "load_task_data",
    "task_names",
]
