"""One trial of the outer search: suggest → project to the budget → train briefly → dev metric.

    s_u ~ trial.suggest_float(u, 0, 1)        for every decision unit u
    [nsga2] share ~ suggest_float(budget_fraction, min_budget_fraction, 1)
    allocation = units.allocation(s, share · budget)      feasible by construction
    train ``steps`` steps through the one harness; report the dev metric at each evaluation
    (single-objective: the pruner may stop the trial there)
    → the final dev metric (nsga2: and the adapter parameters)

The allocation, its parameter count and the worker index become user attributes (optuna-dashboard
shows them). A diverged trial records ``fail_reason`` and re-raises, so Optuna marks it failed.
"""

from __future__ import annotations

import optuna

from rankscope.allocators.optuna.trials import REASON, check_surplus
from rankscope.harness.outcome import DivergedError

BUDGET_PARAM = "budget_fraction"


class TrialObjective:
    def __init__(self, ctx, units, study, *, steps: int, n_trials: int, multi: bool,
                 min_budget_fraction: float, worker_index: int):
        self.ctx, self.units, self.study = ctx, units, study
        self.steps, self.every = steps, max(1, steps // 4)
        self.n_trials, self.multi = n_trials, multi
        self.min_budget_fraction, self.worker_index = min_budget_fraction, worker_index
        self.primary = ctx.trainer.objective.primary

    def allocation(self, trial: optuna.Trial):
        values = {u: trial.suggest_float(u, 0.0, 1.0) for u in self.units.names}
        share = trial.suggest_float(BUDGET_PARAM, self.min_budget_fraction, 1.0) if self.multi else 1.0
        return self.units.allocation(values, int(self.ctx.budget.params * share))

    def __call__(self, trial: optuna.Trial):
        ctx, alloc = self.ctx, self.allocation(trial)
        trial.set_user_attr("worker", self.worker_index)
        trial.set_user_attr("params", alloc.params)
        trial.set_user_attr("allocation", {eid: r for eid, r in alloc.ranks.items() if r})
        check_surplus(self.study, trial, self.n_trials)

        def report(step, metrics):
            if not self.multi:  # Optuna has no intermediate values for multi-objective trials
                trial.report(metrics.get(self.primary, float("nan")), step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at step {step}")

        try:
            out = ctx.trainer.train(alloc, steps=self.steps, eval_every=self.every, report=report, progress=False,
                                    desc=f"trial {trial.number}")
        except DivergedError as exc:
            trial.set_user_attr(REASON, f"diverged: {exc}")
            raise
        value = out.final[self.primary]
        return (value, alloc.params) if self.multi else value
