"""``--task causal --dataset NAME_OR_PATH``: causal rows from any ``datasets.load_dataset`` source.

``--data-dir DIR`` reads ``DIR/train.jsonl`` and ``DIR/dev.jsonl`` (:mod:`.rows`); ``--dataset``
reads what the Hugging Face ``datasets`` library reads, and turns it into the same
:class:`~rankscope.tasks.causal.rows.CausalRow` s, so tokenisation, prompt masking, evaluation and
everything after them are the same for both:

==========================  ======================================================================
``--dataset``               loaded with
==========================  ======================================================================
``rows.jsonl``, ``.json``   ``load_dataset("json", data_files={"train": path})``
``rows.parquet``            ``load_dataset("parquet", data_files={"train": path})``
``rows.csv``                ``load_dataset("csv", data_files={"train": path})``, every cell as text
a directory                 ``load_dataset(dir)``: one split per file name (``train.jsonl`` is
                            ``train``; ``dev.jsonl``, ``validation.jsonl`` are ``validation``)
anything else               the hub: ``load_dataset(id, --dataset-config)``, when it is reachable
==========================  ======================================================================

A CSV is read with every cell as text, and an empty cell as ``""``: pandas would read ``"007"`` as
the number 7 and ``NA`` as missing. ``trust_remote_code`` is passed only with
``--trust-remote-code``. A path that does not exist is an error (it is never looked up on the hub
when it looks like a path: a data file's extension, or a leading ``/``, ``.`` or ``~``), and so is a
source that ``datasets`` cannot load, with what was tried and why it failed.

**Splits.** ``train`` is ``--dataset-split`` (default ``train``). ``dev`` is ``--dataset-dev-split``,
else the first of ``dev``, ``validation``, ``valid``, ``val``, ``test`` that the source has, else a
hold-out of :data:`DEV_FRACTION` of the train rows (at least one), drawn by
:func:`~rankscope.tasks.causal.gsm8k.holdout_indices` with the fixed seed :data:`HOLDOUT_SEED`:
the same rows for every ``--seed``, as a dev file would be; train keeps the other rows, in order.

**Columns** (``--prompt-column``, ``--response-column``, ``--messages-column``, ``--text-column``):
see :mod:`.columns`; with no flag, TRL's column names are found.

>>> import json, tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "sums.jsonl"
>>> _ = path.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f"{i + 1}"}) + "\\n"
...                             for i in range(40)))
>>> splits = load_dataset_rows(DatasetSource(str(path)))
>>> len(splits["train"]), len(splits["dev"]), splits["dev"][0].format   # 5 % held out
(38, 2, 'prompt_response')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rankscope.errors import InputError
from rankscope.tasks.base import DataError
from rankscope.tasks.causal.columns import COLUMN_FLAGS, resolve_columns, rows_of
from rankscope.tasks.causal.gsm8k import holdout_indices
from rankscope.tasks.causal.rows import CausalRow

if TYPE_CHECKING:
    from rankscope.search.config import SearchConfig

#: a local file's extension -> the ``datasets`` builder that reads it
BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
DEV_SPLITS = ("dev", "validation", "valid", "val", "test")
DEV_FRACTION = 0.05
HOLDOUT_SEED = 0  # fixed, not --seed: every training seed selects its model on the same rows
#: the SearchConfig fields that describe a ``--dataset`` source (all ``None`` unless given)
SETTINGS = ("dataset", "dataset_config", "dataset_split", "dataset_dev_split",
            *(f"{field}_column" for field in COLUMN_FLAGS))


@dataclass(frozen=True)
class DatasetSource:
    """Where ``--dataset`` rows come from: the source, its split names and its column flags
    (``columns``: ``{row field: column}``, e.g. ``{"prompt": "question"}``)."""

    path: str
    config: str | None = None
    split: str | None = None
    dev_split: str | None = None
    columns: tuple[tuple[str, str | None], ...] = ()
    trust_remote_code: bool = False

    @classmethod
    def from_config(cls, cfg: SearchConfig) -> DatasetSource:
        columns = tuple((field, getattr(cfg, f"{field}_column")) for field in COLUMN_FLAGS)
        return cls(cfg.dataset, cfg.dataset_config, cfg.dataset_split, cfg.dataset_dev_split, columns,
                   cfg.trust_remote_code)

    @property
    def label(self) -> str:
        return self.path + (f" ({self.config})" if self.config else "")


def check_settings(cfg: SearchConfig) -> None:
    """The ``--dataset`` settings of a causal task, before anything is loaded: names are non-empty
    strings, the flags go with ``--dataset`` and not with ``--data-dir``, a local path exists."""
    given = [key for key in SETTINGS if getattr(cfg, key) is not None]
    for key in given:
        value = getattr(cfg, key)
        if not isinstance(value, str) or not value.strip():
            what = "a file, a directory or a hub id" if key == "dataset" else "a name"
            raise InputError(f"{flag(key)} must be {what}, got {value!r}")
    if cfg.dataset is None:
        if given:
            raise InputError(f"{flag(given[0])} describes a --dataset source; give --dataset NAME_OR_PATH "
                             f"(with --data-dir the row format is read from the keys of each row)")
        return
    if cfg.data_dir is not None:
        raise InputError("--dataset and --data-dir are two sources of --task causal rows; give one")
    path = local_path(cfg.dataset)
    if cfg.dataset_config is not None and path is not None and path.is_file():
        raise InputError(f"--dataset-config names a configuration of a hub data set or directory; "
                         f"{cfg.dataset} is one file")
    if cfg.dataset_dev_split is not None and cfg.dataset_dev_split == (cfg.dataset_split or "train"):
        raise InputError(f"--dataset-dev-split {cfg.dataset_dev_split} is also the training split; "
                         f"name another split, or leave it out for a hold-out of the training rows")


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def local_path(name: str) -> Path | None:
    """The local file or directory ``name`` names, or ``None`` for a hub id. A name that looks like
    a path (a data file's extension, a leading ``/``, ``.`` or ``~``) must exist."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if path.exists() or path.suffix.lower() in BUILDERS or name.startswith(("/", ".", "~")):
        if not path.exists():
            raise DataError(f"--dataset {name}: no such file or directory (a local source is a "
                            f".jsonl, .json, .parquet or .csv file, or a directory of them)")
        if path.suffix.lower() not in BUILDERS:
            what = f"{path.suffix} files" if path.suffix else "files without an extension"
            raise DataError(f"--dataset {name}: cannot read {what}; give a .jsonl, .json, .parquet or .csv "
                            f"file, or a directory of them")
        return path
    return None


def load_dataset_rows(source: DatasetSource) -> dict[str, list[CausalRow]]:
    """``{"train": rows, "dev": rows}`` of ``source`` (splits: see the module docstring)."""
    data = load_splits(source)
    train_name = source.split or "train"
    dev_name = source.dev_split or next((s for s in DEV_SPLITS if s in data and s != train_name), None)
    for name, flag_name in ((train_name, "--dataset-split"), (source.dev_split, "--dataset-dev-split")):
        if name is not None and name not in data:
            raise DataError(f"--dataset {source.label} has no split {name!r} ({flag_name}); its splits: "
                            f"{', '.join(data)}")
    train = data[train_name]
    mapping = resolve_columns(train.column_names, dict(source.columns), source.label)
    if dev_name is None:  # no dev split: hold some training rows out
        if len(train) < 2:
            raise DataError(f"--dataset {source.label} [{train_name}] holds {len(train)} row(s) and no dev split "
                            f"({', '.join(DEV_SPLITS)}); a held-out dev split needs at least two rows")
        dev_index = holdout_indices(len(train), max(1, round(DEV_FRACTION * len(train))), HOLDOUT_SEED)
        held = set(dev_index.tolist())
        splits = {"train": (train.select([i for i in range(len(train)) if i not in held]), train_name),
                  "dev": (train.select(dev_index), f"{train_name}, held out")}
    else:
        splits = {"train": (train, train_name), "dev": (data[dev_name], dev_name)}
    rows = {}
    for split, (dataset, name) in splits.items():
        if len(dataset) == 0:
            raise DataError(f"--dataset {source.label} [{name}] holds no rows")
        rows[split] = rows_of(dataset, mapping, f"{source.label} [{name}]")
    return rows


def load_splits(source: DatasetSource):
    """The source as a ``datasets.DatasetDict``; a CSV source is read again with text cells."""
    from datasets import DatasetDict, Features, Value

    path = local_path(source.path)
    if path is None:
        args, kwargs, tried = (source.path, source.config), {}, f"the Hugging Face hub id {source.label!r}"
    elif path.is_dir():
        args, kwargs, tried = (str(path), source.config), {}, f"the local directory {path}"
    else:
        builder = BUILDERS[path.suffix.lower()]
        args, kwargs, tried = (builder,), {"data_files": {"train": str(path)}}, f"the local {builder} file {path}"
    if source.trust_remote_code:  # off unless asked (datasets >= 4 no longer runs loading scripts)
        kwargs["trust_remote_code"] = True
    quiet = path is not None  # a hub download keeps its progress bars
    data = _load(args, kwargs, tried, quiet)
    if not isinstance(data, DatasetDict) or not data:
        raise DataError(f"--dataset {source.label}: {tried} loaded no splits")
    first = next(iter(data.values()))
    if first.info.builder_name == "csv":
        text = Features({column: Value("string") for column in first.column_names})
        data = _load(args, {**kwargs, "features": text, "keep_default_na": False}, tried, quiet)
    return data


def _load(args, kwargs, tried: str, quiet: bool):
    import datasets
    from datasets.exceptions import DatasetsError
    from datasets.utils import logging as ds_logging

    level, bars = ds_logging.get_verbosity(), not datasets.are_progress_bars_disabled()
    if quiet:  # a local file: no "Generating train split" bars, and no log line repeating our error
        ds_logging.set_verbosity(ds_logging.CRITICAL)
        datasets.disable_progress_bars()
    try:
        return datasets.load_dataset(*args, **kwargs)
    except (OSError, ValueError, DatasetsError) as err:  # unreachable, unreadable, malformed
        raise DataError(f"could not load --dataset from {tried}: {reason(err)}") from None
    finally:
        ds_logging.set_verbosity(level)
        if bars:
            datasets.enable_progress_bars()


def reason(err: BaseException) -> str:
    """An exception and its cause on one line (``datasets`` wraps a parse error in a generic
    ``DatasetGenerationError`` whose cause says what was wrong)."""
    parts = [f"{type(err).__name__}: {err}"]
    if err.__cause__ is not None:
        parts.append(f"{type(err.__cause__).__name__}: {err.__cause__}")
    return " ".join(" <- ".join(parts).split())[:400]
