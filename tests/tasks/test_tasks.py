"""Task data: the local GLUE files (exact counts), the HF row conversion, custom CSV/JSONL data,
the official metrics against hand-computed values, and every user mistake's error message."""

import json
import os
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
from conftest import SHARED_DATA

from rankscope.errors import InputError
from rankscope.tasks import (
    TASKS,
    Example,
    TaskSpec,
    compute_metrics,
    get_task_spec,
    infer_custom_spec,
    load_custom_data,
    load_task_data,
    task_names,
)
from rankscope.tasks.classification.glue import examples_from_hf

SHARED_GLUE = SHARED_DATA / "glue"
GLUE_DIR = Path(os.environ.get("RANKSCOPE_GLUE_DIR", SHARED_GLUE))


@pytest.fixture
def glue_dir():
    if not (GLUE_DIR / "CoLA" / "train.tsv").is_file():
        pytest.skip(f"GLUE v1 data not found at {GLUE_DIR} (set RANKSCOPE_GLUE_DIR)")
    return GLUE_DIR


def write(path: Path, text: str, encoding="utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


# --- the local GLUE files: counts from /work/shared/data/glue/README.md -------------------------

# MRPC train (not in the README): 2753 positives in msr_paraphrase_train.txt - 279 moved to dev.
COUNTS = {
    ("cola", "train"): (8551, {1: 6023, 0: 2528}), ("cola", "dev"): (1043, {1: 721, 0: 322}),
    ("sst2", "train"): (67349, {1: 37569, 0: 29780}), ("sst2", "dev"): (872, {1: 444, 0: 428}),
    ("mrpc", "train"): (3668, {1: 2474, 0: 1194}), ("mrpc", "dev"): (408, {1: 279, 0: 129}),
    ("rte", "train"): (2490, {0: 1249, 1: 1241}), ("rte", "dev"): (277, {0: 146, 1: 131}),
}


@pytest.mark.parametrize("task,split", list(COUNTS))
def test_glue_rows_labels_and_pairs(glue_dir, task, split):
    rows, labels = COUNTS[task, split]
    examples = load_task_data(task, split, data_dir=glue_dir)
    assert (len(examples), Counter(e.label for e in examples)) == (rows, labels)
    assert all(isinstance(e.text, str) and e.text.strip() for e in examples)
    paired = task in ("mrpc", "rte")
    assert all((e.text_pair is not None and e.text_pair.strip()) if paired else e.text_pair is None
               for e in examples)


def test_glue_first_and_last_rows(glue_dir, monkeypatch):
    mrpc = load_task_data("mrpc", "train", data_dir=glue_dir)  # BOM-prefixed header read by name
    assert mrpc[0].text.startswith("Amrozi accused") and mrpc[0].text_pair.startswith("Referring")
    assert mrpc[0].label == 1 and [e.label for e in mrpc[-2:]] == [1, 0]
    cola = load_task_data("cola", "dev", data_dir=glue_dir)  # the file has no final newline
    assert cola[-1] == Example("John talked to Bill about himself.", None, 1)
    rte = load_task_data("rte", "dev", data_dir=glue_dir)
    assert rte[0].text_pair == "Christopher Reeve had an accident." and rte[0].label == 1
    monkeypatch.setenv("RANKSCOPE_GLUE_DIR", str(glue_dir))  # used when data_dir is not given
    assert load_task_data("rte", "dev") == rte


def test_max_samples_is_seeded_and_keeps_file_order(glue_dir):
    full = load_task_data("rte", "dev", data_dir=glue_dir)
    a = load_task_data("rte", "dev", data_dir=glue_dir, max_samples=50, seed=3)
    assert a == load_task_data("rte", "dev", data_dir=glue_dir, max_samples=50, seed=3)
    assert a != load_task_data("rte", "dev", data_dir=glue_dir, max_samples=50, seed=4)
    positions = [full.index(e) for e in a]
    assert len(a) == 50 and positions == sorted(positions)
    assert load_task_data("rte", "dev", data_dir=glue_dir, max_samples=10_000) == full
    for bad in (0, -1, True, 2.5):
        with pytest.raises(InputError, match="max_samples must be a positive integer"):
            load_task_data("rte", "dev", data_dir=glue_dir, max_samples=bad)


# --- GLUE layouts not shipped locally, written in tmp_path ---------------------------------------

STSB = ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\t"
        "An air plane is taking off.\t5.000\n"
        "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man plays a \"flute.\t"
        "A man is playing a flute.\t3.800\n")
QNLI = ("index\tquestion\tsentence\tlabel\n"
        "0\tWho?\tHim.\tentailment\n1\tWhen?\tNo.\tnot_entailment\n")
QQP = ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"  # with CRLF line ends
       "7\t1\t2\tA?\tB?\t1\r\n8\t3\t4\tC?\tD?\t0\r\n")
