"""Options of the ``optuna`` allocator (the outer search). CLI shortcuts in brackets.

=================== ========== ==================================================================
option              default    meaning
=================== ========== ==================================================================
n_trials            20         total trials of the study (``--n-trials``); a resumed study counts
                               the trials it already has
trial_steps         1/5 run    optimizer steps per trial (``--trial-steps``); default a fifth of
                               the full schedule, at least 10
sampler             tpe        ``tpe``, ``gp``, ``cmaes``, ``random``, or ``nsga2``
                               (multi-objective: dev metric against parameters) (``--sampler``)
pruner              median     ``median``, ``hyperband`` or ``none`` (``--pruner``); multi-objective
                               studies cannot prune (default ``none`` there)
units               auto       decision units: ``edge``, ``group`` (edge type × block bucket), or
                               ``auto`` (edge up to 64 edges)
buckets             3          block buckets for ``group`` units
warm_start          true       enqueue uniform and ``proxy-static`` as the first trials
warm_proxy          grad_norm  the proxy of the ``proxy-static`` warm start
min_budget_fraction 0.25       nsga2 only: trials spend between this share of the budget and all
storage             run dir    ``--storage``: see :mod:`rankscope.allocators.optuna.storage`
study_name          rankscope  ``--study-name``
workers             1          ``--workers N``: N processes on this machine share the study
worker_index        0          seeds a worker's sampler (seed + 1000 × index); set by ``--workers``
trials_only         false      ``--trials-only``: run trials, skip the final training (extra
                               workers on other machines)
heartbeat_interval  10         seconds between a database-backed trial's heartbeats
grace_period        30         seconds without a heartbeat before a trial is failed and retried
max_retry           3          retries of a trial whose worker died
=================== ========== ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from rankscope.allocators.options import AllocatorOptions
from rankscope.allocators.optuna.samplers import MULTI_OBJECTIVE, PRUNERS, SAMPLERS
from rankscope.allocators.optuna.units import UNIT_MODES


@dataclass
class OptunaOptions(AllocatorOptions):
    label = "optuna allocator"

    n_trials: int = 20
    trial_steps: int | None = None
    sampler: str = "tpe"
    pruner: str | None = None
    units: str = "auto"
    buckets: int = 3
    warm_start: bool = True
    warm_proxy: str = "grad_norm"
    min_budget_fraction: float = 0.25
    storage: str | None = None
    study_name: str = "rankscope"
    workers: int = 1
    worker_index: int = 0
    trials_only: bool = False
    heartbeat_interval: int = 10
    grace_period: int = 30
    max_retry: int = 3

    @property
    def multi_objective(self) -> bool:
        return self.sampler in MULTI_OBJECTIVE

    @property
    def pruner_name(self) -> str:
        return self.pruner or ("none" if self.multi_objective else "median")

    def checks(self):
        return [
            (isinstance(self.n_trials, int) and self.n_trials >= 1,
             f"n_trials must be a positive integer (the study's total), got {self.n_trials!r}"),
            (self.trial_steps is None or (isinstance(self.trial_steps, int) and self.trial_steps >= 1),
             f"trial_steps must be a positive integer, got {self.trial_steps!r}"),
            (self.sampler in SAMPLERS, f"unknown sampler {self.sampler!r}; valid: {', '.join(SAMPLERS)}"),
            (self.pruner is None or self.pruner in PRUNERS,
             f"unknown pruner {self.pruner!r}; valid: {', '.join(PRUNERS)}"),
            (not (self.multi_objective and self.pruner not in (None, "none")),
             f"pruner {self.pruner!r} cannot be used with the multi-objective sampler {self.sampler!r} "
             "(Optuna cannot prune multi-objective trials); use --pruner none or a single-objective sampler"),
            (self.units in UNIT_MODES, f"unknown units {self.units!r}; valid: {', '.join(UNIT_MODES)}"),
            (isinstance(self.buckets, int) and self.buckets >= 1, f"buckets must be >= 1, got {self.buckets!r}"),
            (0 < self.min_budget_fraction <= 1, f"min_budget_fraction must be in (0, 1], got {self.min_budget_fraction}"),
            (isinstance(self.workers, int) and self.workers >= 1, f"workers must be >= 1, got {self.workers!r}"),
            (bool(self.study_name), "study_name must not be empty"),
            (self.heartbeat_interval >= 1 and self.grace_period > self.heartbeat_interval,
             "heartbeat_interval must be >= 1 and grace_period larger than it"),
        ]

    def to_dict(self) -> dict:
        from rankscope.redact import redact_url

        d = super().to_dict()
        d["storage"] = redact_url(d["storage"]) if d["storage"] else None
        return d
