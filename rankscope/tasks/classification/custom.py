"""Custom tasks: your own train/dev files, with the task spec inferred from their labels.

A custom data directory holds one file per split, in either format::

    <dir>/train.csv  or  <dir>/train.jsonl
    <dir>/dev.csv    or  <dir>/dev.jsonl

with the fields ``text``, ``label`` and optionally ``text_pair`` (other fields are ignored).
CSV files have a header line and standard CSV quoting (as ``pandas.to_csv`` writes them); JSONL
files have one JSON object per line. An empty or missing ``text_pair`` means "no second text".

The task (named ``"custom"``) is inferred from the labels of every split file present, so train
and dev always agree on it:

* all labels whole numbers (``1``, ``"1"``, ``1.0``) -> classification with
  ``num_labels = max label + 1``; labels must be ``0..K-1`` and at least ``0`` and ``1`` must be
  possible (``K >= 2``). Metrics: ``accuracy`` (primary) and ``f1`` (positive-class F1 for two
  classes, macro-F1 for more);
* any label with a fractional part (``3.8``) -> regression (``num_labels = 1``), metrics
  ``pearson`` (primary) and ``spearman``. A regression set whose targets are all whole numbers
  is therefore read as classification.
"""

from __future__ import annotations

import csv
from pathlib import Path

from rankscope import io
from rankscope.tasks.base import (
    SPLITS,
    DataError,
    Example,
    TaskSpec,
    check_split,
    parse_number,
    select,
)

CUSTOM = "custom"
FORMATS = ("csv", "jsonl")
REQUIRED = ("text", "label")


def load_custom_data(data_dir, split: str, *, spec: TaskSpec | None = None,
                     max_samples: int | None = None, seed: int = 0
                     ) -> tuple[TaskSpec, list[Example]]:
    """``(spec, examples)`` of ``split`` (``"train"``/``"dev"``) from a custom data directory.

    Labels are checked against ``spec``, by default the one :func:`infer_custom_spec` finds
    (returned, as the caller has no other way to know it); a registered plugin task passes its
    own. ``max_samples``/``seed`` pick a seeded, order-preserving subset (see
    :func:`.base.select`).
    """
    check_split(split)
    path = split_file(data_dir, split)
    spec = spec or infer_custom_spec(data_dir)
    examples = [to_example(record, spec.check_label(record["label"], where), where)
                for where, record in read_records(path)]
    return spec, select(examples, max_samples=max_samples, seed=seed, source=str(path))


def infer_custom_spec(data_dir) -> TaskSpec:
    """The :class:`TaskSpec` that the labels of every split file in ``data_dir`` imply."""
    paths = [path for split in SPLITS if (path := split_file(data_dir, split, required=False))]
    labels = [(parse_number(record["label"], where), where)
              for path in paths or [split_file(data_dir, "train")]
              for where, record in read_records(path)]
    if not labels:
        raise DataError(f"custom data in {data_dir} holds no examples")
    if not all(float(value).is_integer() for value, _ in labels):
        return TaskSpec(CUSTOM, 1, "pearson", ("pearson", "spearman"))
    value, where = min(labels)
    if value < 0:
        raise DataError(f"{where}: class label {value} is negative; classification labels must "
                        f"be 0..K-1 (or use fractional scores for regression)")
    num_labels = int(max(value for value, _ in labels)) + 1
    if num_labels < 2:
        raise DataError(f"custom data in {data_dir}: every label is 0; classification needs the "
                        f"labels 0..K-1 with K >= 2")
    return TaskSpec(CUSTOM, num_labels, "accuracy", ("accuracy", "f1"))


def split_file(data_dir, split: str, *, required: bool = True) -> Path | None:
    """``<data_dir>/<split>.csv`` or ``.jsonl``; an error if both or (when required) neither."""
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        what = "is a file, not a directory" if root.exists() else "does not exist"
        raise DataError(f"custom data directory {root} {what}; expected a directory holding train.csv|jsonl "
                        f"and dev.csv|jsonl")
    odd = [root / f"{split}.{ext}" for ext in FORMATS if (root / f"{split}.{ext}").exists()
           and not (root / f"{split}.{ext}").is_file()]
    if odd:
        raise DataError(f"{odd[0]} is not a file; expected the {split} split as a CSV or JSONL file")
    found = [root / f"{split}.{ext}" for ext in FORMATS if (root / f"{split}.{ext}").is_file()]
    if len(found) > 1:
        raise DataError(f"both {found[0]} and {found[1]} exist; keep one file per split")
    if not found and required:
        raise DataError(f"expected {root / (split + '.csv')} or {root / (split + '.jsonl')}, "
                        f"neither exists (fields: text, label, optional text_pair)")
    return found[0] if found else None


def read_records(path: Path) -> list[tuple[str, dict]]:
    """``("<path>:<line>", record)`` for every row of a CSV or JSONL split file."""
    try:
        records = read_csv(path) if path.suffix == ".csv" else read_jsonl(path)
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8") from None
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    for where, record in records:
        missing = [field for field in REQUIRED if record.get(field) is None]
        if missing:
            raise DataError(f"{where}: missing {', '.join(missing)}; every row needs the fields "
                            f"text and label (text_pair is optional)")
    return records


def read_csv(path: Path) -> list[tuple[str, dict]]:
    # utf-8-sig: spreadsheet programs often write a byte-order mark, which would otherwise end
    # up in the first column name ("\ufefftext").
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        if not set(REQUIRED) <= set(header):
            raise DataError(f"{path}: expected the columns text, label (and optionally "
                            f"text_pair); found {header}")
        records = []
        for record in reader:
            where = f"{path}:{reader.line_num}"
            if None in record:  # more fields than the header: likely an unquoted comma
                raise DataError(f"{where}: more fields than the {len(header)} header columns "
                                f"{header}; quote fields that contain commas")
            records.append((where, record))
    return records


def read_jsonl(path: Path) -> list[tuple[str, dict]]:
    return io.read_jsonl(path, '{"text": "...", "label": 0}', DataError)


def to_example(record: dict, label: int | float, where: str) -> Example:
    text, pair = record["text"], record.get("text_pair") or None
    for field, value in (("text", text), ("text_pair", pair)):
        if value is not None and not isinstance(value, str):
            raise DataError(f"{where}: {field} must be a string, got {value!r}")
    return Example(text, pair, label)
