"""File helpers: atomic writes (a temporary file beside the target, then a rename over it) and
the one JSON reader, whose errors name the file and what it should hold."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path, what: str = "file", error=None):
    """The JSON value in ``path``; a missing, unreadable or malformed file raises ``error``
    (default :class:`~rankscope.errors.InputError`) naming the path and ``what`` it should be."""
    from .errors import InputError

    error = error or InputError
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path} does not exist (expected {what})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {path} ({what}): {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path} is not valid JSON ({exc}); expected {what}") from None
