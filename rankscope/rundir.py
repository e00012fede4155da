"""The run directory: result.json, allocation.json, report.md, report.html, config.toml.

A run is written into a hidden temporary directory beside ``--out`` and renamed into place at the
end, so an interrupted or rejected run never leaves a half-written directory behind. Each file
is itself written atomically.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from .errors import InputError
from .io import atomic_write_text


def default_out(cfg) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-{cfg.task}-{cfg.space}-{cfg.allocator}-s{cfg.seed}"


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse an existing output directory unless ``overwrite`` (checked before any training)."""
    if out.exists() and not overwrite:
        raise InputError(f"output directory {out} already exists; pass --overwrite or choose another --out")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a directory")


def write_run(out: Path, result: dict, allocation_json: str, config_toml: str, overwrite: bool) -> Path:
    from .report import write_reports

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        atomic_write_text(tmp / "result.json", json.dumps(result, indent=2, allow_nan=False) + "\n")
        atomic_write_text(tmp / "allocation.json", allocation_json + "\n")
        atomic_write_text(tmp / "config.toml", config_toml)
        write_reports(tmp, result)
        if out.exists():
            check_out(out, overwrite)
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_result(run_dir) -> dict:
    path = Path(run_dir) / "result.json"
    if not path.is_file():
        raise InputError(f"{run_dir} is not a run directory (no result.json)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from None
