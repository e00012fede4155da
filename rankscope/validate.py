"""One validation of a whole run configuration, before any model loads.

:func:`validate` checks every setting of a resolved :class:`~rankscope.search_config.SearchConfig`
(names against the registries, numbers against their ranges, the planted task's options, the
allocator's options and its own pre-flight check), and returns the allocator, built once. Every
mistake is an :class:`~rankscope.errors.InputError` that names the setting and what is valid, so
the CLI exits with code 2 having loaded nothing and written nothing.

>>> from rankscope.search_config import SearchConfig
>>> validate(SearchConfig(max_steps=0).resolved())
Traceback (most recent call last):
...
rankscope.errors.InputError: --max-steps must be a positive integer, got 0
"""

from __future__ import annotations

from . import distributed
from .allocators import ALLOCATORS, Allocator
from .budget import Budget
from .errors import InputError
from .registry import SPACES
from .search_config import PRESETS, SearchConfig
from .tasks import task_names

BASELINES = ("uniform",)
SCALINGS = {"lora": "alpha/r", "rslora": "alpha/sqrt(r)"}


def _number(value, kind) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if kind is int else isinstance(value, (int, float))


def _ranges(cfg: SearchConfig) -> list[tuple[str, object, type, object, str]]:
    """(flag, value, type, predicate, what is valid) for every numeric setting."""
    positive = lambda v: v > 0  # noqa: E731
    return [
        ("--seed", cfg.seed, int, lambda v: v >= 0, "a non-negative integer"),
        ("--max-steps", cfg.max_steps, int, positive, "a positive integer"),
        ("--epochs", cfg.epochs, float, positive, "positive"),
        ("--lr", cfg.lr, float, positive, "positive"),
        ("--batch-size", cfg.batch_size, int, positive, "a positive integer"),
        ("--eval-batch-size", cfg.eval_batch_size, int, positive, "a positive integer"),
        ("--max-len", cfg.max_len, int, lambda v: v >= 8, "an integer of at least 8"),
        ("--max-train-samples", cfg.max_train_samples, int, positive, "a positive integer"),
        ("--eval-every", cfg.eval_every, int, lambda v: v >= 0, "an integer >= 0 (0: ten times per run)"),
        ("--eval-subset", cfg.eval_subset, int, lambda v: v >= 0, "an integer >= 0 (0: all of dev)"),
        ("--warmup-ratio", cfg.warmup_ratio, float, lambda v: 0 <= v < 1, "in [0, 1)"),
        ("--weight-decay", cfg.weight_decay, float, lambda v: v >= 0, ">= 0"),
        ("--max-grad-norm", cfg.max_grad_norm, float, lambda v: v >= 0, ">= 0 (0: no clipping)"),
        ("--orth-reg", cfg.orth_reg, float, lambda v: v >= 0, ">= 0"),
        ("--alpha", cfg.alpha, float, positive, "a positive number"),
        ("--svd-alpha", cfg.svd_alpha, float, positive, "a positive number"),
        ("--max-rank", cfg.max_rank, int, positive, "a positive integer"),
    ]


def check_settings(cfg: SearchConfig) -> None:
    """Every setting except the allocator's options (see :func:`validate`)."""
    for flag, value, kind, ok, valid in _ranges(cfg):
        if value is None:
            continue
        if not _number(value, kind) or not ok(value):
            raise InputError(f"{flag} must be {valid}, got {value!r}")
    SPACES.get(cfg.space)
    if cfg.budget == "planted" and cfg.task != "planted":
        raise InputError(f"--budget planted (the planted parameter count) applies to --task planted only, not "
                         f"{cfg.task!r}; use 250k, 1.2M, 300000 or rN")
    if cfg.budget is not None and cfg.budget != "planted":
        Budget.check_syntax(cfg.budget)
    if cfg.preset is not None and cfg.preset not in PRESETS:
        raise InputError(f"unknown preset {cfg.preset!r}; valid: {', '.join(PRESETS)}")
    if cfg.preset and cfg.task != "planted":
        raise InputError(f"preset {cfg.preset!r} is a variant of the planted task, not of {cfg.task!r}")
    if cfg.task not in task_names():
        raise InputError(f"unknown task {cfg.task!r}; available: {', '.join(task_names())}")
    bad = [b for b in cfg.baseline if b not in BASELINES]
    if bad:
        raise InputError(f"unknown baseline {bad[0]!r}; available: {', '.join(BASELINES)}")
    if cfg.scaling not in (None, *SCALINGS):
        raise InputError(f"unknown scaling {cfg.scaling!r}; valid: "
                         + ", ".join(f"{k} ({v})" for k, v in SCALINGS.items()))
    if not isinstance(cfg.device, str) or not (cfg.device == "cpu" or cfg.device.startswith("cuda")):
        raise InputError(f"--device must be cpu, cuda or cuda:N, got {cfg.device!r}")
    if cfg.task == "custom" and not cfg.data_dir:
        raise InputError("--task custom needs --data-dir DIR holding train.csv|jsonl and dev.csv|jsonl")
    if cfg.task == "planted":
        from .planted import PlantedConfig

        try:
            PlantedConfig(**cfg.planted)
        except TypeError as exc:
            raise InputError(f"[planted] options: {exc}") from None
    elif cfg.planted:
        raise InputError(f"[planted] options apply to --task planted only, not {cfg.task!r}")


def build_allocator(cfg: SearchConfig) -> Allocator:
    """The allocator ``cfg`` names, built from its options (a bad option is an InputError)."""
    cls = ALLOCATORS.get(cfg.allocator)
    if not (isinstance(cls, type) and issubclass(cls, Allocator)):
        raise InputError(f"allocator {cfg.allocator!r} is registered as {cls!r}, which is not an Allocator subclass")
    try:
        return cls(**cfg.allocator_options)
    except TypeError as exc:
        raise InputError(f"allocator {cfg.allocator!r} options {cfg.allocator_options}: {exc}") from None


def validate(cfg: SearchConfig) -> Allocator:
    """Check all of ``cfg`` (resolved) and return its allocator, built and pre-flighted once."""
    check_settings(cfg)
    allocator = build_allocator(cfg)
    if allocator.persistent:  # a study parallelises by trials (--workers), not by splitting batches
        distributed.refuse(f"the {cfg.allocator!r} outer search (run its trials in parallel with --workers N)")
    allocator.preflight()
    return allocator
