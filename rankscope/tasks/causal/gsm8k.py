"""GSM8K (Cobbe et al. 2021, arXiv:2110.14168): grade-school maths as prompt/response rows.

**Where the data comes from**, first match wins (as :func:`rankscope.tasks.classification.glue.glue_dir` does,
plus the shared copy):

1. ``data_dir`` (``--data-dir``), 2. ``$RANKSCOPE_GSM8K_DIR``: a directory holding the release
   files ``train.jsonl`` (7473 rows) and ``test.jsonl`` (1319 rows) of openai/grade-school-math,
   one ``{"question": str, "answer": str}`` a line. A named directory that does not exist is an
   error, never a silent fall-through;
3. ``../shared/data/gsm8k`` next to the repository (this checkout's parent), when present;
4. the Hugging Face hub, ``datasets.load_dataset("openai/gsm8k", "main")``.

**Splits.** GSM8K has no dev split. ``dev`` is a seeded hold-out of ``train.jsonl``: ``dev_size``
rows (an int count, or a fraction of the 7473; default 5 %, i.e. 374 rows) drawn with
``numpy.random.default_rng(seed).choice(n, dev_size, replace=False)`` and kept in file order;
``train`` is every other row, also in file order, so train and dev are disjoint and the same on
every machine for a seed. ``test`` is ``test.jsonl``, for the reported score only. Keep ``seed``
fixed across training seeds, so that every run selects its model on the same rows. The hold-out is
drawn by position, so the hub copy gives the same rows as long as it keeps the release's order.

**Rows.** ``prompt = "Question: " + question.strip() + "\\nAnswer:"`` and ``response = " " +
answer``: the worked solution as released, calculator annotations ``<<48/2=24>>`` included (the
usual practice for supervised fine-tuning; ``keep_calculator=False`` removes them), ending with the
line ``#### <final answer>``. The space starts the response because BPE tokenizers encode a word
with its leading space, so the prompt ends on ``Answer:`` exactly as at inference.

**Scoring** (:func:`gsm8k_answer`, :func:`exact_match`): the final answers of the generated and
the gold solution are compared as normalised numbers:

>>> gsm8k_answer("She makes 9 * 2 = $<<9*2=18>>18.\\n#### 18")
'18'
>>> gsm8k_answer("The answer is 1,234.")          # no '####': the last number in the text
'1234'
>>> exact_match("So 5.0 apples.", "... #### 5"), exact_match("#### 1,234", "#### 1234")
(True, True)
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import numpy as np

from rankscope.errors import InputError
from rankscope.tasks.base import DataError
from rankscope.tasks.causal.rows import CausalRow, read_jsonl_objects

GSM8K_DIR_ENV = "RANKSCOPE_GSM8K_DIR"
HF_DATASET = ("openai/gsm8k", "main")
GSM8K_SPLITS = ("train", "dev", "test")
PROMPT_TEMPLATE = "Question: {question}\nAnswer:"
DEV_FRACTION = 0.05
MARKER = "####"
CALCULATOR = re.compile(r"<<[^<>]*>>")
#: a number: optional sign, digits with or without thousands separators, optional decimals. It may
#: not start right after a digit or '.', so "16-3" reads as 16 and 3, not 16 and -3.
NUMBER = re.compile(r"(?<![\d.])(-?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")


def default_gsm8k_dir() -> Path:
    """``<repository>/../shared/data/gsm8k``, the shared copy tests and benchmarks read."""
    return (Path(__file__).resolve().parents[4] / "shared" / "data" / "gsm8k").resolve()


def gsm8k_dir(data_dir=None) -> Path | None:
    """The local GSM8K directory (see the module docstring), or ``None`` for the hub."""
    named = (("--data-dir", data_dir), (f"${GSM8K_DIR_ENV}", os.environ.get(GSM8K_DIR_ENV)))
    for origin, root in named:
        if root:
            root = Path(root).expanduser()
            if not root.is_dir():
                raise DataError(missing_message([f"{root} (from {origin})"]))
            return root
    default = default_gsm8k_dir()
    return default if default.is_dir() else None


def missing_message(tried: list[str], why: str = "does not exist") -> str:
    return (f"GSM8K data not found: {', '.join(tried)} {why}. Pass --data-dir DIR (data_dir=...) "
            f"or set ${GSM8K_DIR_ENV} to a directory holding train.jsonl and test.jsonl (the "
            f"openai/grade-school-math release files, one {{\"question\", \"answer\"}} a line)")


def load_gsm8k(split: str, data_dir=None, seed: int = 0, dev_size: float = DEV_FRACTION, *,
               keep_calculator: bool = True) -> list[CausalRow]:
    """The ``split`` (``train``, ``dev`` or ``test``) of GSM8K as prompt/response rows.

    See the module docstring for the data sources, the dev hold-out and the row template.
    """
    if split not in GSM8K_SPLITS:
        raise InputError(f"unknown GSM8K split {split!r}; valid splits: {', '.join(GSM8K_SPLITS)}")
    records = read_gsm8k("test" if split == "test" else "train", data_dir)
    if split != "test":
        dev = set(holdout_indices(len(records), dev_size, seed).tolist())
        records = [r for i, r in enumerate(records) if (i in dev) == (split == "dev")]
    return [gsm8k_row(q, a, where, keep_calculator) for where, q, a in records]


def read_gsm8k(file: str, data_dir=None) -> list[tuple[str, str, str]]:
    """``(where, question, answer)`` of every row of ``file`` (``train`` or ``test``), checked."""
    root = gsm8k_dir(data_dir)
    if root is None:
        raw = load_gsm8k_hub(file)
    else:
        path = root / f"{file}.jsonl"
        if not path.is_file():
            raise DataError(missing_message([str(path)]))
        raw = read_jsonl_objects(path)
    rows = []
    for where, record in raw:
        question, answer = record.get("question"), record.get("answer")
        if not (isinstance(question, str) and isinstance(answer, str)):
            raise DataError(f"{where}: a GSM8K row needs the string fields question and answer; "
                            f"found the keys {sorted(record)}")
        if final_number(answer) is None:
            raise DataError(f"{where}: the answer does not end with '#### <number>' as every "
                            f"GSM8K solution does: ...{answer[-60:]!r}")
        rows.append((where, question, answer))
    if not rows:
        raise DataError(f"GSM8K {file} split holds no rows")
    return rows


def load_gsm8k_hub(file: str) -> list[tuple[str, dict]]:
    from datasets import load_dataset

    try:
        rows = load_dataset(*HF_DATASET, split=file)
    except OSError as err:  # ConnectionError, offline mode, not cached
        raise DataError(missing_message([str(default_gsm8k_dir())], why=(
            f"does not exist and the hub copy {HF_DATASET[0]} ({HF_DATASET[1]}) could not be "
            f"loaded ({err})"
        ))) from None
    return [(f"{HF_DATASET[0]} ({HF_DATASET[1]}) {file} row {i}", dict(r))
            for i, r in enumerate(rows)]


def holdout_indices(n: int, dev_size: float, seed: int) -> np.ndarray:
    """Sorted indices of the dev hold-out: ``dev_size`` rows (a count, or a fraction of ``n``)."""
    if isinstance(dev_size, bool) or not isinstance(dev_size, (int, float)):
        raise InputError(f"dev_size must be a row count or a fraction in (0, 1), got {dev_size!r}")
    k = round(dev_size * n) if isinstance(dev_size, float) else dev_size
    if not 0 < k < n:
        raise InputError(f"dev_size {dev_size!r} gives {k} of {n} train rows; the hold-out needs "
                         f"at least one row and must leave at least one for training")
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def gsm8k_row(question: str, answer: str, where: str = "",
              keep_calculator: bool = True) -> CausalRow:
    """One GSM8K problem as a prompt/response row (template: see the module docstring)."""
    solution = answer if keep_calculator else CALCULATOR.sub("", answer)
    return CausalRow("prompt_response", prompt=PROMPT_TEMPLATE.format(question=question.strip()),
                     response=" " + solution, where=where)


def normalize_number(text: str) -> str | None:
    """A number's canonical spelling: commas dropped, and integral values as integers.

    ``"1,234"`` -> ``"1234"``, ``"5.0"`` -> ``"5"``, ``"5.50"`` -> ``"5.5"``, ``"007"`` -> ``"7"``,
    ``"-0"`` -> ``"0"``. There is no rounding (``0.33`` is not ``1/3``); text that is not a number
    gives ``None``.
    """
    match = NUMBER.fullmatch(text.strip())
    if match is None:
        return None
    value = Decimal(match.group(1) + match.group(2).replace(",", "") + (match.group(3) or ""))
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def final_number(text: str) -> str | None:
    """The first number after the first ``####`` of ``text`` (normalised), or ``None``."""
    _, marker, tail = text.partition(MARKER)
    match = NUMBER.search(tail) if marker else None
    return normalize_number(match.group(0)) if match else None


def gsm8k_answer(text: str) -> str | None:
    """The final answer of a solution: the number after ``####``, else the last number in the text.

    The marker's number is the first one after the first ``####`` (a model that rambles on into a
    new question after answering is judged on its first answer). Without a marker, or with no
    number after it, the last number in the whole text counts; with none at all, ``None``.
    Numbers are normalised by :func:`normalize_number` (a ``$`` or ``%`` next to them is ignored).
    """
    found = final_number(text)
    if found is not None:
        return found
    numbers = NUMBER.findall(text)
    return normalize_number("".join(numbers[-1])) if numbers else None


def exact_match(pred_text: str, gold_text: str) -> bool:
    """Whether the final answers of a generated and a gold solution are the same number."""
    pred = gsm8k_answer(pred_text)
    return pred is not None and pred == gsm8k_answer(gold_text)
