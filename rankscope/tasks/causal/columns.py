"""Which columns of a ``--dataset`` are the rows' prompt and response, messages or text.

A ``datasets`` source has named columns; a causal row has one of three formats
(:mod:`rankscope.tasks.causal.rows`). A :class:`ColumnMap` says which column feeds which field of
the row. The default column names are the ones TRL's ``SFTTrainer`` reads, so a data set prepared
for TRL needs no flags:

=====================  ==================================  =======================================
row format             columns found with no flag          flags that name other columns
=====================  ==================================  =======================================
``prompt_response``    ``prompt`` + ``response`` or        ``--prompt-column``, ``--response-column``
                       ``completion`` (TRL's name)
``messages``           ``messages``                        ``--messages-column``
``text``               ``text``                            ``--text-column``
=====================  ==================================  =======================================

* **No flag**: the format is the one whose default columns the data set has. None, or more than
  one (a data set with both ``text`` and ``messages``), is an error that lists the columns and
  the flags that choose.
* **Flags**: they choose the format; flags of two formats together are an error. A prompt/response
  flag given alone takes the other column from its defaults (``--prompt-column question`` reads
  ``question`` and ``response`` or ``completion``). A named column the data set lacks is an error
  that lists the columns it has.
* **Cells**: as in a JSONL row (strings; a list of ``{"role", "content"}`` messages), and checked
  the same way. A ``messages`` cell that is a string is read as JSON, since a CSV cell cannot hold
  a list. TRL's *conversational* prompt/completion (both cells lists of messages) becomes one
  ``messages`` row, the prompt's turns followed by the completion's; every assistant turn is a
  target, as in any ``messages`` row.

>>> m = resolve_columns(["id", "question", "answer"], {"prompt": "question", "response": "answer"}, "qa.csv")
>>> m.format, m.columns
('prompt_response', {'prompt': 'question', 'response': 'answer'})
>>> row_of({"id": 1, "question": "2+2=", "answer": "4"}, m, "qa.csv [train] row 0").response
'4'
>>> resolve_columns(["text", "source"], {}, "corpus.parquet").format
'text'
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rankscope.tasks.base import DataError
from rankscope.tasks.causal.rows import FORMATS, CausalRow, row_from_record

#: row field -> the column names that feed it when no flag names one (TRL's names included)
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "prompt": ("prompt",),
    "response": ("response", "completion"),
    "messages": ("messages",),
    "text": ("text",),
}
#: row field -> the flag (and SearchConfig field, ``--x-y`` = ``x_y``) that names its column
COLUMN_FLAGS: dict[str, str] = {field: f"--{field}-column" for field in DEFAULT_COLUMNS}
FLAGS_HELP = ("--prompt-column with --response-column, --messages-column or --text-column")


@dataclass(frozen=True)
class ColumnMap:
    """The row ``format`` and ``{row field: column name}`` for each of its fields."""

    format: str
    columns: dict[str, str]


def resolve_columns(available, given: dict, source: str) -> ColumnMap:
    """The :class:`ColumnMap` of a data set with the columns ``available``.

    ``given`` maps row fields to the columns the flags name (``{"prompt": "question"}``; absent or
    ``None``: not given); ``source`` names the data set in errors.
    """
    available = list(available)
    given = {field: column for field, column in given.items() if column is not None}
    formats = {fmt for fmt, keys in FORMATS.items() for field in given if field in keys}
    if len(formats) > 1:
        flags = ", ".join(COLUMN_FLAGS[field] for field in given)
        raise DataError(f"{flags} choose different row formats ({', '.join(sorted(formats))}); give the "
                        f"flags of one format: {FLAGS_HELP}")
    if formats:
        (fmt,) = formats
        columns = {field: given.get(field) or _default(field, available) for field in FORMATS[fmt]}
        for field, column in columns.items():
            if column not in available:
                named = f"no column {column!r} ({COLUMN_FLAGS[field]})" if column else (
                    f"none of the columns {', '.join(DEFAULT_COLUMNS[field])} for the {field} "
                    f"(name it with {COLUMN_FLAGS[field]})")
                raise DataError(f"--dataset {source} has {named}; its columns: {', '.join(available)}")
        return ColumnMap(fmt, columns)
    found = {}
    for fmt, fields in FORMATS.items():
        columns = {field: _default(field, available) for field in fields}
        if all(columns.values()):
            found[fmt] = columns
    if len(found) != 1:
        what = ("none of the row formats fits its columns" if not found else
                f"its columns fit more than one row format ({', '.join(found)})")
        raise DataError(f"--dataset {source}: {what} (columns: {', '.join(available)}); name the "
                        f"columns with {FLAGS_HELP}")
    (fmt, columns), = found.items()
    return ColumnMap(fmt, columns)


def _default(field: str, available: list) -> str | None:
    """The first default column of ``field`` that the data set has (``response``, then
    ``completion``), or ``None``."""
    return next((c for c in DEFAULT_COLUMNS[field] if c in available), None)


def row_of(record: dict, mapping: ColumnMap, where: str) -> CausalRow:
    """One data-set row (``{column: cell}``) as a checked :class:`CausalRow`."""
    values = {field: record[column] for field, column in mapping.columns.items()}
    if mapping.format == "messages" and isinstance(values["messages"], str):
        values["messages"] = _json_list(values["messages"], where)
    if mapping.format == "prompt_response" and all(isinstance(v, list) for v in values.values()):
        # TRL's conversational prompt/completion: one conversation, completion turns last
        return row_from_record("messages", {"messages": values["prompt"] + values["response"]}, where)
    return row_from_record(mapping.format, values, where)


def _json_list(text: str, where: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: the messages cell is text but not JSON ({err.msg} at character "
                        f"{err.pos}); a CSV messages cell holds the list as JSON, e.g. "
                        f"[{{\"role\": \"user\", \"content\": \"Hi\"}}, ...]") from None


def rows_of(dataset, mapping: ColumnMap, where: str) -> list[CausalRow]:
    """Every row of one split (a ``datasets.Dataset``) as checked rows; ``where`` prefixes the
    row index (``row 3`` is ``dataset[3]``) in errors."""
    missing = [c for c in mapping.columns.values() if c not in dataset.column_names]
    if missing:
        raise DataError(f"{where} has no column {missing[0]!r}; its columns: {', '.join(dataset.column_names)}")
    table = dataset.select_columns(sorted(set(mapping.columns.values())))
    return [row_of(record, mapping, f"{where} row {i}") for i, record in enumerate(table)]
