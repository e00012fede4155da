"""An on-disk cache for what the planted task computes the same way every time.

The teacher's targets depend only on (model weights, space, seed, planted config), and the
uniform floor and oracle ceiling additionally on the training schedule. Both are cached in the
user cache directory, keyed by a SHA-256 of everything that determines them::

    task key      = H(task format, rankscope and torch versions, model name, SHA-256 of every
                      weight byte, space fingerprint, seed, PlantedConfig)
    baseline key  = H(task key, every training setting of the run, the allocation and its form)

so any change of those inputs is a different key (nothing is ever invalidated in place). Entries
are written to a temporary file and renamed into place (:func:`rankscope.io.atomic_write_bytes`):
two runs that compute the same entry at once both write a complete file and the last rename
wins, and a reader never sees half a file. A corrupt or unreadable entry is recomputed.
Tensors are stored as safetensors and records as JSON (never pickle).

Location: ``$RANKSCOPE_CACHE``, else ``$XDG_CACHE_HOME/rankscope``, else ``~/.cache/rankscope``;
``RANKSCOPE_CACHE=off`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch

from rankscope._version import __version__
from rankscope.io import atomic_write_bytes, atomic_write_text, user_cache_dir

log = logging.getLogger(__name__)
ENV = "RANKSCOPE_CACHE"
# the version of what the teacher computes: 2 = pre-LN streams read normalised, plants scaled to
# the stream (rankscope.tasks.planted.stream); a new format is a new key, never an in-place change
TASK_FORMAT = 2
# settings that do not change what a baseline training computes
# (baseline_lr: a baseline's key holds the lr it trained at, as "lr")
NOT_SCHEDULE = ("allocator", "allocator_options", "baseline", "baseline_lr", "trust_remote_code", "space", "model",
                "task", "seed", "planted")


def cache_dir() -> Path | None:
    """The planted cache's directory, or ``None`` when ``$RANKSCOPE_CACHE`` is ``off``."""
    return user_cache_dir("planted")


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:32]


def weights_digest(model) -> str:
    """SHA-256 of every parameter and buffer, in order, byte for byte."""
    h = hashlib.sha256()
    for name, t in list(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def task_key(model_name: str, model, space, seed: int, planted_config: dict) -> str:
    return digest({"what": "planted-task", "format": TASK_FORMAT, "rankscope": __version__,
                   "torch": torch.__version__, "model": model_name, "weights": weights_digest(model),
                   "space": space.fingerprint, "seed": seed, "planted": planted_config})


def baseline_key(task: str, settings: dict, allocation, steps=None) -> str:
    schedule = {k: v for k, v in settings.items() if k not in NOT_SCHEDULE}
    return digest({"what": "planted-baseline", "task": task, "schedule": schedule, "steps": steps,
                   "allocation": allocation.to_json(), "form": allocation.form})


class PlantedCache:
    """Entries under ``cache_dir()``: ``<key>.safetensors`` (tensors) and ``<key>.json`` (records)."""

    def __init__(self, root: Path | None = None):
        self.root = cache_dir() if root is None else root

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def get_tensors(self, key: str) -> dict | None:
        path = self.root / f"{key}.safetensors" if self.enabled else None
        if path is None or not path.is_file():
            return None
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # a corrupt entry is recomputed (and rewritten)
            log.warning("ignoring unreadable cache entry %s: %s", path, exc)
            return None

    def put_tensors(self, key: str, tensors: dict) -> None:
        if self.enabled:
            from safetensors.torch import save

            atomic_write_bytes(self.root / f"{key}.safetensors",
                               save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))

    def get_json(self, key: str):
        path = self.root / f"{key}.json" if self.enabled else None
        if path is None or not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache entry %s: %s", path, exc)
            return None

    def put_json(self, key: str, record) -> None:
        if self.enabled:
            atomic_write_text(self.root / f"{key}.json", json.dumps(record, allow_nan=True))