MNLI_HEAD = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
             "sentence2_binary_parse", "sentence1_parse", "sentence2_parse", "sentence1",
             "sentence2", "label1", "label2", "label3", "label4", "label5", "gold_label"]
MNLI = "\t".join(MNLI_HEAD) + "\n" + "\n".join(
    "\t".join(["0", "1", "2", "fiction", "(", "(", "(", "(", f"P{i}.", f"H{i}."] + [g] * 6)
    for i, g in enumerate(["neutral", "contradiction", "entailment"]))


def test_glue_layouts_without_local_copies(tmp_path):
    write(tmp_path / "STS-B" / "dev.tsv", STSB)
    write(tmp_path / "QNLI" / "train.tsv", QNLI)
    write(tmp_path / "QQP" / "dev.tsv", QQP)
    write(tmp_path / "MNLI" / "dev_matched.tsv", MNLI)
    stsb = load_task_data("stsb", "dev", data_dir=tmp_path)  # an unbalanced " stays in its field
    assert stsb[1] == Example('A man plays a "flute.', "A man is playing a flute.", 3.8)
    assert [e.label for e in load_task_data("qnli", "train", data_dir=tmp_path)] == [0, 1]
    assert load_task_data("qqp", "dev", data_dir=tmp_path)[1] == Example("C?", "D?", 0)  # CRLF
    mnli = load_task_data("mnli", "dev", data_dir=tmp_path)
    assert [(e.text, e.text_pair, e.label) for e in mnli] == [
        ("P0.", "H0.", 1), ("P1.", "H1.", 2), ("P2.", "H2.", 0)]


def test_glue_file_errors(tmp_path, glue_dir):
    with pytest.raises(InputError, match="does not exist"):
        load_task_data("rte", "dev", data_dir=tmp_path / "nope")
    with pytest.raises(InputError, match=r"expected the file .*QNLI.*train\.tsv"):
        load_task_data("qnli", "train", data_dir=glue_dir)
    write(tmp_path / "RTE" / "dev.tsv", "index\tpremise\thypothesis\tlabel\n0\ta\tb\tentailment\n")
    with pytest.raises(InputError, match=r"needs the columns \['sentence1', 'sentence2', 'label'\]"
                                         r".*header has \['index', 'premise'"):
        load_task_data("rte", "dev", data_dir=tmp_path)
    write(tmp_path / "CoLA" / "dev.tsv", "gj04\t1\t\tFine.\ngj04\t0\tOops.\n")
    with pytest.raises(InputError, match=r"CoLA.dev\.tsv:2: expected 4 tab-separated .* found 3"):
        load_task_data("cola", "dev", data_dir=tmp_path)
    write(tmp_path / "SST-2" / "dev.tsv", "sentence\tlabel\n")
    with pytest.raises(InputError, match=r"SST-2.dev\.tsv holds no examples"):
        load_task_data("sst2", "dev", data_dir=tmp_path)


@pytest.mark.parametrize("task,folder,body,where,valid", [
    ("sst2", "SST-2", "sentence\tlabel\ngood .\t1\nodd .\t2\n", "3: label '2'",
     r"0\.\.1 or one of negative, positive"),
    ("rte", "RTE", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n", "2: label 'maybe'",
     r"0\.\.1 or one of entailment, not_entailment"),
    ("stsb", "STS-B", STSB.replace("3.800", "high"), "3: label 'high'", "any finite number"),
])
def test_glue_bad_labels_name_line_and_valid_ones(tmp_path, task, folder, body, where, valid):
    write(tmp_path / folder / "train.tsv", body)
    with pytest.raises(InputError, match=rf"train\.tsv:{where} does not fit .*: {valid}"):
        load_task_data(task, "train", data_dir=tmp_path)


# --- Hugging Face rows ---------------------------------------------------------------------------

def test_hf_rows_become_examples():
    Dataset = datasets.Dataset
    cola = Dataset.from_dict({"sentence": ["It works.", "Works it."], "label": [1, 0]})
    assert examples_from_hf("cola", cola) == [Example("It works.", None, 1),
                                              Example("Works it.", None, 0)]
    mnli = Dataset.from_dict({"premise": ["P."], "hypothesis": ["H."], "label": [2], "idx": [0]})
    assert examples_from_hf("mnli", mnli) == [Example("P.", "H.", 2)]
    stsb = Dataset.from_dict({"sentence1": ["a", "b"], "sentence2": ["c", "d"],
                              "label": [4.75, 0.0]})
    assert [e.label for e in examples_from_hf("stsb", stsb)] == [4.75, 0.0]
    mrpc_columns = Dataset.from_dict({"sentence1": ["a"], "sentence2": ["b"], "label": [0]})
    with pytest.raises(InputError, match=r"needs the columns \['question1', 'question2', 'label"):
        examples_from_hf("qqp", mrpc_columns)
    with pytest.raises(InputError, match="row 0: label -1 does not fit task 'sst2'"):  # test split
        examples_from_hf("sst2", Dataset.from_dict({"sentence": ["x"], "label": [-1]}))


