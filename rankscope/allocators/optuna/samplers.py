"""Samplers and pruners by name. ``nsga2`` is the multi-objective sampler (dev metric against
adapter parameters); pruners apply to single-objective studies only, because Optuna's
``trial.report`` does not exist for multi-objective ones."""

from __future__ import annotations

import optuna

from rankscope.errors import InputError

SAMPLERS = ("tpe", "gp", "cmaes", "random", "nsga2")
MULTI_OBJECTIVE = ("nsga2",)
PRUNERS = ("median", "hyperband", "none")


def make_sampler(name: str, seed: int | None, n_trials: int):
    """TPE starts modelling after a third of the trials (2 to 10 random ones first): Optuna's
    fixed 10 would make a short search pure random search."""
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, n_trials // 3)),
                                          multivariate=True)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, n_trials // 2)))
    raise InputError(f"unknown sampler {name!r}; valid: {', '.join(SAMPLERS)}")


def make_pruner(name: str, every: int, trial_steps: int):
    """``median``: stop a trial whose intermediate dev metric is below the median of earlier
    trials at the same step (after 3 complete trials, from the second report on). ``hyperband``
    between one evaluation interval and the whole trial."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=every)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=every, max_resource=trial_steps)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise InputError(f"unknown pruner {name!r}; valid: {', '.join(PRUNERS)}")
