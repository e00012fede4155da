"""One search: model → space → budget → allocator → harness → result (DESIGN.md, data flow).

:func:`run_search` validates every user input before any training (so a bad name costs nothing
and leaves no run directory), then trains the allocator's choice and the requested baselines
through the one :class:`~rankscope.harness.Harness`, and returns the ``result.json`` dict.
"""

from __future__ import annotations

import logging
import math
import resource
import sys
import time
from dataclasses import dataclass

from . import __version__, distributed
from .allocation import Allocation
from .allocators import ALLOCATORS, AllocationContext, uniform_allocation
from .attach import attach
from .budget import Budget
from .errors import InputError, TrainingError
from .harness.data import PreparedTask, padding_collate, tokenize_examples
from .harness.loop import DivergedError, Harness, head_modules, seed_everything
from .harness.objectives import SequenceClassification
from .models import load_model
from .registry import SPACES
from .search_config import SearchConfig

log = logging.getLogger(__name__)
BASELINES = ("uniform",)


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def _finite(x):
    """JSON-safe numbers: NaN/inf become None (result.json is strict JSON)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def allocation_record(alloc: Allocation) -> dict:
    space = alloc.space
    return {"params": alloc.params, "form": alloc.form, "edges": [
        {"id": e.id, "kind": e.kind, "type": e.type, "layer": e.layer, "src": e.src, "dst": e.dst,
         "rank": alloc.ranks[e.id], "params": e.cost(alloc.ranks[e.id], alloc.form)} for e in space.edges]}


def task_names() -> list[str]:
    from .tasks import TASKS

    return sorted(set(TASKS.names()) | {"planted", "custom"})


def make_allocator(cfg: SearchConfig):
    """The allocator named by ``cfg`` with its options (bad options are an InputError)."""
    try:
        return ALLOCATORS.get(cfg.allocator)(**cfg.allocator_options)
    except TypeError as exc:
        raise InputError(f"allocator {cfg.allocator!r} options {cfg.allocator_options}: {exc}") from None


def check_names(cfg: SearchConfig) -> None:
    """Fail fast, before loading anything heavy, on unknown names and bad allocator options."""
    make_allocator(cfg)
    SPACES.get(cfg.space)
    if cfg.task not in task_names():
        raise InputError(f"unknown task {cfg.task!r}; available: {', '.join(task_names())}")
    bad = [b for b in cfg.baseline if b not in BASELINES]
    if bad:
        raise InputError(f"unknown baseline {bad[0]!r}; available: {', '.join(BASELINES)}")
    for flag, value in (("--alpha", cfg.alpha), ("--svd-alpha", cfg.svd_alpha)):
        if value is not None and not value > 0:
            raise InputError(f"{flag} must be a positive number, got {value!r}")
    if cfg.scaling not in (None, "lora", "rslora"):
        raise InputError(f"unknown scaling {cfg.scaling!r}; valid: lora (alpha/r), rslora (alpha/sqrt(r))")
    if cfg.task == "custom" and not cfg.data_dir:
        raise InputError("--task custom needs --data-dir DIR holding train.csv|jsonl and dev.csv|jsonl")


def prepare_glue_like(cfg: SearchConfig, tokenizer):
    """Load and tokenise a GLUE or custom task; returns (spec, train features, dev features)."""
    from .tasks import load_custom_data, load_task_data

    if cfg.task == "custom":
        spec, train = load_custom_data(cfg.data_dir, "train", max_samples=cfg.max_train_samples, seed=cfg.seed)
        _, dev = load_custom_data(cfg.data_dir, "dev")
    else:
        from .tasks import get_task_spec

        spec = get_task_spec(cfg.task)
        train = load_task_data(cfg.task, "train", data_dir=cfg.data_dir, max_samples=cfg.max_train_samples, seed=cfg.seed)
        dev = load_task_data(cfg.task, "dev", data_dir=cfg.data_dir)
    reg = spec.is_regression
    return spec, tokenize_examples(train, tokenizer, cfg.max_len, reg), tokenize_examples(dev, tokenizer, cfg.max_len, reg)


@dataclass
class Trained:
    allocation: Allocation
    outcome: object
    failure: str | None = None


class Search:
    """Holds the loaded model, space, task and harness of one search; trains allocations."""

    def __init__(self, cfg: SearchConfig, progress: bool = True):
        check_names(cfg)
        self.cfg, self.progress = cfg, progress
        seed_everything(cfg.seed)  # the task head's random init depends on it
        self.train_cfg = cfg.train_config()
        self.planted = None
        if cfg.task == "planted":
            self.model, self.tokenizer = load_model(cfg.model, None, trust_remote_code=cfg.trust_remote_code)
            self.space = SPACES.get(cfg.space)(self.model, max_rank=cfg.max_rank)
            from .planted import PlantedConfig, build_planted_task

            try:
                pcfg = PlantedConfig(**cfg.planted)
            except TypeError as exc:
                raise InputError(f"[planted] options: {exc}") from None
            self.planted = build_planted_task(self.model, self.tokenizer, self.space, pcfg, cfg.seed,
                                              padding_collate(self.tokenizer))
            self.task = self.planted.prepared
        else:
            # data first: a missing --data-dir should not cost a model load
            from .tasks import get_task_spec

            num_labels = None if cfg.task == "custom" else get_task_spec(cfg.task).num_labels
            if cfg.task == "custom":
                from .tasks import load_custom_data

                num_labels = load_custom_data(cfg.data_dir, "dev")[0].num_labels
            self.model, self.tokenizer = load_model(cfg.model, num_labels, trust_remote_code=cfg.trust_remote_code)
            self.space = SPACES.get(cfg.space)(self.model, max_rank=cfg.max_rank)
            spec, train, dev = prepare_glue_like(cfg, self.tokenizer)
            self.task = PreparedTask(spec.name, train, dev, padding_collate(self.tokenizer),
                                     SequenceClassification(spec))
        spec = cfg.budget or ("planted" if self.planted else "r2")
        self.budget = (Budget(self.planted.planted.params, "planted") if spec == "planted" and self.planted
                       else Budget.parse(spec, self.space))
        self.harness = Harness(self.task, self.train_cfg)
        self._cache: dict[tuple, Trained] = {}

    def context(self, workdir=None) -> AllocationContext:
        return AllocationContext(self.space, self.budget, self.model, self.tokenizer, self.harness,
                                 self.cfg.seed, dict(self.cfg.allocator_options), self.attach_options(),
                                 workdir=workdir, config=self.cfg, progress=self.progress)

    def attach_options(self, form: str = "lora") -> dict:
        """α and scaling for attaching adapters of ``form``: ``svd_alpha`` replaces ``alpha`` for the
        SVD form. The allocation context gets the LoRA-form options (proxy scoring, Optuna trials)."""
        alpha = self.cfg.svd_alpha if form == "svd" and self.cfg.svd_alpha is not None else self.cfg.alpha
        return {"alpha": alpha, "scaling": self.cfg.scaling or "lora"}

    def train(self, alloc: Allocation, form: str, hook=None, desc="train", save_to=None, **train_kw) -> Trained:
        """Attach ``alloc`` in ``form``, train, read the final allocation from the masks, detach.
        Identical before-training allocations are trained once (runs are deterministic).
        ``save_to``: also save the trained adapters and head there (:mod:`rankscope.adapter_io`)."""
        key = (alloc.to_json(), form, tuple(sorted(train_kw.items()))) if hook is None and save_to is None else None
        if key is not None and key in self._cache:
            return self._cache[key]
        handle = attach(self.model, self.space, alloc, form=form, seed=self.cfg.seed, **self.attach_options(form))
        try:
            outcome = self.harness.train(self.model, handle, hook, progress=self.progress, desc=desc, **train_kw)
            trained = Trained(handle.allocation, outcome)
            if save_to is not None:
                handle.save(save_to)
        except DivergedError as exc:
            trained = Trained(handle.allocation, None, failure=str(exc))
            trained.history = exc.history
        finally:
            handle.detach()
            self.harness.restore_head(self.model)  # the next proposal scores the model as it was
        if key is not None:
            self._cache[key] = trained
        return trained

    def uniform(self, form="lora") -> Allocation:
        return uniform_allocation(self.space, self.budget, form)


def refuse_persistent_under_launcher(allocator, name: str) -> None:
    """A persistent allocator (the Optuna study) parallelises by trials (``--workers``), not by
    splitting batches: refuse it under a launcher, before anything is loaded or deleted."""
    if getattr(allocator, "persistent", False):
        distributed.refuse(f"the {name!r} outer search (run its trials in parallel with --workers N)")


def allocate_and_train(search: Search, allocator, name: str, workdir=None, save_to=None) -> tuple[Trained, float]:
    """Propose (before-training allocators) or build the supernet and hook (in-training ones),
    train through the one harness, and check the budget before and after. Returns the trained
    run and the seconds spent proposing (scoring, warm-up, an outer search) before training."""
    ctx = search.context(workdir)
    t0 = time.perf_counter()
    proposed = allocator.propose(ctx)
    if distributed.active():  # every rank trains rank 0's proposal (a proxy score may differ in the last bit)
        proposed = Allocation.from_dict(distributed.broadcast_json(proposed.to_dict()), search.space)
    hook = allocator.step_hook(ctx)
    allocate_s = time.perf_counter() - t0
    if hook is None and proposed.params > search.budget.params:
        raise TrainingError(f"allocator {name!r} proposed {proposed.params:,} parameters "
                            f"over the budget of {search.budget.params:,}")
    trained = search.train(proposed, allocator.form, hook, desc=name, save_to=save_to)
    if trained.failure is None and trained.allocation.params > search.budget.params:
        raise TrainingError(f"allocator {name!r} ended with {trained.allocation.params:,} parameters over "
                            f"the budget of {search.budget.params:,}")
    return trained, allocate_s


def _metrics_block(primary, outcome):
    return {"primary": primary, "final": outcome.final, "best": outcome.best}


def run_trials_only(cfg: SearchConfig, workdir=None, progress: bool = True) -> dict:
    """``--trials-only``: run an outer search's trials (one worker of several), no final training.
    Returns the study's trial counts."""
    allocator = make_allocator(cfg)
    if not hasattr(allocator, "run_study"):
        raise InputError(f"--trials-only applies to outer-search allocators (optuna), not {cfg.allocator!r}")
    allocator.preflight()
    search = Search(cfg, progress)
    allocator.run_study(search.context(workdir))
    rec = allocator.describe()
    return {"trials_run_here": rec["trials_run_here"], "counts": rec["counts"], "storage": rec["storage"],
            "study_name": rec["study_name"]}


