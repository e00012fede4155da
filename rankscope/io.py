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
    from rankscope.errors import InputError

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


def read_jsonl(path, example: str, error):
    """``[("<path>:<line>", object)]`` for every non-blank line of a JSON Lines file. A line
    that is not a JSON object, a non-UTF-8 file or an unreadable one raises ``error`` naming the
    file, the line and, as ``example``, what a valid line looks like."""
    records = []
    try:
        with open(path, encoding="utf-8-sig") as f:  # -sig: drop a byte-order mark
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise error(f"{where}: not valid JSON Lines ({err.msg} at column {err.colno}); expected "
                                f"one JSON object per line, e.g. {example}") from None
                if not isinstance(record, dict):
                    raise error(f"{where}: expected a JSON object ({example}), got {type(record).__name__}")
                records.append((where, record))
    except UnicodeDecodeError as err:
        raise error(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise error(f"cannot read {path}: {err.strerror or err}") from None
    return records


def user_cache_dir(kind: str) -> Path | None:
    """``$RANKSCOPE_CACHE/<kind>``, else ``$XDG_CACHE_HOME/rankscope/<kind>``, else
    ``~/.cache/rankscope/<kind>``; ``None`` when ``$RANKSCOPE_CACHE`` is ``off``."""
    env = os.environ.get("RANKSCOPE_CACHE")
    if env == "off":
        return None
    if env:
        return Path(env).expanduser() / kind
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rankscope" / kind
