"""Causal-LM task rows: the three JSON Lines row formats, how they are detected and checked.

``--task causal --data-dir DIR`` reads ``DIR/train.jsonl`` and ``DIR/dev.jsonl``, one JSON object a
line (blank lines are skipped). Each file is in one of three formats, detected from the keys of its
rows (other keys, such as ``"id"``, are ignored):

====================  ================================================================  ==========
format                a row                                                             targets
====================  ================================================================  ==========
``prompt_response``   ``{"prompt": "Translate: chat", "response": " cat"}``              response
``messages``          ``{"messages": [{"role": "user", "content": "Hi"},``              assistant
                      ``{"role": "assistant", "content": "Hello!"}]}``                  turns
``text``              ``{"text": "Once upon a time ..."}``                              every token
====================  ================================================================  ==========

* ``prompt_response``: the prompt and the response are used verbatim and joined with nothing in
  between, so put the separating space or newline where the model should see it (usually at the
  start of the response, as BPE tokenizers encode a word together with its leading space).
* ``messages``: an optional ``system`` message first, then ``user`` and ``assistant`` turns
  alternating, starting with ``user`` and ending with ``assistant``. The text is rendered by the
  tokenizer's chat template (see :func:`rankscope.tasks.causal.features.tokenize_causal`).
* ``text``: plain language modelling.

Every row of a file must be in the same format. A row that fits none of them, or more than one, a
mixed file, a line that is not JSON, an empty response (or text, or assistant turn) and roles out of
order are :class:`~rankscope.tasks.base.DataError` (an ``InputError``) naming the file and line.

>>> import json, tempfile
>>> from pathlib import Path
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "train.jsonl").write_text(json.dumps({"prompt": "2+2=", "response": "4"}) + "\\n")
>>> row, = load_causal(d, "train")
>>> row.format, row.prompt, row.response
('prompt_response', '2+2=', '4')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rankscope.errors import InputError
from rankscope.io import read_jsonl
from rankscope.tasks.base import DataError, check_split

#: format name -> the keys that mark it
FORMATS: dict[str, tuple[str, ...]] = {
    "prompt_response": ("prompt", "response"),
    "messages": ("messages",),
    "text": ("text",),
}
FORMAT_HELP = ('{"prompt": str, "response": str}, {"messages": [{"role": str, "content": str}, '
               '...]} or {"text": str}')
ROLE_ORDER = ("an optional system message first, then user and assistant turns alternating "
              "(starting with user), ending with an assistant turn")


@dataclass(frozen=True)
class CausalRow:
    """One training row. Only the fields of its ``format`` are set (see the module docstring).

    ``where`` (``"path:line"``, or a hub split and index) goes into error messages.
    """

    format: str
    prompt: str = ""
    response: str = ""
    messages: tuple[dict, ...] = ()
    text: str = ""
    where: str = field(default="", compare=False)


def load_causal(data_dir, split: str) -> list[CausalRow]:
    """The rows of ``split`` (``"train"`` or ``"dev"``): ``<data_dir>/<split>.jsonl``, checked."""
    check_split(split)
    if data_dir is None:
        raise InputError("--task causal reads <DIR>/train.jsonl and <DIR>/dev.jsonl: pass "
                         "--data-dir DIR (data_dir=...)")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        what = "is a file, not a directory" if root.exists() else "does not exist"
        raise DataError(f"causal data directory {root} (from --data-dir) {what}; expected a "
                        f"directory holding train.jsonl and dev.jsonl")
    path = root / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(f"expected the {split} split in {path}, which does not exist (--task "
                        f"causal reads <DIR>/train.jsonl and <DIR>/dev.jsonl; rows: {FORMAT_HELP})")
    rows = read_causal_jsonl(path)
    if not rows:
        raise DataError(f"{path} holds no rows")
    return rows


def read_causal_jsonl(path) -> list[CausalRow]:
    """Every row of one JSONL file as a :class:`CausalRow`, all in one detected format."""
    rows, first = [], None
    for where, record in read_jsonl_objects(Path(path)):
        fmt = detect_format(record, where)
        if first is None:
            first = (fmt, where)
        elif fmt != first[0]:
            raise DataError(f"{where}: this row is in the {fmt} format but {first[1]} (the first "
                            f"row) is in the {first[0]} format; every row of a file must share "
                            f"one format: {FORMAT_HELP}")
        rows.append(row_from_record(fmt, record, where))
    return rows


def read_jsonl_objects(path: Path) -> list[tuple[str, dict]]:
    """``("<path>:<line>", object)`` for every non-blank line of a JSON Lines file."""
    return read_jsonl(path, FORMAT_HELP, DataError)


def detect_format(record: dict, where: str) -> str:
    """The one format of :data:`FORMATS` whose keys ``record`` has; an error for none or several."""
    found = [name for name, keys in FORMATS.items() if all(key in record for key in keys)]
    if not found:
        raise DataError(f"{where}: a row with the keys {sorted(record)} is in none of the three "
                        f"row formats: {FORMAT_HELP}")
    if len(found) > 1:
        raise DataError(f"{where}: the keys {sorted(record)} fit more than one row format "
                        f"({', '.join(found)}); keep the keys of one: {FORMAT_HELP}")
    return found[0]


def row_from_record(fmt: str, record: dict, where: str) -> CausalRow:
    """A checked :class:`CausalRow` of format ``fmt`` from one JSON object."""
    for key in FORMATS[fmt]:
        if fmt != "messages" and not isinstance(record[key], str):
            raise DataError(f"{where}: {key} must be a string, got {record[key]!r:.80}")
    if fmt == "prompt_response":
        if not record["response"].strip():
            raise DataError(f"{where}: empty response; every prompt/response row needs a non-empty "
                            f"response (the tokens the loss is computed on)")
        return CausalRow(fmt, prompt=record["prompt"], response=record["response"], where=where)
    if fmt == "text":
        if not record["text"].strip():
            raise DataError(f"{where}: empty text; every text row needs some text")
        return CausalRow(fmt, text=record["text"], where=where)
    return CausalRow(fmt, messages=check_messages(record["messages"], where), where=where)


def check_messages(messages, where: str) -> tuple[dict, ...]:
    """``messages`` as a tuple of dicts, after checking their shape and the order of the roles."""
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: messages must be a non-empty list of {{\"role\", \"content\"}} "
                        f"objects; {ROLE_ORDER}")
    for i, message in enumerate(messages):
        if not (isinstance(message, dict) and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)):
            raise DataError(f"{where}: messages[{i}] must be an object with a string role and a "
                            f"string content, got {message!r:.80}")
    roles = [m["role"] for m in messages]
    if "assistant" not in roles:
        raise DataError(f"{where}: the conversation has no assistant turn (roles: {roles}), so "
                        f"nothing to train on; valid order: {ROLE_ORDER}")
    offset = 1 if roles[0] == "system" else 0
    for i in range(offset, len(roles)):
        expected = ("user", "assistant")[(i - offset) % 2]
        if roles[i] != expected:
            raise DataError(f"{where}: messages[{i}] has the role {roles[i]!r} where {expected!r} "
                            f"is expected (roles: {roles}); valid order: {ROLE_ORDER}")
    if roles[-1] != "assistant":
        raise DataError(f"{where}: the conversation ends with a {roles[-1]} message (roles: "
                        f"{roles}); valid order: {ROLE_ORDER}")
    for i, message in enumerate(messages):
        if message["role"] == "assistant" and not message["content"].strip():
            raise DataError(f"{where}: messages[{i}] is an empty assistant turn (an empty "
                            f"response); every assistant turn needs content")
    return tuple(dict(m) for m in messages)
