"""The data of classification tasks by name: a GLUE task, ``custom`` files or a plugin task's
files, as :class:`~rankscope.tasks.base.TaskSpec` and lists of
:class:`~rankscope.tasks.base.Example`."""

from __future__ import annotations

from rankscope.errors import InputError
from rankscope.tasks.base import TASKS, Example, TaskSpec
from rankscope.tasks.classification.custom import (
    CUSTOM,
    infer_custom_spec,
    load_custom_data,
)
from rankscope.tasks.classification.glue import GLUE, load_glue


def get_task_spec(name: str, *, data_dir=None) -> TaskSpec:
    """The :class:`TaskSpec` of task ``name``; ``custom`` infers it from the files in data_dir."""
    if name == CUSTOM:
        return infer_custom_spec(_require_dir(name, data_dir))
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; available: {', '.join([*TASKS.names(), CUSTOM])} "
                         f"(classification tasks; rankscope.tasks.task_names() lists every kind's)")
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
