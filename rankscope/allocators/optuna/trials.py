"""Running a study's trials, alone or as one of several workers sharing its storage.

**Counting.** ``--n-trials`` is the study's total, not this process's share. A trial counts when
it is complete, pruned, running, or failed *with a reason* (it diverged: retrying the same
allocation would diverge again). A trial that failed without a reason (its worker was
interrupted or killed) does not count, so a resumed study replaces it; with heartbeats, Optuna
re-queues the killed trial itself. Two workers can both see ``n − 1`` trials and start one more:
the later of the two finds ``n`` counted trials numbered before it and stops at once (recorded
as failed, user attribute ``surplus``), so a study ends with exactly ``n`` counted trials.

**Waiting.** With heartbeats (database storages), a worker that has nothing left to start
waits while other trials still run: one of them may be a killed worker's, to be retried.
"""

from __future__ import annotations

import logging
import time
import warnings

import optuna
from optuna.trial import TrialState
from tqdm.auto import tqdm

log = logging.getLogger(__name__)
REASON = "fail_reason"


class SurplusTrial(Exception):
    """This trial would exceed ``--n-trials``: another worker started the last one first."""


def counts(trial) -> bool:
    return (trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
            or (trial.state == TrialState.FAIL and REASON in trial.user_attrs))


def check_surplus(study: optuna.Study, trial: optuna.Trial, n_trials: int) -> None:
    """Raise :class:`SurplusTrial` when ``n_trials`` counted trials are numbered before ``trial``."""
    before = sum(counts(t) for t in study.get_trials(deepcopy=False) if t.number < trial.number)
    if before >= n_trials:
        trial.set_user_attr("surplus", True)
        raise SurplusTrial(f"trial {trial.number}: the study already has {n_trials} trials")


def run_trials(study: optuna.Study, objective, n_trials: int, *, heartbeat: bool, catch=(),
               progress: bool = True, poll_s: float = 1.0, max_wait_s: float = 300.0) -> int:
    """Run trials of ``study`` until it holds ``n_trials`` counted trials; returns how many this
    process ran. ``catch``: exceptions recorded as a failed trial while the study goes on.

    Waiting on other workers' running trials stops after ``max_wait_s`` without any trial
    changing state: Optuna never marks stale a trial whose worker died before its first
    heartbeat, and such a trial must not hold this process forever."""
    ran, waited_on, since = 0, None, time.monotonic()
    bar = tqdm(total=n_trials, desc="trials", disable=not progress, leave=False, dynamic_ncols=True)
    while True:
        if heartbeat:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        done = sum(counts(t) and t.state != TrialState.RUNNING for t in trials)
        bar.n = min(done, n_trials)
        bar.refresh()
        if sum(counts(t) for t in trials) >= n_trials:
            running = tuple(t.number for t in trials if t.state == TrialState.RUNNING)
            if running != waited_on:
                waited_on, since = running, time.monotonic()
            if heartbeat and running and time.monotonic() - since < max_wait_s:
                time.sleep(poll_s)
                continue
            if running:
                log.warning("stopped waiting for running trial(s) %s after %.0f s without a change",
                            list(running), time.monotonic() - since)
            break
        with _no_interrupt_traceback():
            study.optimize(objective, n_trials=1, catch=(SurplusTrial, *catch), gc_after_trial=False)
        ran += 1
    bar.close()
    return ran


class _no_interrupt_traceback:
    """Optuna logs a trial stopped by Ctrl-C with a full traceback; the CLI says it in one line."""

    def __init__(self):
        self.logger = logging.getLogger("optuna.study._optimize")

    def filter(self, record) -> bool:
        return not (record.exc_info and record.exc_info[0] is not None
                    and issubclass(record.exc_info[0], KeyboardInterrupt))

    def __enter__(self):
        self.logger.addFilter(self.filter)

    def __exit__(self, *exc):
        self.logger.removeFilter(self.filter)
