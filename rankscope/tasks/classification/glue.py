"""The eight GLUE tasks: their specs, and readers for the two places their data can come from.

1. A local directory in the GLUE v1 TSV layout, as GLUE's ``download_glue_data.py`` writes it::

       <dir>/CoLA/{train,dev}.tsv   <dir>/SST-2/...   <dir>/MRPC/...   <dir>/RTE/...
       <dir>/STS-B/...   <dir>/QNLI/...   <dir>/QQP/...   <dir>/MNLI/{train,dev_matched}.tsv

   given as ``data_dir`` or, failing that, by the environment variable ``RANKSCOPE_GLUE_DIR``.
2. Otherwise the Hugging Face copy ``nyu-mll/glue`` through ``datasets.load_dataset`` (needs the
   hub, or a warm ``datasets`` cache).

Both give the same examples and label ids: the TSV label names map to the ids of the HF
``ClassLabel`` features (RTE/QNLI: entailment=0, not_entailment=1; MNLI: entailment=0,
neutral=1, contradiction=2). Columns are read by header name, so the layout below documents each
file, and a file whose header lacks a needed column, or a row whose number of fields differs from
its header, is rejected with the path and line rather than read misaligned. No row is dropped.

Cite GLUE (Wang et al., ICLR 2019, arXiv:1804.07461) and each task's own paper when using them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rankscope.tasks.base import (
    TASKS,
    DataError,
    Example,
    TaskSpec,
    check_split,
    select,
)

GLUE_DIR_ENV = "RANKSCOPE_GLUE_DIR"
HF_DATASET = "nyu-mll/glue"


@dataclass(frozen=True)
class GlueLayout:
    """Where one task's text and labels are, in the TSV files and in the HF dataset.

    ``text``/``pair``/``label`` are TSV column names. ``columns`` names the columns of a file that
    has no header line (only CoLA), so it is read by name like the others. ``hf_text``/``hf_pair``
    are the HF column names (the HF label column is always ``label``).
    """

    folder: str
    text: str
    pair: str | None
    label: str
    hf_text: str
    hf_pair: str | None
    columns: tuple[str, ...] = ()
    dev_file: str = "dev.tsv"
    hf_dev_split: str = "validation"


_BINARY_NLI = ("entailment", "not_entailment")

#: task name -> (spec, layout). Primary metrics follow the GLUE paper (see :mod:`.metrics`).
GLUE: dict[str, tuple[TaskSpec, GlueLayout]] = {
    # CoLA ships without a header: source, label (0/1), original author's mark ("*" or empty),
    # sentence (Warstadt et al. 2019). Its dev file is in-domain + out-of-domain dev, concatenated.
    "cola": (TaskSpec("cola", 2, "mcc", ("mcc",), ("unacceptable", "acceptable")),
             GlueLayout("CoLA", "sentence", None, "label", "sentence", None,
                        columns=("source", "label", "original_label", "sentence"))),
    "sst2": (TaskSpec("sst2", 2, "accuracy", ("accuracy",), ("negative", "positive")),
             GlueLayout("SST-2", "sentence", None, "label", "sentence", None)),
    # MRPC's header is "Quality  #1 ID  #2 ID  #1 String  #2 String"; Quality is the 0/1 label.
    "mrpc": (TaskSpec("mrpc", 2, "accuracy", ("accuracy", "f1"), ("not_equivalent", "equivalent")),
             GlueLayout("MRPC", "#1 String", "#2 String", "Quality", "sentence1", "sentence2")),
    "rte": (TaskSpec("rte", 2, "accuracy", ("accuracy",), _BINARY_NLI),
            GlueLayout("RTE", "sentence1", "sentence2", "label", "sentence1", "sentence2")),
    # STS-B: index genre filename year old_index source1 source2 sentence1 sentence2 score.
    "stsb": (TaskSpec("stsb", 1, "pearson", ("pearson", "spearman")),
             GlueLayout("STS-B", "sentence1", "sentence2", "score", "sentence1", "sentence2")),
    "qnli": (TaskSpec("qnli", 2, "accuracy", ("accuracy",), _BINARY_NLI),
             GlueLayout("QNLI", "question", "sentence", "label", "question", "sentence")),
    # QQP: id qid1 qid2 question1 question2 is_duplicate.
    "qqp": (TaskSpec("qqp", 2, "accuracy", ("accuracy", "f1"), ("not_duplicate", "duplicate")),
            GlueLayout("QQP", "question1", "question2", "is_duplicate", "question1", "question2")),
    # MNLI has parse-tree columns, then sentence1 sentence2, the annotators' labels (one in train,
    # five in dev) and gold_label last. "dev" is the matched (in-genre) dev set.
    "mnli": (TaskSpec("mnli", 3, "accuracy", ("accuracy",),
                      ("entailment", "neutral", "contradiction")),
             GlueLayout("MNLI", "sentence1", "sentence2", "gold_label", "premise", "hypothesis",
                        dev_file="dev_matched.tsv", hf_dev_split="validation_matched")),
}

for _name, (_spec, _layout) in GLUE.items():
    TASKS.register(_name, _spec)


def load_glue(name: str, split: str, *, data_dir=None, max_samples: int | None = None,
              seed: int = 0) -> list[Example]:
    """Examples of GLUE task ``name`` (a key of :data:`GLUE`), split ``"train"`` or ``"dev"``.

    Reads ``data_dir`` (or ``$RANKSCOPE_GLUE_DIR``) when given, else the Hugging Face hub; then
    keeps a seeded, order-preserving subset of ``max_samples`` rows (see :func:`.base.select`).
    """
    check_split(split)
    root = glue_dir(data_dir)
    if root is None:
        examples, source = load_glue_hub(name, split), f"{HF_DATASET} {name} {split}"
    else:
        source = tsv_path(root, name, split)
        examples = read_glue_tsv(source, name)
    return select(examples, max_samples=max_samples, seed=seed, source=str(source))


def glue_dir(data_dir=None) -> Path | None:
    """The local GLUE directory: ``data_dir``, else ``$RANKSCOPE_GLUE_DIR``, else ``None`` (hub)."""
    origin = "data_dir" if data_dir else GLUE_DIR_ENV
    root = data_dir or os.environ.get(GLUE_DIR_ENV) or None
    if root is None:
        return None
    root = Path(root).expanduser()
    if not root.is_dir():
        what = "is a file, not a directory" if root.exists() else "does not exist"
        raise DataError(f"GLUE data directory {root} (from {origin}) {what}; expected a "
                        f"directory in the GLUE v1 layout, e.g. {root / 'CoLA' / 'train.tsv'}")
    return root


def tsv_path(root: Path, name: str, split: str) -> Path:
    layout = GLUE[name][1]
    path = root / layout.folder / (layout.dev_file if split == "dev" else "train.tsv")
    if not path.is_file():
        raise DataError(f"GLUE task {name!r} ({split}): expected the file {path}, which does not "
                        f"exist (GLUE v1 layout: <dir>/{layout.folder}/train.tsv and "
                        f"<dir>/{layout.folder}/{layout.dev_file})")
    return path


def read_tsv(path: Path) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of every non-empty line of a GLUE TSV file.

    Lines are split on tab by hand. The ``csv`` module's default quoting would treat the
    unbalanced ``"`` in the texts as field quotes and silently merge rows (3570 instead of 3668
    MRPC train rows), and ``str.splitlines`` would also break on characters such as U+2028 that
    may occur inside a sentence, so only ``\\n`` ends a line (a trailing ``\\r`` is dropped). The
    last line may lack a newline (CoLA's dev file does). ``utf-8-sig`` strips the byte-order mark
    MRPC starts with, which would otherwise turn its first column name into ``"\\ufeffQuality"``.
    """
    text = path.read_text(encoding="utf-8-sig")
    return [(number, line.removesuffix("\r").split("\t"))
            for number, line in enumerate(text.split("\n"), start=1) if line.strip("\r")]