def test_hub_is_used_without_a_local_dir_and_its_failure_is_explained(monkeypatch):
    monkeypatch.delenv("RANKSCOPE_GLUE_DIR", raising=False)
    calls = []

    def hub(path, name, split):
        calls.append((path, name, split))
        if name != "mnli":
            raise ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub (OfflineModeIsEnabled)")
        return datasets.Dataset.from_dict({"premise": ["P."], "hypothesis": ["H."], "label": [0]})

    monkeypatch.setattr(datasets, "load_dataset", hub)
    assert load_task_data("mnli", "dev") == [Example("P.", "H.", 0)]
    assert calls == [("nyu-mll/glue", "mnli", "validation_matched")]
    with pytest.raises(InputError, match="Pass --data-dir .* or set RANKSCOPE_GLUE_DIR"):
        load_task_data("cola", "train")


# --- metrics -------------------------------------------------------------------------------------

def test_specs_and_metric_names():
    expected = {"cola": ("mcc",), "sst2": ("accuracy",), "rte": ("accuracy",),
                "qnli": ("accuracy",), "mnli": ("accuracy",), "mrpc": ("accuracy", "f1"),
                "qqp": ("accuracy", "f1"), "stsb": ("pearson", "spearman")}
    assert set(expected) <= set(TASKS.names())
    for name, metrics in expected.items():
        spec = get_task_spec(name)
        assert spec is TASKS.get(name) and spec.metric_names == metrics
        assert spec.primary_metric == metrics[0] and spec.is_regression == (name == "stsb")
    assert get_task_spec("mnli").num_labels == 3 and get_task_spec("stsb").num_labels == 1


def test_metrics_match_hand_computed_values():
    # CoLA: truth 1,1,0,0, predicted 1,0,0,0 -> TP=1 TN=2 FP=0 FN=1, MCC = 2/sqrt(1*2*2*3)
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.6, 0.4], [0.7, 0.3]])
    assert get_task_spec("cola").metrics(logits, [1, 1, 0, 0]) == pytest.approx(
        {"mcc": 2 / 12 ** 0.5})
    # MRPC: 3 of 5 right; TP=2 FP=1 FN=1 -> precision = recall = F1 = 2/3
    out = compute_metrics(get_task_spec("mrpc"), np.array([1, 0, 0, 1, 1]), [1, 1, 0, 0, 1])
    assert out == pytest.approx({"accuracy": 0.6, "f1": 2 / 3})
    assert all(type(v) is float for v in out.values())
    # STS-B: deviations (-1.5,-.5,.5,1.5) vs (-1.5,.5,-.5,1.5): r = 4/5; the ranks give the same
    stsb = get_task_spec("stsb").metrics(np.array([[1.0], [2.0], [3.0], [4.0]]), [1, 3, 2, 4])
    assert stsb == pytest.approx({"pearson": 0.8, "spearman": 0.8})
    # MNLI: argmax of 3-way logits
    mnli = np.array([[3, 1, 0], [0, 2, 1], [0, 0, 5], [9, 0, 0]])
    assert get_task_spec("mnli").metrics(mnli, [0, 1, 2, 2]) == {"accuracy": 0.75}
    # custom 3 classes, macro F1: class 0 -> 1, class 1 -> 0, class 2: P=2/3 R=1 -> 0.8
    three = TaskSpec("custom", 3, "accuracy", ("accuracy", "f1"))
    assert three.metrics(np.array([0, 2, 2, 2]), [0, 1, 2, 2]) == pytest.approx(
        {"accuracy": 0.75, "f1": 0.6})


def test_degenerate_metrics_are_zero_not_nan():
    stsb = get_task_spec("stsb")
    assert stsb.metrics(np.full(4, 2.5), [1, 2, 3, 4]) == {"pearson": 0.0, "spearman": 0.0}
    assert stsb.metrics(np.array([1.0, np.nan, 2.0]), [1, 2, 3])["pearson"] == 0.0
    assert get_task_spec("cola").metrics(np.array([1, 1, 1]), [1, 0, 1]) == {"mcc": 0.0}
    assert get_task_spec("mrpc").metrics(np.array([0, 0]), [0, 0])["f1"] == 0.0


def test_metric_input_errors():
    with pytest.raises(InputError, match=r"logits of shape \(N, 2\)"):
        get_task_spec("rte").metrics(np.zeros((3, 3)), [0, 1, 0])
    with pytest.raises(InputError, match=r"shape \(N,\) or \(N, 1\)"):
        get_task_spec("stsb").metrics(np.zeros((3, 2)), [0.0, 1.0, 2.0])
    with pytest.raises(InputError, match="2 predictions for 3 labels"):
        get_task_spec("sst2").metrics(np.zeros((2, 2)), [0, 1, 0])


