"""Studies shared by processes: a SQLite study interrupted and resumed, two workers on a journal
file, and two workers on a real PostgreSQL server (one killed mid-trial, its trial retried).

The PostgreSQL tests start a throw-away server from Debian's ``postgresql`` binaries on a free
loopback port in a temporary directory, and skip, saying why, when the binaries are absent."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from rankscope.allocators.optuna.trials import counts

pytestmark = pytest.mark.slow  # every test here starts `rankscope search` processes (and PostgreSQL)

TRIAL = ["--model", "tiny-bert", "--allocator", "optuna", "--max-steps", "8", "--quiet",
         "-o", "heartbeat_interval=1", "-o", "grace_period=4"]


def _default_sigint():  # a test runner's worker may ignore SIGINT, and children inherit that
    signal.signal(signal.SIGINT, signal.SIG_DFL)


from conftest import STARTED  # noqa: E402  (processes a test starts; killed after it)


def rankscope(*args, **kw):
    p = subprocess.Popen([sys.executable, "-m", "rankscope.cli", "search", *map(str, args)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         preexec_fn=_default_sigint, **kw)
    STARTED.append(p)
    return p


def finish(proc, timeout=300):
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"search still running after {timeout} s; its stderr ends:\n{err[-3000:]}") from None
    assert proc.returncode == 0, err
    return err


def wait_until(predicate, timeout=120, every=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    raise AssertionError("timed out waiting")


def trials_of(storage, name="rankscope"):
    """The study's trials; none while it does not exist yet or its tables are being created."""
    try:
        return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    except KeyError:
        return []
    except Exception as exc:  # noqa: BLE001 — racing a search that is creating the same tables
        if type(exc).__name__ in ("IntegrityError", "ProgrammingError") or "already exists" in str(exc):
            return []
        raise


def assert_exactly(trials, n):
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert sum(counts(t) for t in trials) == n
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials if counts(t))


def test_interrupted_sqlite_study_resumes_without_losing_trials(tmp_path):
    out, n = tmp_path / "run", 4
    args = [*TRIAL, "--n-trials", n, "--trial-steps", 200, "--out", out]
    storage = f"sqlite:///{out / 'study.db'}"
    proc = rankscope(*args)
    # the marker appears once the search has created its tables; polling before that would race it
    wait_until(lambda: (out / "study.json").exists()
               and sum(t.state == TrialState.COMPLETE for t in trials_of(storage)) >= 2, timeout=600)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130 and not (out / "result.json").exists()
    before = {t.number: t.values for t in trials_of(storage) if t.state == TrialState.COMPLETE}
    finish(rankscope(*args))  # the same command again
    after = trials_of(storage)
    assert {t.number: t.values for t in after if t.number in before} == before  # nothing lost or re-run
    assert_exactly(after, n)
    assert (out / "result.json").exists()


def test_two_workers_share_a_journal_file(tmp_path):
    journal, n = tmp_path / "study.journal", 10
    finish(rankscope(*TRIAL, "--n-trials", n, "--trial-steps", 80, "--workers", 2,
                     "--storage", f"journal:{journal}", "--out", tmp_path / "run"))
    from optuna.storages.journal import JournalFileBackend

    trials = trials_of(optuna.storages.JournalStorage(JournalFileBackend(str(journal))))
    assert_exactly(trials, n)
    assert {t.user_attrs["worker"] for t in trials} == {0, 1}
    assert (tmp_path / "run" / "result.json").exists()
    assert not (tmp_path / "run" / "worker-config.toml").read_text().count("storage")


# ----------------------------------------------------------------------------------- PostgreSQL
def _postgres_bin():
    found = shutil.which("initdb")
    dirs = ([Path(found).resolve().parent] if found else []) + sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                                                                        reverse=True)
    return next((d for d in dirs if (d / "initdb").exists() and (d / "postgres").exists()), None)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, postgres) not found: install Debian's postgresql package")
    pytest.importorskip("psycopg", reason="the psycopg driver is missing: pip install 'psycopg[binary]'")
    root = Path(tempfile.mkdtemp(prefix="rankscope-pg-"))
    user = None
    if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged account
        import pwd

        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if user is None:
            pytest.skip("running as root and no unprivileged account (postgres, nobody) to run PostgreSQL")
        os.chown(root, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    subprocess.run([bindir / "initdb", "-D", root / "data", "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   user=user, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen([bindir / "postgres", "-D", root / "data", "-p", str(port), "-k", root,
                               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                              user=user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    import psycopg

    def up():
        try:
            psycopg.connect(url.replace("postgresql://", "postgresql://", 1), connect_timeout=1).close()
            return True
        except psycopg.OperationalError:
            return server.poll() is not None
    wait_until(up, timeout=60)
    if server.poll() is not None:
        pytest.fail(f"PostgreSQL did not start (exit {server.returncode})")
    yield url
    server.send_signal(signal.SIGINT)  # "fast" shutdown: does not wait for pooled client connections
    server.wait(timeout=60)
    shutil.rmtree(root, ignore_errors=True)


def _has_user(name):
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _workers(url, name, n, steps, tmp_path):
    args = [*TRIAL, "--n-trials", n, "--trial-steps", steps, "--storage", url, "--study-name", name,
            "--trials-only"]
    return [rankscope(*args, "-o", f"worker_index={i}", "--out", tmp_path / f"w{i}") for i in (0, 1)]


def test_two_workers_complete_a_postgres_study_together(postgres_url, tmp_path):
    n = 8
    for p in _workers(postgres_url, "together", n, 60, tmp_path):
        finish(p)
    trials = trials_of(postgres_url, "together")
    assert_exactly(trials, n)
    assert {t.user_attrs["worker"] for t in trials if counts(t)} == {0, 1}


def test_a_killed_workers_trial_is_retried(postgres_url, tmp_path):
    n = 4
    survivor, victim = _workers(postgres_url, "killed", n, 200, tmp_path)

    def victim_running():
        return [t for t in trials_of(postgres_url, "killed")
                if t.state == TrialState.RUNNING and t.user_attrs.get("worker") == 1]
    wait_until(victim_running, timeout=600)
    killed = victim_running()[0].number
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    finish(survivor)
    trials = trials_of(postgres_url, "killed")
    assert_exactly(trials, n)
    assert trials[killed].state == TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert retried and retried[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retried[0].params == trials[killed].params
