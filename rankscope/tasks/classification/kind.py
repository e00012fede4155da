"""The classification kind: GLUE tasks, ``custom`` data and plugin tasks, trained through the
model's sequence classification (or regression) head (:class:`~rankscope.tasks.kind.TaskKind`).

>>> CLASSIFICATION_KIND.owns("mrpc"), CLASSIFICATION_KIND.owns("custom"), CLASSIFICATION_KIND.owns("gsm8k")
(True, True, False)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankscope.adapters.lora import DEFAULT_SCALING
from rankscope.errors import InputError
from rankscope.tasks.classification.custom import CUSTOM
from rankscope.tasks.kind import LoadedTask, TaskKind

if TYPE_CHECKING:
    from rankscope.search.config import SearchConfig



class ClassificationKind(TaskKind):
    name = "classification"
    # lr: uniform LoRA's pick from the protocol's seed-0 sweeps under the rank-stable rule α/√r
    # (MRPC 5e-4, RTE 1e-3, CoLA 5e-4: the majority); docs/results/rank-stability.md, "The
    # defaults under α/√r", from python -m benchmarks.protocol --methods uniform --seeds 0
    defaults = {"epochs": 3.0, "lr": 5e-4, "batch_size": 32, "eval_batch_size": 64, "max_len": 128,
                "scaling": DEFAULT_SCALING}
    # An allocator's own defaults, where the protocol's sweep chose another lr than the task's (on
    # each of MRPC, RTE and CoLA the seed-0 sweep chooses an lr; the default is the lr most tasks
    # chose, else the median). The SVD-form methods were swept at svd_alpha 256 (their step size
    # is lr × svd_alpha), so they take that α too unless --alpha or --svd-alpha is given; their
    # fixed α/r₀ does not depend on the LoRA form's rule, so the first protocol's (α/r) sweeps
    # still hold for them. The LoRA-form allocators (proxy-static, proxy-greedy, proxy-grow) were
    # swept under α/r only, so none keeps an lr of its own: each trains at the task's lr until its
    # sweep under α/√r has run. A --baseline keeps uniform's own lr (``baseline_lr``), so a
    # method's default never becomes its baseline's. The protocol's tests check these against the
    # committed results files.
    allocator_defaults = {
        "salient": {"lr": 2e-3, "svd_alpha": 256.0},  # MRPC 2e-3, RTE 1e-3, CoLA 2e-3
        # adalora's vote is 4e-3 (MRPC, RTE; CoLA chose 2e-3), but 4e-3 is its cliff: held-out MRPC
        # seed 1 fell to the majority class there, and CoLA's seed 0 to MCC 0. One step below it
        "adalora": {"lr": 2e-3, "svd_alpha": 256.0},
    }
    has_label_head = True

    def owns(self, task: str) -> bool:
        from rankscope.tasks.base import TASKS

        return task == CUSTOM or task in TASKS

    def task_names(self) -> list[str]:
        from rankscope.tasks.base import TASKS

        return [n for n in TASKS.names() if n != CUSTOM] + [CUSTOM]

    def check(self, cfg: SearchConfig) -> None:
        super().check(cfg)
        if cfg.task == CUSTOM and not cfg.data_dir:
            raise InputError("--task custom needs --data-dir DIR holding train.csv|jsonl and dev.csv|jsonl")

    def num_labels(self, cfg: SearchConfig) -> int | None:
        from rankscope.tasks.classification.data import get_task_spec

        # the data's label count before the model: a missing --data-dir costs no model load
        return get_task_spec(cfg.task, data_dir=cfg.data_dir).num_labels

    def prepare(self, cfg: SearchConfig, model, tokenizer, space) -> LoadedTask:
        """Read train and dev (a seeded ``--max-train-samples`` subset of train), tokenize them
        and pair them with the head's objective."""
        from rankscope.harness.data import (
            PreparedTask,
            padding_collate,
            tokenize_examples,
        )
        from rankscope.harness.objectives import SequenceClassification
        from rankscope.tasks.classification.custom import load_custom_data
        from rankscope.tasks.classification.data import get_task_spec, load_task_data

        if cfg.task == CUSTOM:
            spec, train = load_custom_data(cfg.data_dir, "train", max_samples=cfg.max_train_samples, seed=cfg.seed)
            _, dev = load_custom_data(cfg.data_dir, "dev")
        else:
            spec = get_task_spec(cfg.task)
            train = load_task_data(cfg.task, "train", data_dir=cfg.data_dir, max_samples=cfg.max_train_samples,
                                   seed=cfg.seed)
            dev = load_task_data(cfg.task, "dev", data_dir=cfg.data_dir)
        reg = spec.is_regression
        if not reg:
            check_two_classes(train, cfg)
        train, dev = (tokenize_examples(rows, tokenizer, cfg.max_len, reg) for rows in (train, dev))
        return LoadedTask(PreparedTask(spec.name, train, dev, padding_collate(tokenizer), SequenceClassification(spec)))


def check_two_classes(train: list, cfg: SearchConfig) -> None:
    """Refuse training rows of one class: the head would learn a constant, and a dev set of the
    same class would then report a perfect score."""
    from rankscope.tasks.base import DataError

    classes = sorted({ex.label for ex in train})
    if len(classes) < 2:
        kept = (f" (--max-train-samples {cfg.max_train_samples} kept {len(train)} row{'s' * (len(train) != 1)}; "
                "raise it)" if cfg.max_train_samples else "")
        raise DataError(f"the training labels of --task {cfg.task} hold a single class "
                        f"({classes[0] if classes else 'none'}){kept}; a classifier needs examples of at least "
                        "two classes")


CLASSIFICATION_KIND = ClassificationKind()
