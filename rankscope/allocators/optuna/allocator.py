"""``optuna``: the outer search. Each trial is a short training through the one harness.

    open (or resume) the study: the run directory's SQLite file, or --storage
    enqueue warm starts once: uniform, then proxy-static         (new studies only)
    [--workers N] start N − 1 more processes on the same study
    until the study holds n_trials trials:
        trial → s_u ∈ [0, 1] per decision unit (an edge, or type × block bucket)
              → project_to_budget: ranks ∝ s_u, within the budget (feasible by construction)
              → train trial_steps steps; report the dev metric at each evaluation (pruning)
    best trial (multi-objective: the Pareto point with the best metric)
    → the harness retrains it with the full schedule

Trial allocations are user attributes (``allocation``, ``params``), so optuna-dashboard shows
them. A diverged trial fails with its reason and the study goes on. Options:
:mod:`.optuna_options`; storage, units, workers: :mod:`rankscope.allocators.optuna`.
"""

from __future__ import annotations

import json
import logging
import time

import optuna

from rankscope.allocation.allocation import Allocation
from rankscope.allocators.base import Allocator
from rankscope.allocators.context import AllocationContext, Plan
from rankscope.allocators.optuna import (
    DecisionUnits,
    make_pruner,
    make_sampler,
    open_storage,
    open_study,
    run_trials,
    study_record,
)
from rankscope.allocators.optuna.objective import BUDGET_PARAM, TrialObjective
from rankscope.allocators.optuna.options import OptunaOptions
from rankscope.allocators.optuna.report import StudySection
from rankscope.allocators.uniform import uniform_allocation
from rankscope.errors import InputError, TrainingError
from rankscope.harness.outcome import DivergedError

log = logging.getLogger(__name__)