def read_glue_tsv(path: Path, name: str) -> list[Example]:
    """Examples of task ``name`` from one GLUE TSV file, columns looked up by header name."""
    spec, layout = GLUE[name]
    rows = read_tsv(path)
    if not rows:
        return []  # an empty file: reported by select() as an empty dataset
    header = list(layout.columns) if layout.columns else rows.pop(0)[1]
    wanted = [c for c in (layout.text, layout.pair, layout.label) if c]
    if not set(wanted) <= set(header):
        raise DataError(f"{path}: GLUE task {name!r} needs the columns {wanted}; the header has "
                        f"{header}")
    text, label = header.index(layout.text), header.index(layout.label)
    pair = header.index(layout.pair) if layout.pair else None
    examples = []
    for number, fields in rows:
        where = f"{path}:{number}"
        if len(fields) != len(header):
            raise DataError(f"{where}: expected {len(header)} tab-separated columns ({header}), "
                            f"found {len(fields)}")
        examples.append(Example(fields[text], None if pair is None else fields[pair],
                                spec.check_label(fields[label], where)))
    return examples


def load_glue_hub(name: str, split: str) -> list[Example]:
    """All examples of one split from the Hugging Face dataset ``nyu-mll/glue``."""
    from datasets import load_dataset

    hf_split = GLUE[name][1].hf_dev_split if split == "dev" else "train"
    try:
        rows = load_dataset(HF_DATASET, name, split=hf_split)
    except OSError as err:  # ConnectionError, offline mode, not cached, dataset not found
        raise DataError(
            f"could not load GLUE task {name!r} ({hf_split}) from the Hugging Face hub "
            f"({HF_DATASET}): {err}. Pass --data-dir (data_dir=...) or set {GLUE_DIR_ENV} to a "
            f"directory in the GLUE v1 TSV layout (<dir>/{GLUE[name][1].folder}/train.tsv ...)"
        ) from None
    return examples_from_hf(name, rows, source=f"{HF_DATASET} {name} {hf_split}")


def examples_from_hf(name: str, rows, source: str = HF_DATASET) -> list[Example]:
    """Examples of task ``name`` from a ``datasets.Dataset`` with the ``nyu-mll/glue`` columns.

    Kept apart from the download so it can be checked on ``Dataset.from_dict(...)`` offline.
    Labels are validated like TSV labels, which also rejects the ``-1`` of the unlabelled test
    splits.
    """
    spec, layout = GLUE[name]
    wanted = [c for c in (layout.hf_text, layout.hf_pair, "label") if c]
    if not set(wanted) <= set(rows.column_names):
        raise DataError(f"{source}: GLUE task {name!r} needs the columns {wanted}; the dataset has "
                        f"{rows.column_names}")
    pairs = rows[layout.hf_pair] if layout.hf_pair else [None] * len(rows)
    return [Example(text, pair, spec.check_label(label, f"{source} row {index}"))
            for index, (text, pair, label)
            in enumerate(zip(rows[layout.hf_text], pairs, rows["label"]))]
