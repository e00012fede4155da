"""The run directory: result.json, allocation.json, report.md, report.html, config.toml, and
``adapter/`` (the trained adapters and task head, :mod:`rankscope.checkpoints.native`).

A run is written into a hidden temporary directory beside ``--out`` and renamed into place at the
end, so an interrupted or rejected run never leaves a half-written directory behind. Each file
is itself written atomically. The exception is a run directory that holds an Optuna study
(``study.json``, ``study.db``): it exists from the study's first trial so that a killed run can
resume, and its result files are replaced one by one, each atomically, ``result.json`` last.
A run killed while writing leaves only hidden staging directories named after its process; the
next run of the same ``--out`` deletes them (:func:`remove_leftovers`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from rankscope.errors import InputError
from rankscope.io import atomic_write_text, read_json


def default_out(cfg, persistent: bool = False, root: str = "runs") -> Path:
    """``<root>/<time>-<task>-<space>-<allocator>-s<seed>`` (``runs/``; ``plans/`` for a plan);
    without the time for persistent allocators (the Optuna study), so that re-running the same
    command finds and resumes it."""
    name = f"{cfg.task}-{cfg.space}-{cfg.allocator}-s{cfg.seed}"
    return Path(root) / (name if persistent else f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{name}")


def check_dir_path(path, flag: str) -> Path:
    """Refuse an output path that cannot be written: an empty path, one that lies under a file
    (``a.txt/run``), or one whose nearest existing directory refuses a new entry (read-only,
    no permission, ``/proc``). It may exist (the caller decides what that means) or not yet.
    Checked before anything trains, so a long run never ends in a failed write."""
    if not str(path).strip():
        raise InputError(f"{flag} is empty; give a directory path, e.g. {flag} runs/mine")
    path = Path(path)
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise InputError(f"{flag} {path} lies under {blocker}, which is a file, not a directory; "
                         f"choose a path whose parents are directories")
    nearest = next((p for p in path.parents if p.is_dir()), path)  # "." at the latest, for a relative path
    try:  # a probe, not os.access: root passes access() where the file system itself refuses
        os.rmdir(tempfile.mkdtemp(dir=nearest, prefix=".rankscope-probe-"))
    except OSError as exc:
        raise InputError(f"{flag} {path}: cannot write under {nearest} ({exc.strerror or exc}); "
                         f"choose a writable location") from None
    return path


def check_out(out: Path, overwrite: bool, resumable: bool = False) -> None:
    """Refuse an existing output directory unless ``overwrite`` (checked before any training).

    A directory holding a study (``study.json``) is resumed when ``resumable``; ``--overwrite``
    then deletes it, study included, and starts afresh."""
    from rankscope.allocators.optuna.storage import is_study_dir

    check_dir_path(out, "--out")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a directory")
    if out.exists() and resumable and is_study_dir(out):
        if overwrite:
            shutil.rmtree(out)
        return
    if out.exists() and not overwrite:
        raise InputError(f"output directory {out} already exists; pass --overwrite or choose another --out")


def staging_prefix(out: Path, kind: str) -> str:
    """The name start of a hidden directory beside ``out`` that this process writes before the
    rename (``kind``: ``adapter`` for the trained adapters, ``tmp`` for the run's files)."""
    return f".{Path(out).name}.{kind}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_leftovers(out: Path) -> list[Path]:
    """Delete the hidden staging directories beside ``out`` that an earlier run of the same
    ``out`` left when it was killed mid-write (their process is gone); return them. A run then
    starts clean and never reuses a half-written directory."""
    out = Path(out)
    if not out.parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(adapter|tmp)-(\d+)-")
    stale = [p for p in out.parent.iterdir() if (m := pattern.match(p.name)) and p.is_dir()
             and int(m.group(2)) != os.getpid() and not _alive(int(m.group(2)))]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def _fill(tmp: Path, result: dict, allocation_json: str, config_toml: str, adapter_dir) -> None:
    """Write every file of a run into ``tmp`` (and move the trained adapters to ``tmp/adapter``)."""
    from rankscope.report import write_reports

    atomic_write_text(tmp / "result.json", json.dumps(result, indent=2, allow_nan=False) + "\n")
    atomic_write_text(tmp / "allocation.json", allocation_json + "\n")
    atomic_write_text(tmp / "config.toml", config_toml)
    write_reports(tmp, result)
    if adapter_dir is not None:
        shutil.move(str(adapter_dir), tmp / "adapter")


def write_run(out: Path, result: dict, allocation_json: str, config_toml: str, overwrite: bool,
              adapter_dir=None) -> Path:
    """Write the run's files (and move ``adapter_dir``, the trained adapters, to ``out/adapter``)."""
    from rankscope.allocators.optuna.storage import is_study_dir

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if is_study_dir(out):  # the study stays where it is; each result file is replaced atomically
        tmp = Path(tempfile.mkdtemp(dir=out, prefix=".results.tmp-"))
        try:
            _fill(tmp, result, allocation_json, config_toml, adapter_dir)
            if adapter_dir is not None:
                shutil.rmtree(out / "adapter", ignore_errors=True)
            for f in sorted(tmp.iterdir(), key=lambda p: p.name == "result.json"):  # result.json last
                os.replace(f, out / f.name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out
    return write_beside(out, lambda tmp: _fill(tmp, result, allocation_json, config_toml, adapter_dir), overwrite)


def write_beside(out: Path, fill, overwrite: bool) -> Path:
    """``fill(tmp)`` a hidden staging directory beside ``out``, then rename it into place
    (replacing ``out`` only when ``overwrite``): a failure leaves no half-written directory."""
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=staging_prefix(out, "tmp")))
    try:
        fill(tmp)
        if out.exists():
            check_out(out, overwrite)
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_result(run_dir) -> dict:
    """The ``result.json`` of a run directory, checked to be a rankscope result (schema 1)."""
    from rankscope.search.result import SearchResult

    path = Path(run_dir) / "result.json"
    if not path.is_file():
        raise InputError(f"{run_dir} is not a run directory (no result.json)")
    data = read_json(path, "a rankscope result.json")
    SearchResult.from_dict(data, source=str(path))
    return data
