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
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

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
        study.optimize(objective, n_trials=1, catch=(SurplusTrial, *catch), gc_after_trial=False)
        ran += 1
    bar.close()
    return ran


def spawn_workers(config_toml: str, workdir, n: int, storage_url: str | None, quiet: bool = True) -> list:
    """Start ``n`` extra ``rankscope search --trials-only`` processes on this machine, each with
    its own ``worker_index`` (which seeds its sampler). The storage URL travels in the
    environment (``$RANKSCOPE_STORAGE``), never on a command line or in a file."""
    from ..io import atomic_write_text

    workdir = Path(workdir)
    cfg_path = workdir / "worker-config.toml"
    atomic_write_text(cfg_path, config_toml)
    env = dict(os.environ)
    if storage_url:
        env["RANKSCOPE_STORAGE"] = storage_url
    procs = []
    for i in range(1, n + 1):
        cmd = [sys.executable, "-m", "rankscope.cli", "search", "--config", str(cfg_path), "--out", str(workdir),
               "--trials-only", "-o", f"worker_index={i}", "-o", "workers=1", *(["--quiet"] if quiet else [])]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL))
    log.info("started %d worker process(es): pids %s", n, [p.pid for p in procs])
    return procs


def wait_workers(procs: list) -> list[int]:
    """Wait for every worker; a failed worker is logged (its trials are in the study anyway)."""
    codes = []
    for p in procs:
        codes.append(p.wait())
        if codes[-1] != 0:
            log.warning("worker pid %d exited with code %d", p.pid, codes[-1])
    return codes
