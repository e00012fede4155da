"""Where a study lives, and refusing a study that belongs to another experiment.

=====================  ==========================================================================
``--storage``          what opens
=====================  ==========================================================================
(none)                 ``sqlite:///RUN_DIR/study.db``: re-running the same command resumes it
``journal:PATH``       Optuna's journal file (several processes on one machine or a shared disk)
``sqlite:///…``,       any SQLAlchemy URL Optuna's ``RDBStorage`` accepts; PostgreSQL for workers
``postgresql://…``     on several machines
=====================  ==========================================================================

``$RANKSCOPE_STORAGE`` stands in for ``--storage``, so a password need not be typed on a command
line. Database storages get heartbeats: a trial whose worker stopped beating for ``grace_period``
seconds is marked failed and re-queued by Optuna's ``RetryHeartbeatStaleTrialCallback``
(journal files have no heartbeats in Optuna, so a killed worker's trial stays ``RUNNING`` there).

Passwords never leave this module: :attr:`StudyStorage.label` is the redacted URL, and a
connection error's message is redacted before it is raised.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna

from rankscope.errors import InputError
from rankscope.io import atomic_write_text
from rankscope.redact import redact_secret

ENV = "RANKSCOPE_STORAGE"
DEFAULT_FILE = "study.db"
MARKER = "study.json"  # in a run directory: "this directory holds a resumable study"
STORAGE_HELP = ("valid: none (a SQLite file in the run directory), journal:PATH, sqlite:///PATH, "
                "postgresql://USER@HOST:PORT/DB (password in $PGPASSWORD or the URL), mysql://…")


@dataclass
class StudyStorage:
    storage: optuna.storages.BaseStorage
    label: str  # safe to print
    heartbeat: bool
    url: str | None  # the real URL: handed to worker processes through the environment, never logged


def is_study_dir(path) -> bool:
    return (Path(path) / MARKER).is_file()


def open_storage(spec: str | None, workdir=None, *, heartbeat_interval: int = 10, grace_period: int = 30,
                 max_retry: int = 3) -> StudyStorage:
    """Open ``spec`` (or ``$RANKSCOPE_STORAGE``, or the run directory's SQLite file, or memory)."""
    spec = spec or os.environ.get(ENV) or None
    if spec is None:
        if workdir is None:
            return StudyStorage(optuna.storages.InMemoryStorage(), "in-memory", False, None)
        Path(workdir).mkdir(parents=True, exist_ok=True)
        spec = f"sqlite:///{(Path(workdir) / DEFAULT_FILE).resolve()}"
    if spec.startswith("journal:"):
        path = Path(spec[len("journal:"):]).expanduser()
        if not spec[len("journal:"):] or not path.parent.is_dir():
            raise InputError(f"storage {spec!r}: the journal file's directory does not exist; {STORAGE_HELP}")
        from optuna.storages.journal import JournalFileBackend

        return StudyStorage(optuna.storages.JournalStorage(JournalFileBackend(str(path))), f"journal:{path}",
                            False, spec)
    if "://" not in spec:
        raise InputError(f"storage {redact_secret(spec, None)!r} is not a URL; {STORAGE_HELP}")
    engine = {"connect_args": {"timeout": 60}} if spec.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(3):
        try:
            return _open_rdb(spec, engine, heartbeat_interval, grace_period, max_retry)
        except _CreateRace:  # workers starting together on an empty database race to create tables
            time.sleep(1.0 + attempt)
    return _open_rdb(spec, engine, heartbeat_interval, grace_period, max_retry, last=True)


class _CreateRace(Exception):
    pass


def _open_rdb(spec, engine, heartbeat_interval, grace_period, max_retry, last=False) -> StudyStorage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):  # Optuna >= 5
                retry = {"heartbeat_stale_trial_callback":
                         optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)}
            else:
                retry = {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=max_retry)}
            storage = optuna.storages.RDBStorage(
                spec, engine_kwargs=engine, heartbeat_interval=heartbeat_interval, grace_period=grace_period, **retry)
    except ImportError:
        raise InputError(f"storage {redact_secret(spec, spec)}: its database driver is not installed; "
                         "for PostgreSQL: pip install 'psycopg[binary]' (or name a driver: postgresql+psycopg2://…)") from None
    except Exception as exc:  # noqa: BLE001 — any driver's connection error; re-raised redacted
        racing = type(exc).__name__ in ("IntegrityError", "ProgrammingError") or "already exists" in str(exc)
        if not last and racing:
            raise _CreateRace() from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot open storage {redact_secret(spec, spec)}: {type(exc).__name__}: "
                         f"{redact_secret(first, spec)}; {STORAGE_HELP}") from None
    return StudyStorage(storage, redact_secret(spec, spec), True, spec)


def _differences(found: dict, wanted: dict) -> list[str]:
    return [f"{k} (study: {found.get(k)!r}, this run: {wanted.get(k)!r})"
            for k in sorted(set(found) | set(wanted)) if found.get(k) != wanted.get(k)]


def open_study(st: StudyStorage, name: str, directions: list[str], fingerprint: dict, sampler, pruner,
               workdir=None) -> optuna.Study:
    """Create the study, or load it when it exists and was made for the same experiment.

    ``fingerprint`` (space, its fingerprint, budget, task, model, seed, units, trial steps,
    objectives) is stored as the study's ``rankscope`` user attribute; a study with the same name
    and a different fingerprint is refused, naming every setting that differs."""
    try:
        st.storage.get_study_id_from_name(name)
        exists = True
    except KeyError:
        exists = False
    if exists:
        study = optuna.load_study(study_name=name, storage=st.storage, sampler=sampler, pruner=pruner)
        found = study.user_attrs.get("rankscope")
        if found is None:
            raise InputError(f"study {name!r} in {st.label} was not created by rankscope; choose another --study-name")
        diff = _differences(found, fingerprint)
        if diff:
            raise InputError(f"study {name!r} in {st.label} belongs to another search: " + "; ".join(diff)
                             + ". Use another --study-name (or --out), or the same settings to resume it")
    else:
        study = optuna.create_study(study_name=name, storage=st.storage, sampler=sampler, pruner=pruner,
                                    directions=directions, load_if_exists=True)
        study.set_user_attr("rankscope", fingerprint)
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(workdir) / MARKER, json.dumps({"study_name": name, "storage": st.label}) + "\n")
    return study
