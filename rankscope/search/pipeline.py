"""One run, as a straight line (``docs/architecture.md``, "The data flow")::

    validate(cfg) ─► allocator            every setting checked, nothing loaded yet
    Session(cfg)                          model, space, task, budget, harness: loaded once
    allocator.propose(ctx) ─► Plan        the allocation (or supernet) and its step hook
    session.train(plan.allocation, plan.hook)   attach → train → detach → restore
    baselines (uniform; the task kind's)  the same schedule, the same session (planted: the oracle)
    ─► SearchResult                       result.json is its serialisation

The budget is checked twice: the proposal of a before-training allocator before it trains, and
every final allocation after. A diverged run is a result with ``status = "failed"``.

>>> from rankscope.search.config import SearchConfig
>>> cfg = SearchConfig(model="tiny-bert", max_steps=2,
...                    planted={"n_train": 32, "n_dev": 16, "seq_len": 8, "n_plants": 2}).resolved()
>>> result = run_search(cfg, progress=False)
>>> result.status, result.final.params <= result.budget["params"]
('completed', True)
>>> sorted(result.extras["planted"])[:3]
['calibration_ratio', 'config', 'gap_closed']
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from dataclasses import replace

from rankscope import distributed
from rankscope.adapters.lora import DEFAULT_SCALING
from rankscope.allocation.allocation import Allocation
from rankscope.allocators import Allocator
from rankscope.allocators.context import WorkerLauncher
from rankscope.errors import InputError, TrainingError
from rankscope.harness.outcome import DivergedError
from rankscope.search.config import SearchConfig
from rankscope.search.result import SearchResult, allocation_record, metrics_record
from rankscope.search.session import Session
from rankscope.search.validate import validate

log = logging.getLogger(__name__)


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def _over_budget(name: str, what: str, params: int, budget: int) -> TrainingError:
    return TrainingError(f"allocator {name!r} {what} {params:,} parameters over the budget of {budget:,}")


def run(session: Session, allocator: Allocator, *, workdir=None, launcher: WorkerLauncher | None = None,
        save_adapters_to=None) -> SearchResult:
    """Propose, train through the session, train the baselines, and return the result.
    ``workdir``: the run directory, where persistent allocators (the Optuna study) keep state;
    ``save_adapters_to``: where the final training saves its adapters."""
    t_start, cfg, name = time.perf_counter(), session.cfg, allocator.name or session.cfg.allocator
    plan = allocator.propose(session.context(workdir, launcher))
    if distributed.active():  # every rank trains rank 0's proposal (a proxy score may differ in the last bit)
        plan = replace(plan, allocation=Allocation.from_dict(distributed.broadcast_json(plan.allocation.to_dict()),
                                                             session.space))
    allocate_s = time.perf_counter() - t_start
    check_declared_timing(allocator, plan)
    budget = session.budget.params
    warn_if_ranks_are_handicapped(plan, cfg.scaling)
    if plan.hook is None and plan.allocation.params > budget:
        raise _over_budget(name, "proposed", plan.allocation.params, budget)
    objective = session.task.objective
    result = SearchResult(
        space=cfg.space, allocator=cfg.allocator, model=cfg.model, task=cfg.task, seed=cfg.seed,
        budget=session.budget.to_dict(), allocation={}, metrics=metrics_record(objective),
        num_labels=getattr(session.model.config, "num_labels", None) if session.kind.has_label_head else None,
        scaling=cfg.scaling or DEFAULT_SCALING, dtype=cfg.dtype,
        head_params=session.head_params)
    try:
        outcome = session.train(plan.allocation, plan.hook, desc=name, save_to=save_adapters_to, score_test=True)
        final, history = outcome.allocation, outcome.history
    except DivergedError as exc:
        outcome, final, history = None, exc.allocation, exc.history
        result.status, result.failure = "failed", {"reason": str(exc)}
    if outcome is not None and final.params > budget:
        raise _over_budget(name, "ended with", final.params, budget)
    result.final, result.allocation, result.history = final, allocation_record(final), history
    result.extras = {"allocator": plan.describe(), "train_steps": session.total_steps,
                     "world_size": distributed.world_size()}
    t_base = time.perf_counter()
    if outcome is not None:
        result.metrics = metrics_record(objective, outcome)
        _baselines(session, result, outcome)
    # load and task preparation happen once per session, before this run (a session may hold several)
    result.timing = {**session.timing, "allocate_s": allocate_s, "train_s": outcome.train_s if outcome else 0.0,
                     "eval_s": outcome.eval_s if outcome else 0.0, "test_s": outcome.test_s if outcome else 0.0,
                     "baselines_s": time.perf_counter() - t_base,
                     "total_s": time.perf_counter() - t_start, "peak_rss_mb": peak_rss_mb()}
    return result


def check_declared_timing(allocator: Allocator, plan) -> None:
    """An allocator's plan agrees with its ``before_training`` declaration, where it makes one
    (``rankscope plan`` trusts it to refuse in-training allocators before anything loads)."""
    if allocator.before_training is not None and allocator.before_training != (plan.hook is None):
        declared = "before_training = True" if allocator.before_training else "before_training = False"
        raise TrainingError(f"allocator {allocator.name!r} declares {declared} but proposed "
                            + ("a step hook" if plan.hook is not None else "no step hook")
                            + "; set the class attribute to match what propose() returns")


def warn_if_ranks_are_handicapped(plan, scaling: str | None) -> bool:
    """One warning line when a before-training LoRA-form allocation mixes ranks under α/r: under
    Adam a rank-r module's update shrinks like α/√r (docs/architecture.md, "Rank-stable
    scaling"), so the ranks an allocator raised learn slowest. Ranks within a factor 2 of each
    other (a uniform allocation's rounding, 3 and 4) are not worth a warning. True when it warned."""
    ranks = sorted(set(plan.allocation.active.values()))
    if plan.hook is not None or plan.allocation.form != "lora" or (scaling or DEFAULT_SCALING) != "lora" \
            or not ranks or ranks[-1] < 2 * ranks[0]:
        return False
    log.warning("this allocation mixes ranks %d to %d under --scaling lora (alpha/r), where a rank-r module's update "
                "shrinks like 1/sqrt(r): its larger ranks learn slowest; --scaling rslora (alpha/sqrt(r)) trains every "
                "rank at the same speed", ranks[0], ranks[-1])
    return True


def _baselines(session: Session, result: SearchResult, outcome) -> None:
    """Uniform LoRA at the same budget (when ``--baseline uniform`` asks, or the task's kind
    always trains it) and the kind's own baselines (the planted oracle), then the kind's extras
    (the planted task's ``gap_closed``)."""
    objective, kind = session.task.objective, session.kind
    uniform = session.uniform()
    trained = {}
    if "uniform" in session.cfg.baseline or kind.always_uniform:
        trained["uniform"] = session.baseline(uniform, "baseline uniform")
    if trained.get("uniform") is not None:
        result.baseline["uniform"] = {"metrics": metrics_record(objective, trained["uniform"]),
                                      "params": uniform.params, "allocation": allocation_record(uniform),
                                      "lr": session.cfg.baseline_lr}
    for name, allocation in kind.baselines(session.loaded).items():
        trained[name] = session.baseline(allocation, name)
    result.extras.update(kind.extras(session.loaded, result.final, outcome, trained))


def run_search(cfg: SearchConfig, progress: bool = True, workdir=None, save_adapters_to=None,
               launcher: WorkerLauncher | None = None, allocator: Allocator | None = None) -> SearchResult:
    """Validate ``cfg`` (resolved), load its session and run it: the library's one-call search.
    An outer search with a run directory gets worker processes from a
    :class:`~rankscope.allocators.optuna.launcher.ProcessLauncher` unless ``launcher`` is given. ``allocator``:
    the one :func:`~rankscope.search.validate.validate` returned, when the caller validated already."""
    allocator = allocator or validate(cfg)
    if launcher is None and workdir is not None and allocator.runs_trials:
        from rankscope.allocators.optuna.launcher import ProcessLauncher

        launcher = ProcessLauncher(cfg, workdir)
    return run(Session(cfg, progress), allocator, workdir=workdir, launcher=launcher,
               save_adapters_to=save_adapters_to)


def run_trials_only(cfg: SearchConfig, workdir=None, progress: bool = True,
                    allocator: Allocator | None = None) -> dict:
    """``--trials-only``: one worker of an outer search's study, no final training; the study's counts."""
    allocator = allocator or validate(cfg)
    if not allocator.runs_trials:
        raise InputError(f"--trials-only applies to outer-search allocators (optuna), not {cfg.allocator!r}")
    return allocator.run_trials(Session(cfg, progress).context(workdir))
