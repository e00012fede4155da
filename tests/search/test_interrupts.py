"""Ctrl-C and kill -9 in the middle of `rankscope search`.

* SIGINT while training exits 130 and writes nothing: no run directory, no empty ``runs/``, no
  hidden staging directory. An Optuna study keeps its finished trials and says so.
* SIGKILL while training leaves no run directory (a run is written beside ``--out`` and renamed
  into place at the very end), so the same command then starts clean; an Optuna study's
  directory is kept, and the same command resumes it without losing or re-running a trial.
* What a run killed *while writing* leaves (a hidden staging directory of a process that is gone)
  is removed by the next run of the same ``--out``.

The signals are sent once the run is training: its progress bar on stderr shows a step, or its
study holds a finished trial. The first three tests start ``python -m rankscope.cli`` processes.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CONFIG = ('model = "tiny-bert"\nmax_steps = {steps}\neval_every = 100\n'
          "[planted]\nn_train = 32\nn_dev = 16\nseq_len = 8\nn_plants = 2\n")
# 600 steps make a trial last several times the 2.5 s the kill waits for (150 steps took 2-3.6 s
# here, and a faster CI machine finished every trial before a kill could land mid-trial)
OPTUNA = ["--allocator", "optuna", "--n-trials", "4", "--trial-steps", "600",
          "-o", "heartbeat_interval=1", "-o", "grace_period=2"]
from conftest import STARTED  # noqa: E402  (processes a test starts; killed after it)


def _default_sigint():  # a test runner may ignore SIGINT, and children inherit that
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cwd: Path, *args, log: Path) -> subprocess.Popen:
    """`rankscope search ARGS` in ``cwd``, its stderr (the progress bars) going to ``log``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as err:
        p = subprocess.Popen([sys.executable, "-m", "rankscope.cli", "search", *map(str, args)], cwd=cwd,
                             stdout=subprocess.DEVNULL, stderr=err, text=True, env=env, preexec_fn=_default_sigint)
    STARTED.append(p)
    return p


def wait_until(predicate, proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the search ended (exit {proc.returncode}) before the signal; stderr ends:\n"
                                 f"{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting; stderr ends:\n{log.read_text()[-3000:]}")


def training(log: Path, desc: str = "uniform"):
    """True once the progress bar of the training ``desc`` shows a finished step."""
    return lambda: re.search(rf"{re.escape(desc)}:[^\r\n]*\| *[1-9]\d*/\d+ ", log.read_text()) is not None


def finish(proc: subprocess.Popen, log: Path, timeout: float = 300) -> int:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"still running after {timeout} s; stderr ends:\n{log.read_text()[-3000:]}") from None
    return proc.returncode


