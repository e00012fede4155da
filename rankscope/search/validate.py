"""One validation of a whole run configuration, before any model loads.

:func:`validate` checks every setting of a resolved :class:`~rankscope.search.config.SearchConfig`
(names against the registries, numbers against their ranges, the planted task's options, the
allocator's options and its own pre-flight check), and returns the allocator, built once. Every
mistake is an :class:`~rankscope.errors.InputError` that names the setting and what is valid, so
the CLI exits with code 2 having loaded nothing and written nothing.

>>> from rankscope.search.config import SearchConfig
>>> validate(SearchConfig(max_steps=0).resolved())
Traceback (most recent call last):
...
rankscope.errors.InputError: --max-steps must be a positive integer, got 0
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass

from rankscope import distributed
from rankscope.adapters.lora import check_scaling
from rankscope.allocation.budget import Budget
from rankscope.allocators import ALLOCATORS, Allocator
from rankscope.errors import InputError
from rankscope.models.memory import check_dtype
from rankscope.registry import SPACES
from rankscope.search.config import SearchConfig
from rankscope.tasks import all_presets, kinds, task_kind, task_names
from rankscope.tasks.causal.hf_dataset import SETTINGS as DATASET_SETTINGS
from rankscope.tasks.kind import is_number

BASELINES = ("uniform",)


def _names(key: str) -> list[str]:
    from rankscope.models.loading import MODELS

    return {"space": SPACES.names, "allocator": ALLOCATORS.names, "model": MODELS.names, "task": task_names}[key]()


def _check_types(cfg: SearchConfig) -> None:
    """The settings that are names, paths, switches and tables hold a value of that kind (a config
    file can give any TOML value; flags always give strings)."""
    for key in ("space", "allocator", "model", "task"):
        value = getattr(cfg, key)
        if not isinstance(value, str) or not value.strip():
            extra = " (or a local model directory, or a hub id)" if key == "model" else ""
            raise InputError(f"--{key} must be a name, got {value!r}; available: {', '.join(_names(key))}{extra}")
    if cfg.data_dir is not None and (not isinstance(cfg.data_dir, str) or not cfg.data_dir.strip()):
        raise InputError(f"--data-dir must be a directory path, got {cfg.data_dir!r}")
    if not isinstance(cfg.trust_remote_code, bool):
        raise InputError(f"trust_remote_code must be true or false, got {cfg.trust_remote_code!r}")
    if not isinstance(cfg.gradient_checkpointing, bool):
        raise InputError(f"gradient_checkpointing must be true or false, got {cfg.gradient_checkpointing!r}")
    if not isinstance(cfg.baseline, list) or not all(isinstance(b, str) for b in cfg.baseline):
        raise InputError(f"baseline must be a list of names, e.g. baseline = [\"uniform\"] (--baseline uniform), "
                         f"got {cfg.baseline!r}")
    for key, example in (("allocator_options", "[allocator_options] with KEY = VALUE lines, or -o KEY=VALUE"),
                         ("planted", "[planted] with KEY = VALUE lines")):
        if not isinstance(getattr(cfg, key), dict):
            raise InputError(f"{key} must be a table ({example}), got {getattr(cfg, key)!r}")


def check_device(device) -> None:
    """``cpu``, ``cuda`` or ``cuda:N``, and a CUDA device that this machine has."""
    if not isinstance(device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise InputError(f"--device must be cpu, cuda or cuda:N, got {device!r}")
    if device.startswith("cuda"):
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            there = (f"this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}" if count else
                     "no CUDA device is available here (torch.cuda.is_available() is false)")
            raise InputError(f"--device {device}: {there}; use --device cpu" + (" or one of those" if count else ""))


#: the largest integer setting accepted: what torch, numpy and the data loaders hold as a C int
INT_LIMIT = 2**31 - 1


def _ranges(cfg: SearchConfig) -> list[tuple[str, object, type, object, str]]:
    """(flag, value, type, predicate, what is valid) for every numeric setting."""
    positive = lambda v: v > 0  # noqa: E731
    return [
        ("--seed", cfg.seed, int, lambda v: v >= 0, "a non-negative integer"),
        ("--max-steps", cfg.max_steps, int, positive, "a positive integer"),
        ("--epochs", cfg.epochs, float, positive, "positive"),
        ("--lr", cfg.lr, float, positive, "positive"),
        ("--baseline-lr", cfg.baseline_lr, float, positive, "positive"),
        ("--batch-size", cfg.batch_size, int, positive, "a positive integer"),
        ("--eval-batch-size", cfg.eval_batch_size, int, positive, "a positive integer"),
        ("--max-len", cfg.max_len, int, lambda v: v >= 8, "an integer of at least 8"),
        ("--max-train-samples", cfg.max_train_samples, int, positive, "a positive integer"),
        ("--max-dev-samples", cfg.max_dev_samples, int, positive, "a positive integer"),
        ("--eval-every", cfg.eval_every, int, lambda v: v >= 0, "an integer >= 0 (0: scaled to the run)"),
        ("--eval-subset", cfg.eval_subset, int, lambda v: v >= 0, "an integer >= 0 (0: all of dev)"),
        ("--warmup-ratio", cfg.warmup_ratio, float, lambda v: 0 <= v < 1, "in [0, 1)"),
        ("--weight-decay", cfg.weight_decay, float, lambda v: v >= 0, ">= 0"),
        ("--max-grad-norm", cfg.max_grad_norm, float, lambda v: v >= 0, ">= 0 (0: no clipping)"),
        ("--orth-reg", cfg.orth_reg, float, lambda v: v >= 0, ">= 0"),
        ("--alpha", cfg.alpha, float, positive, "a positive number"),
        ("--svd-alpha", cfg.svd_alpha, float, positive, "a positive number"),
        ("--max-rank", cfg.max_rank, int, positive, "a positive integer"),
        ("--exact-match", cfg.exact_match, int, lambda v: v >= -1, "a count of test problems, -1 (all) or 0 (skip)"),
        ("--max-new-tokens", cfg.max_new_tokens, int, positive, "a positive integer"),
    ]


def check_settings(cfg: SearchConfig) -> None:
    """Every setting except the allocator's options (see :func:`validate`)."""
    _check_types(cfg)
    for flag, value, type_, ok, valid in _ranges(cfg):
        if value is None:
            continue
        if not is_number(value, type_) or not ok(value):
            raise InputError(f"{flag} must be {valid}, got {value!r}")
        if type_ is int and value > INT_LIMIT:  # beyond a C int: an OverflowError deep in torch or len()
            raise InputError(f"{flag} must be at most {INT_LIMIT:,}, got {value}")
    SPACES.get(cfg.space)
    if cfg.budget_space is not None:
        if not isinstance(cfg.budget_space, str) or not cfg.budget_space.strip():
            raise InputError(f"--budget-space must be a space name, got {cfg.budget_space!r}; available: "
                             f"{', '.join(SPACES.names())}")
        SPACES.get(cfg.budget_space)
        if cfg.budget is None or not str(cfg.budget).strip().startswith("r"):
            given = "none was given" if cfg.budget is None else f"--budget {cfg.budget} is a parameter count"
            raise InputError(f"--budget-space {cfg.budget_space} counts an rN budget (e.g. --budget r2) in that "
                             f"space; {given}")
    named = {word: kind for kind in kinds() for word in kind.named_budgets}
    word = cfg.budget if isinstance(cfg.budget, str) else None
    if word in named and not named[word].owns(cfg.task):
        owner = named[cfg.budget].task_names()[0]
        raise InputError(f"--budget {cfg.budget} (the {cfg.budget} parameter count) applies to --task {owner} only, "
                         f"not {cfg.task!r}; use 250k, 1.2M, 300000 or rN")
    if cfg.budget is not None and word not in named:
        Budget.check_syntax(cfg.budget)
        spec = str(cfg.budget).strip()
        if spec.startswith("r") and int(spec[1:]) > cfg.max_rank:
            raise InputError(f"budget {cfg.budget!r} asks for rank {int(spec[1:])} on every edge, above --max-rank "
                             f"{cfg.max_rank} (the largest rank an edge may take); use r1 to r{cfg.max_rank}, "
                             f"or raise --max-rank")
    if cfg.preset is not None and cfg.preset not in all_presets():
        raise InputError(f"unknown preset {cfg.preset!r}; valid: {', '.join(all_presets())}")
    kind = task_kind(cfg.task)  # an unknown task is an InputError naming the valid ones
    readers = [name for k in kinds() for name in k.dataset_tasks]
    given = [key for key in DATASET_SETTINGS if getattr(cfg, key) is not None]
    if given and cfg.task not in readers:  # --dataset and its column flags: only where a kind reads them
        raise InputError(f"--{given[0].replace('_', '-')} applies to --task {', '.join(readers)} only (rows from a "
                         f"datasets source), not {cfg.task!r}")
    bad = [b for b in cfg.baseline if b not in BASELINES]
    if bad:
        raise InputError(f"unknown baseline {bad[0]!r}; available: {', '.join(BASELINES)}")
    if cfg.scaling is not None:
        check_scaling(cfg.scaling)
    check_device(cfg.device)
    check_dtype(cfg.dtype, cfg.device)
    kind.check(cfg)


def build_allocator(cfg: SearchConfig) -> Allocator:
    """The allocator ``cfg`` names, built from its options (a bad option is an InputError)."""
    cls = ALLOCATORS.get(cfg.allocator)
    if not (isinstance(cls, type) and issubclass(cls, Allocator)):
        raise InputError(f"allocator {cfg.allocator!r} is registered as {cls!r}, which is not an Allocator subclass")
    options = cfg.allocator_options
    if options.get("trials_only") and not cls.runs_trials:
        raise InputError(f"--trials-only applies to outer-search allocators (optuna), not {cfg.allocator!r}")
    known = is_dataclass(cls.options_class) and cls.__init__ is Allocator.__init__  # options = its fields
    valid = [f.name for f in fields(cls.options_class)] if known else []
    unknown = sorted(set(options) - set(valid))
    if known and unknown:
        raise InputError(f"allocator {cfg.allocator!r} has no option {', '.join(map(repr, unknown))}; "
                         + (f"valid options: {', '.join(valid)}" if valid else "it takes no options"))
    try:
        return cls(**options)
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
