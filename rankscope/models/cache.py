"""A converted, ready-to-load copy of a model that is slow to load from its source (a GGUF file).

Loading SmolLM2 from its GGUF file de-quantises every tensor and rebuilds the tokenizer from
GGUF metadata: tens of seconds on every load. The first load converts it once into a plain
transformers directory (``save_pretrained(..., safe_serialization=True)`` plus the tokenizer);
later loads read that directory in well under a second of weight I/O. Layout::

    <models cache>/gguf-<SHA-256 of the GGUF file>/   config.json, model.safetensors, tokenizer
                                                      files, and rankscope-copy.json (last)
    <models cache>/source-hashes.json                 {source path: size, mtime_ns, sha256}

The copy holds the causal LM (backbone plus output head; a tied head is stored once, so it
costs no extra bytes); the bare backbone and a sequence-classification head load from the
same directory (transformers maps the checkpoint onto each class).

**Safe under concurrent runs.** A converter writes into a fresh temporary directory beside
the final one, writes ``rankscope-copy.json`` last, and renames the directory into place; the
rename is the commit point. If another run committed first, the rename fails and this run
discards its own copy and uses theirs. A directory without a valid marker is never used.

Location: ``$RANKSCOPE_CACHE/models``, else ``$XDG_CACHE_HOME/rankscope/models``, else
``~/.cache/rankscope/models`` (the planted cache's convention); ``RANKSCOPE_CACHE=off`` turns
the copy off, and every load reads the source again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rankscope.io import atomic_write_text, user_cache_dir

log = logging.getLogger(__name__)
ENV = "RANKSCOPE_CACHE"
MARKER = "rankscope-copy.json"
HASHES = "source-hashes.json"
STALE_TMP_S = 6 * 3600  # a temporary directory this old belongs to a run that died


def models_cache_dir() -> Path | None:
    """Where converted model copies live, or ``None`` when ``$RANKSCOPE_CACHE`` is ``off``."""
    return user_cache_dir("models")


def file_sha256(path, memo: Path | None = None) -> str:
    """SHA-256 of a file's bytes; with ``memo`` (a JSON file) remembered by (path, size,
    mtime), so an unchanged file is hashed once."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    table = {}
    if memo is not None:
        try:
            table = json.loads(memo.read_text())
            hit = table.get(str(path), {})
            if {k: hit.get(k) for k in stamp} == stamp and isinstance(hit.get("sha256"), str):
                return hit["sha256"]
        except (OSError, ValueError, AttributeError):
            table = {}
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    digest = h.hexdigest()
    if memo is not None:
        try:  # concurrent writers: the last rename wins, and a lost entry only costs a re-hash
            table = table if isinstance(table, dict) else {}
            table[str(path)] = {**stamp, "sha256": digest}
            atomic_write_text(memo, json.dumps(table, indent=1, sort_keys=True))
        except OSError as exc:
            log.debug("cannot remember the hash of %s: %s", path, exc)
    return digest


def is_complete(directory: Path, key: str) -> bool:
    """Whether ``directory`` is a committed copy for ``key`` (its marker, written last, says so)."""
    try:
        return json.loads((directory / MARKER).read_text()).get("key") == key
    except (OSError, ValueError, AttributeError):
        return False


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sweep_stale(root: Path, prefix: str) -> None:
    now = time.time()
    for old in root.glob(prefix + "*"):
        try:
            if now - old.stat().st_mtime > STALE_TMP_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def discard(directory: Path) -> None:
    """Remove a copy (e.g. one that cannot be read): renamed aside first, so that no run ever
    sees it half deleted; the next load converts again."""
    aside = directory.with_name(f".trash-{directory.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(directory, aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def converted_copy(source, convert: Callable[[Path], None], *, root: Path | None = None,
                   what: str = "model") -> Path | None:
    """The directory of the converted copy of ``source``, converting it first if needed.

    ``convert(directory)`` writes the copy into an empty directory. The copy is keyed by the
    SHA-256 of ``source``'s bytes. Returns ``None`` when the cache is off or its directory is
    not writable (the caller then loads from ``source``).
    """
    root = models_cache_dir() if root is None else Path(root)
    if root is None:
        return None
    source = Path(source)
    try:
        root.mkdir(parents=True, exist_ok=True)
        key = "gguf-" + file_sha256(source, root / HASHES)
    except OSError as exc:
        log.warning("model cache %s is not usable (%s); loading %s from %s", root, exc, what, source)
        return None
    final = root / key
    if is_complete(final, key):
        log.info("loading %s from its converted copy %s", what, final)
        return final
    tmp_prefix = f".tmp-{key}-"
    try:
        _sweep_stale(root, tmp_prefix)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=tmp_prefix))
    except OSError as exc:
        log.warning("model cache %s is not writable (%s); loading %s from %s", root, exc, what, source)
        return None
    try:
        start = time.perf_counter()
        convert(tmp)
        (tmp / MARKER).write_text(json.dumps({"key": key, "source": str(source.resolve()),
                                              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
        _fsync_tree(tmp)
        os.chmod(tmp, 0o755)
        if final.exists() and not is_complete(final, key):
            log.warning("replacing an incomplete model copy %s", final)
            discard(final)
        try:
            os.rename(tmp, final)  # the commit point; fails if another run committed first
        except OSError:
            if not is_complete(final, key):
                raise
            log.info("another run converted %s meanwhile; using its copy %s", what, final)
        else:
            log.info("converted %s once into %s (%.0f s); later loads read this copy",
                     what, final, time.perf_counter() - start)
    except OSError as exc:  # e.g. a full disk: this load reads the source instead
        log.warning("cannot write a converted copy of %s into %s (%s); loading it from %s",
                    what, root, exc, source)
        return None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def gguf_to_transformers(directory: str, gguf_file: str) -> Callable[[Path], None]:
    """A ``convert`` for :func:`converted_copy`: de-quantise a GGUF file once and write a plain
    causal-LM directory (float32 safetensors, exactly the GGUF load's weights) plus tokenizer."""

    def convert(out: Path) -> None:
        import copy

        from transformers import AutoModelForCausalLM, AutoTokenizer


        with quiet_transformers():
            tok = AutoTokenizer.from_pretrained(directory, gguf_file=gguf_file)
            gguf = AutoModelForCausalLM.from_pretrained(directory, gguf_file=gguf_file)
            # a GGUF-loaded model counts as quantised and refuses save_pretrained, though its
            # weights are de-quantised: copy them into a plain model of the same config
            config = copy.deepcopy(gguf.config)
            if hasattr(config, "quantization_config"):
                del config.quantization_config
            plain = AutoModelForCausalLM.from_config(config, dtype=gguf.dtype)
            plain.load_state_dict(gguf.state_dict(), strict=True)
            plain.tie_weights()
            plain.save_pretrained(out, safe_serialization=True)
        tok.save_pretrained(out)

    return convert


class quiet_transformers:
    """Silence transformers' warnings and progress bars while a model loads: a new task head is
    expected, not news, and its report is replaced by one line of ours."""

    def __enter__(self):
        from transformers.utils import logging as tf_logging

        self.level, self.bars = tf_logging.get_verbosity(), tf_logging.is_progress_bar_enabled()
        tf_logging.set_verbosity_error()
        tf_logging.disable_progress_bar()  # and its per-tensor "Loading weights" bar

    def __exit__(self, *exc):
        from transformers.utils import logging as tf_logging

        tf_logging.set_verbosity(self.level)
        if self.bars:
            tf_logging.enable_progress_bar()