def contents(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def trials(out: Path):
    """The study's trials in ``out/study.db`` (none while its tables are being created)."""
    import optuna

    if not (out / "study.json").exists():  # written once the study's tables exist
        return []
    try:
        return optuna.load_study(study_name="rankscope", storage=f"sqlite:///{out / 'study.db'}").get_trials()
    except Exception:  # noqa: BLE001 — racing the search that creates the tables
        return []


def completed(out: Path) -> dict:
    from optuna.trial import TrialState

    return {t.number: t.values for t in trials(out) if t.state == TrialState.COMPLETE}


@pytest.fixture
def dirs(tmp_path):
    """(an empty working directory, the tiny config file outside it, the stderr log outside it)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return cwd, tmp_path / "tiny.toml", tmp_path / "stderr.txt"


@pytest.mark.slow
def test_ctrl_c_while_training_exits_130_and_writes_nothing(dirs):
    cwd, config, log = dirs
    config.write_text(CONFIG.format(steps=3000))
    proc = start(cwd, "--config", config, log=log)  # the default run directory: runs/<time>-...
    wait_until(training(log), proc, log)
    proc.send_signal(signal.SIGINT)
    assert finish(proc, log, timeout=120) == 130
    err = log.read_text()
    assert "interrupted; nothing was written" in err and "Traceback" not in err, err[-3000:]
    assert contents(cwd) == []  # no run directory, no empty runs/, no staging directory


@pytest.mark.slow
def test_kill_while_training_leaves_nothing_and_the_same_command_starts_clean(dirs):
    cwd, config, log = dirs
    config.write_text(CONFIG.format(steps=400))
    command = ["--config", config, "--out", "runs/mine"]  # with its progress bar, to see it train
    proc = start(cwd, *command, log=log)
    wait_until(training(log), proc, log)
    proc.send_signal(signal.SIGKILL)
    assert finish(proc, log, timeout=60) == -signal.SIGKILL
    assert contents(cwd) == []  # the run directory appears only by a rename at the very end
    again = start(cwd, *command, log=log)
    assert finish(again, log) == 0, log.read_text()[-3000:]
    assert sorted(p.name for p in (cwd / "runs").iterdir()) == ["mine"]
    assert sorted(p.name for p in (cwd / "runs" / "mine").iterdir()) == [
        "adapter", "allocation.json", "config.toml", "report.html", "report.md", "result.json"]


@pytest.mark.slow
def test_ctrl_c_keeps_the_study_and_kill_then_the_same_command_resumes_it(dirs):
    """SIGINT: exit 130, the study directory kept (no result.json) and the message says how to
    resume. SIGKILL mid-trial: the same command resumes the study; the finished trials are kept
    and not re-run, the killed one is retried, and the study ends with exactly --n-trials."""
    from optuna.trial import TrialState

    from rankscope.allocators.optuna.trials import counts

    cwd, config, log = dirs
    config.write_text(CONFIG.format(steps=150))
    out = cwd / "runs" / "planted-shortcuts-optuna-s0"  # the default, fixed name of a study's run
    command = ["--config", config, *OPTUNA, "--quiet"]

    proc = start(cwd, *command, log=log)
    wait_until(lambda: len(completed(out)) >= 1, proc, log)
    proc.send_signal(signal.SIGINT)
    assert finish(proc, log, timeout=120) == 130
    err = log.read_text()
    assert f"interrupted; the study's finished trials are kept in {out.relative_to(cwd)}" in err, err[-3000:]
    assert "re-run the same command to resume" in err
    # the only traceback is the one Optuna's logger prints for the interrupted trial's warning
    # ("Trial N failed ... because of the following error: KeyboardInterrupt()")
    assert err.count("Traceback") <= err.count("because of the following error: KeyboardInterrupt()"), err[-3000:]
    assert (out / "study.db").is_file() and not (out / "result.json").exists()

    proc = start(cwd, *command, log=log)  # resumes; killed once a trial has run past its first heartbeats
    kept = completed(out)

    def mid_trial():
        running = [t for t in trials(out) if t.state == TrialState.RUNNING and t.datetime_start]
        return len(completed(out)) > len(kept) and any(
            time.time() - t.datetime_start.timestamp() > 2.5 for t in running)

    wait_until(mid_trial, proc, log)
    before = completed(out)
    proc.send_signal(signal.SIGKILL)
    assert finish(proc, log, timeout=60) == -signal.SIGKILL
    assert not (out / "result.json").exists()

    again = start(cwd, *command, log=log)
    assert finish(again, log) == 0, log.read_text()[-3000:]
    after = trials(out)
    assert {t.number: t.values for t in after if t.number in before} == before  # nothing lost or re-run
    assert sum(counts(t) for t in after) == 4
    assert (out / "result.json").is_file()
    assert sorted(p.name for p in (cwd / "runs").iterdir()) == [out.name]  # no staging left beside it


def test_what_a_run_killed_mid_write_left_is_removed_by_the_next_run(tmp_path, monkeypatch, capsys):
    """A hidden staging directory beside --out whose process is gone is deleted before the next run
    of the same --out writes; one of a live process (another run) is left alone."""
    from conftest import run_cli_out

    from rankscope.search.rundir import remove_leftovers

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs = tmp_path / "runs"
    stale = [runs / f".mine.adapter-{dead.pid}-1", runs / f".mine.tmp-{dead.pid}-abc"]
    live = [runs / f".mine.tmp-{os.getppid()}-abc", runs / f".other.tmp-{dead.pid}-abc"]
    for d in stale + live:
        d.mkdir(parents=True)
        (d / "result.json").write_text("{}")
    assert sorted(remove_leftovers(runs / "mine")) == sorted(stale)
    assert sorted(p.name for p in runs.iterdir()) == sorted(p.name for p in live)
    for d in stale:
        d.mkdir()
    config = tmp_path / "tiny.toml"
    config.write_text(CONFIG.format(steps=2))
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli_out(capsys, "search", "--config", config, "--out", "runs/mine", "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in runs.iterdir()) == sorted(["mine", *(p.name for p in live)])