# --- custom data ---------------------------------------------------------------------------------

def test_custom_csv_classification(tmp_path):
    write(tmp_path / "train.csv", 'text,text_pair,label\n"Hi, there",Yo,1\nBye,,0\nMeh,Eh,2\n',
          encoding="utf-8-sig")
    write(tmp_path / "dev.csv", "text,text_pair,label\nOk,Fine,1.0\n")
    spec = get_task_spec("custom", data_dir=tmp_path)
    assert spec == TaskSpec("custom", 3, "accuracy", ("accuracy", "f1"))
    assert load_task_data("custom", "train", data_dir=tmp_path) == [
        Example("Hi, there", "Yo", 1), Example("Bye", None, 0), Example("Meh", "Eh", 2)]
    assert load_task_data("custom", "dev", data_dir=tmp_path) == [Example("Ok", "Fine", 1)]


def test_custom_jsonl_regression(tmp_path):
    rows = [{"text": "a", "label": 0}, {"text": "b", "label": 3.5}, {"text": "c", "label": "5"}]
    write(tmp_path / "train.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    spec = infer_custom_spec(tmp_path)
    assert spec == load_custom_data(tmp_path, "train")[0] and spec.primary_metric == "pearson"
    examples = load_custom_data(tmp_path, "train", max_samples=2, seed=0)[1]
    assert len(examples) == 2 and all(type(e.label) is float and not e.text_pair for e in examples)


@pytest.mark.parametrize("files,pattern", [
    ({}, r"expected .*train\.csv or .*train\.jsonl"),
    ({"train.csv": "text,label\na,1\n", "train.jsonl": '{"text": "a", "label": 1}\n'},
     r"both .*train\.csv and .*train\.jsonl exist"),
    ({"train.csv": "sentence,label\na,1\n"}, r"expected the columns text, label .* \['sentence'"),
    ({"train.csv": "text,label\na,1\nb,0,extra\n"}, r"train\.csv:3: more fields than the 2 header"),
    ({"train.csv": "text,label\na,1\nb,yes\n"}, r"train\.csv:3: label 'yes' is not a finite"),
    ({"train.csv": "text,label\na,1\nb,-1\n"}, r"train\.csv:3: class label -1 is negative"),
    ({"train.csv": "text,label\na,0\nb,0\n"}, r"every label is 0"),
    ({"train.jsonl": '{"text": "a", "label": 1}\n{"text": "b", label: 0}\n'},
     r"train\.jsonl:2: not valid JSON"),
    ({"train.jsonl": '{"text": "a", "label": 1}\n[1, 0]\n'}, r"jsonl:2: expected a JSON object"),
    ({"train.jsonl": '{"text": "a", "label": 1}\n{"text": "b"}\n'}, r"jsonl:2: missing label"),
    ({"train.jsonl": '{"text": 5, "label": 1}\n{"text": "b", "label": 0}\n'},
     r"train\.jsonl:1: text must be a string"),
    ({"train.jsonl": '{"text": "a", "label": true}\n'}, r"label True is not a finite number"),
    ({"train.csv": "text,label\n"}, r"holds no examples"),
])
def test_custom_data_errors(tmp_path, files, pattern):
    for name, body in files.items():
        write(tmp_path / name, body)
    with pytest.raises(InputError, match=pattern):
        load_task_data("custom", "train", data_dir=tmp_path)


def test_custom_dev_labels_are_checked_against_a_registered_spec(tmp_path, monkeypatch):
    monkeypatch.setitem(TASKS._items, "toy", TaskSpec("toy", 2, "accuracy", ("accuracy",)))
    write(tmp_path / "dev.csv", "text,label\na,1\nb,2\n")
    with pytest.raises(InputError, match=r"dev\.csv:3: label '2' does not fit task 'toy' "
                                         r"\(2 classes\); valid labels: 0\.\.1"):
        load_task_data("toy", "dev", data_dir=tmp_path)
    assert "toy" in task_names()


# --- names and splits ----------------------------------------------------------------------------

def test_unknown_names_and_missing_arguments(tmp_path):
    with pytest.raises(InputError, match="unknown task 'colaa'; available: cola, mnli, .*custom"):
        get_task_spec("colaa")
    with pytest.raises(InputError, match="unknown task 'glue'"):
        load_task_data("glue", "train")
    with pytest.raises(InputError, match="task 'custom' reads <data_dir>.* pass --data-dir"):
        load_task_data("custom", "train")
    with pytest.raises(InputError, match="unknown split 'test'; valid splits: train, dev"):
        load_task_data("rte", "test", data_dir=tmp_path)