def run_search(cfg: SearchConfig, progress: bool = True, workdir=None, save_adapters_to=None) -> tuple[dict, Allocation]:
    """Run one search; return ``(result dict, final allocation)``. ``workdir``: the run directory,
    where persistent allocators (the Optuna study) keep state between runs. ``save_adapters_to``:
    where the final training saves its adapters (the run directory's ``adapter/``)."""
    t_start = time.perf_counter()
    allocator = make_allocator(cfg)
    refuse_persistent_under_launcher(allocator, cfg.allocator)
    getattr(allocator, "preflight", lambda: None)()  # fail fast, before the model loads
    search = Search(cfg, progress)
    trained, allocate_s = allocate_and_train(search, allocator, cfg.allocator, workdir, save_adapters_to)
    final = trained.allocation
    primary = search.task.objective.primary
    result = {
        "schema": 1, "rankscope_version": __version__, "space": cfg.space, "allocator": cfg.allocator,
        "model": cfg.model, "task": cfg.task, "seed": cfg.seed,
        "status": "completed" if trained.failure is None else "failed",
        "failure": None if trained.failure is None else {"reason": trained.failure},
        "budget": search.budget.to_dict(),
        "allocation": allocation_record(final),
        "num_labels": None if search.planted else getattr(search.model.config, "num_labels", None),
        "head_params": search.task.head_params or sum(
            p.numel() for m in head_modules(search.model).values() for p in m.parameters()),
        "metrics": {"primary": primary, "final": {}, "best": {}},
        "baseline": {},
        "timing": {},
        "history": [],
        "extras": {"allocator": allocator.describe(), "train_steps": search.harness.total_steps(),
                   "world_size": distributed.world_size()},
    }
    if trained.failure is not None:
        result["history"] = getattr(trained, "history", [])
    else:
        result["metrics"] = _metrics_block(primary, trained.outcome)
        result["history"] = trained.outcome.history
        baselines = set(cfg.baseline) | ({"uniform"} if search.planted else set())
        for name in sorted(baselines):
            base_alloc = search.uniform()
            b = search.train(base_alloc, "lora", desc=f"baseline {name}")
            if b.failure is None:
                result["baseline"][name] = {"metrics": _metrics_block(primary, b.outcome),
                                            "params": base_alloc.params,
                                            "allocation": allocation_record(base_alloc)}
        if search.planted:
            from .planted import planted_metrics

            oracle = search.train(search.planted.planted, "lora", desc="oracle")
            r2 = lambda t: t.outcome.final["r2"] if t.failure is None else float("nan")  # noqa: E731
            uni = search.train(search.uniform(), "lora", desc="baseline uniform")
            result["extras"]["planted"] = planted_metrics(final, search.planted.planted, r2(trained),
                                                          r2(uni), r2(oracle))
            result["extras"]["planted"]["config"] = search.planted.config.to_dict()
    train_s = trained.outcome.train_s if trained.outcome else 0.0
    result["timing"] = {"allocate_s": allocate_s, "train_s": train_s,
                        "total_s": time.perf_counter() - t_start, "peak_rss_mb": peak_rss_mb()}
    return _finite(result), final
