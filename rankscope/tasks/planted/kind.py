"""The planted kind: the offline ground-truth task (``--task planted``, :mod:`rankscope.tasks.planted`),
with its presets, its ``[planted]`` options, its own budget (the planted parameter count), the
teacher cache, and two baselines every run trains: uniform (the floor) and the oracle (the
planted allocation, the ceiling) (:class:`~rankscope.tasks.kind.TaskKind`).

>>> PLANTED_KIND.owns("planted"), sorted(PLANTED_KIND.presets)
(True, ['calibrated', 'quick'])
"""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import TYPE_CHECKING

from rankscope.adapters.lora import DEFAULT_SCALING
from rankscope.errors import InputError
from rankscope.tasks.kind import LoadedTask, TaskKind, is_number, refuse_exact_match

if TYPE_CHECKING:
    from rankscope.search.config import SearchConfig

log = logging.getLogger(__name__)

PLANTED = "planted"


# [planted] option: (predicate, what is valid)
PLANTED_RANGES = {
    "n_plants": (lambda v: is_number(v, int) and v >= 1, "a positive integer"),
    "shortcut_share": (lambda v: is_number(v, float) and 0 <= v <= 1, "a number in [0, 1]"),
    "ranks": (lambda v: isinstance(v, (list, tuple)) and len(v) > 0 and all(is_number(r, int) and r >= 1 for r in v),
              "a non-empty list of positive integers, e.g. [32] or [2, 4, 8]"),
    "scale": (lambda v: is_number(v, float) and v > 0, "a positive number"),
    "seq_len": (lambda v: is_number(v, int) and v >= 2, "an integer of at least 2"),
    "n_train": (lambda v: is_number(v, int) and v >= 1, "a positive integer"),
    "n_dev": (lambda v: is_number(v, int) and v >= 1, "a positive integer"),
    "proj_dim": (lambda v: is_number(v, int) and v >= 1, "a positive integer"),
    "targets": (lambda v: v in ("tokens", "pooled"), "'tokens' or 'pooled'"),
}


def check_planted(options: dict) -> None:
    """The ``[planted]`` table: known keys, each of its kind and range."""
    from rankscope.tasks.planted.task import PlantedConfig

    valid = [f.name for f in fields(PlantedConfig)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise InputError(f"[planted] options: unknown keys {unknown}; valid keys: {', '.join(valid)}")
    for key, value in options.items():
        ok, what = PLANTED_RANGES.get(key, (lambda v: True, ""))
        if not ok(value):
            raise InputError(f"[planted] {key} must be {what}, got {value!r}")


class TeacherCacheStore:
    """Baseline trainings of the planted task, kept in its disk cache
    (:class:`~rankscope.tasks.planted.cache.PlantedCache`) under the task's key."""

    def __init__(self, cache, key: str):
        self.cache, self.key = cache, key

    def get(self, settings: dict, allocation) -> dict | None:
        from rankscope.tasks.planted.cache import baseline_key

        return self.cache.get_json(baseline_key(self.key, settings, allocation))

    def put(self, settings: dict, allocation, record: dict) -> None:
        from rankscope.tasks.planted.cache import baseline_key

        self.cache.put_json(baseline_key(self.key, settings, allocation), record)


class PlantedKind(TaskKind):
    name = PLANTED
    # short sequences, one regression head; the calibrated defaults (docs/architecture.md,
    # "The planted-structure task"): rsLoRA scaling, 200 steps
    defaults = {"max_steps": 200, "lr": 3e-3, "batch_size": 32, "eval_batch_size": 64, "max_len": 64,
                "scaling": DEFAULT_SCALING}
    # A preset fills the settings a run leaves at their defaults (flags and config files win).
    # "quick" is a short variant for a first result in a few minutes; the calibrated task (200
    # steps, 1024/512 rows) is the default, also named "calibrated".
    presets = {
        "quick": {"max_steps": 60, "eval_every": 30, "planted": {"n_train": 512, "n_dev": 256}},
        "calibrated": {},
    }
    named_budgets = ("planted",)
    always_uniform = True

    def owns(self, task: str) -> bool:
        return task == PLANTED

    def task_names(self) -> list[str]:
        return [PLANTED]

    def check(self, cfg: SearchConfig) -> None:
        check_planted(cfg.planted)
        if cfg.max_dev_samples is not None:
            raise InputError("--max-dev-samples does not apply to --task planted; set its dev size with the "
                             "[planted] option n_dev")
        refuse_exact_match(cfg)

    def prepare(self, cfg: SearchConfig, model, tokenizer, space) -> LoadedTask:
        """Plant the teacher, compute the targets (or read them from the cache) and return the
        task; its budget is the planted parameter count."""
        from rankscope.allocation.budget import Budget
        from rankscope.harness.data import padding_collate
        from rankscope.tasks.planted.cache import PlantedCache, task_key
        from rankscope.tasks.planted.task import PlantedConfig, build_planted_task

        pcfg = PlantedConfig(**cfg.planted)
        cache, key = PlantedCache(), None
        if cache.enabled:
            key = task_key(cfg.model, model, space, cfg.seed, pcfg.to_dict())
            hit = cache.get_tensors(key) is not None
            log.info("planted task cache %s: %s", "hit" if hit else "miss (computing the teacher once)",
                     cache.root / key)
        planted = build_planted_task(model, tokenizer, space, pcfg, cfg.seed, padding_collate(tokenizer), cache, key)
        return LoadedTask(planted.prepared, budget=Budget(planted.planted.params, "planted"),
                          baseline_store=TeacherCacheStore(cache, key) if key else None, state=planted)

    def baselines(self, loaded: LoadedTask) -> dict:
        """The oracle: the planted allocation itself, the ceiling."""
        return {"oracle": loaded.state.planted}

    def extras(self, loaded: LoadedTask, final, outcome, baselines: dict) -> dict:
        """``gap_closed`` and the other planted metrics, between the uniform floor and the
        oracle ceiling."""
        from rankscope.tasks.planted.metrics import planted_metrics

        planted = loaded.state
        r2 = lambda o: o.final["r2"] if o is not None else float("nan")  # noqa: E731
        metrics = planted_metrics(final, planted.planted, r2(outcome), r2(baselines.get("uniform")),
                                  r2(baselines.get("oracle")))
        return {"planted": {**metrics, "config": planted.config.to_dict()}}


PLANTED_KIND = PlantedKind()
__all__ = ["PLANTED_KIND", "PLANTED_RANGES", "PlantedKind", "TeacherCacheStore", "check_planted"]