class OptunaAllocator(Allocator):
    name = "optuna"
    before_training = True
    report_section = StudySection()
    options_class = OptunaOptions
    persistent = True
    runs_trials = True

    # ------------------------------------------------------------------------------ the study
    def preflight(self) -> None:
        """Before any model loads: an explicit storage must open (a bad URL exits 2 at once)."""
        if self.opts.storage:
            open_storage(self.opts.storage, heartbeat_interval=self.opts.heartbeat_interval,
                         grace_period=self.opts.grace_period, max_retry=self.opts.max_retry)

    def trial_steps(self, ctx) -> int:
        return self.opts.trial_steps or max(10, ctx.trainer.total_steps // 5)

    def _fingerprint(self, ctx, units, steps, directions) -> dict:
        fp = {"space": ctx.space.name, "space_fingerprint": ctx.space.fingerprint, "budget": ctx.budget.params,
              "task": ctx.run_key.get("task"), "model": ctx.run_key.get("model"), "seed": ctx.seed,
              "units": units.mode, "n_units": len(units.names), "trial_steps": steps, "directions": directions}
        return json.loads(json.dumps(fp))  # as the storage returns it

    def _warm_starts(self, ctx, units) -> list[tuple[str, dict]]:
        starts = [("uniform", units.values_from(uniform_allocation(ctx.space, ctx.budget)))]
        try:
            from rankscope.allocators.proxy.static import ProxyStaticAllocator

            available = ctx.trainer.train_size // ctx.trainer.batch_size  # small tasks: fewer batches
            warm = ProxyStaticAllocator(proxy=self.opts.warm_proxy, n_batches=max(1, min(8, available)))
            alloc = warm.propose(ctx).allocation
            starts.append((f"proxy-static ({self.opts.warm_proxy})", units.values_from(alloc)))
        except InputError as exc:  # e.g. no proxies installed, or the budget below one edge
            log.warning("no proxy-static warm start: %s", exc)
        return starts

    def _run_study(self, ctx: AllocationContext) -> tuple[optuna.Study, dict]:
        """Open or resume the study and run trials until it holds ``n_trials``; with
        ``workers > 1`` the extra processes (from ``ctx.launcher``) share the work. Returns the
        study and its record for the report."""
        opts, objective = self.opts, ctx.trainer.objective
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        units = DecisionUnits(ctx.space, opts.units, opts.buckets)
        steps = self.trial_steps(ctx)
        multi = opts.multi_objective
        directions = ["maximize" if objective.greater_is_better else "minimize"] + (["minimize"] if multi else [])
        st = open_storage(opts.storage, ctx.workdir, heartbeat_interval=opts.heartbeat_interval,
                          grace_period=opts.grace_period, max_retry=opts.max_retry)
        seed = ctx.seed + 1000 * opts.worker_index
        sampler = make_sampler(opts.sampler, seed, opts.n_trials)
        pruner = make_pruner(opts.pruner_name, max(1, steps // 4), steps)  # a trial evaluates 4 times
        study = open_study(st, opts.study_name, directions, self._fingerprint(ctx, units, steps, directions),
                           sampler, pruner, workdir=ctx.workdir)
        if opts.warm_start and opts.worker_index == 0 and not study.trials:
            for label, values in self._warm_starts(ctx, units):
                params = {**values, **({BUDGET_PARAM: 1.0} if multi else {})}
                study.enqueue_trial(params, user_attrs={"warm_start": label}, skip_if_exists=True)
        trial_objective = TrialObjective(ctx, units, study, steps=steps, n_trials=opts.n_trials, multi=multi,
                                         min_budget_fraction=opts.min_budget_fraction,
                                         worker_index=opts.worker_index)

        procs, launcher = [], ctx.launcher
        if opts.workers > 1:
            if launcher is None or ctx.workdir is None:
                raise InputError("--workers needs a run directory (the CLI's --out) to start workers from")
            procs = launcher.start(opts.workers - 1, st.url)  # the storage URL travels in the environment
        t0 = time.perf_counter()
        try:
            ran = run_trials(study, trial_objective, opts.n_trials, heartbeat=st.heartbeat, catch=(DivergedError,),
                             progress=ctx.progress, max_wait_s=10 * opts.grace_period)
        except BaseException:
            if procs:
                launcher.stop(procs)
            raise
        finally:
            codes = launcher.wait(procs) if procs else []
        record = {"options": opts.to_dict(), "storage": st.label, "study_name": opts.study_name,
                        "sampler": opts.sampler, "pruner": opts.pruner_name, "units": units.mode,
                        "n_units": len(units.names), "trial_steps": steps, "directions": directions,
                        "trials_run_here": ran, "worker_exit_codes": codes, "search_s": time.perf_counter() - t0,
                        "uniform_ranks": uniform_allocation(ctx.space, ctx.budget).ranks,
                        **study_record(study, multi)}
        return study, record

    def run_trials(self, ctx: AllocationContext) -> dict:
        """``--trials-only``: this process's share of the study's trials; the study's counts."""
        _, rec = self._run_study(ctx)
        return {k: rec[k] for k in ("trials_run_here", "counts", "storage", "study_name")}

    # ------------------------------------------------------------------------------ contract
    def propose(self, ctx: AllocationContext) -> Plan:
        study, record = self._run_study(ctx)
        done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        if not done:
            reasons = [t["reason"] for t in record["trials"] if t.get("reason")]
            raise TrainingError(f"no trial of study {self.opts.study_name!r} completed: "
                                + ", ".join(f"{n} {k}" for k, n in record["counts"].items() if n)
                                + (f"; first failure: {reasons[0]}" if reasons else ""))
        if self.opts.multi_objective:  # the Pareto point with the best metric (all are within budget)
            sign = 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
            best = max(study.best_trials, key=lambda t: (sign * t.values[0], -t.values[1]))
        else:
            best = study.best_trial
        record.update(best_trial=best.number, best_value=best.values[0])
        return Plan(Allocation(ctx.space, best.user_attrs["allocation"], "lora"), record=record)
