"""`--task causal --dataset NAME_OR_PATH`: JSON Lines, Parquet and CSV sources through `datasets`,
in each of the three row formats, give the rows and token features `--data-dir` gives, and train
on tiny-llama; bad sources and column flags are InputErrors that say what the data set has."""

import csv
import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rankscope.errors import InputError
from rankscope.search.config import SearchConfig
from rankscope.search.pipeline import run_search
from rankscope.search.validate import validate
from rankscope.tasks.causal.features import load_causal, tokenize_causal
from rankscope.tasks.causal.hf_dataset import DatasetSource, load_dataset_rows
from rankscope.tasks.causal.kind import CAUSAL_KIND

# a minimal chat template (tiny-llama's tokenizer has none): role header, content, [SEP] after assistant turns
CHAT = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
        "{% if m['role'] == 'assistant' %}[SEP]{% endif %}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
ROWS = {
    "prompt_response": [{"prompt": f"Add {i} and {i + 1}.", "response": f" {2 * i + 1}"} for i in range(24)],
    "messages": [{"messages": [{"role": "user", "content": f"Spell {i} backwards."},
                               {"role": "assistant", "content": str(i)[::-1]}]} for i in range(100, 124)],
    "text": [{"text": f"Counting on: {i}, {i + 1}, {i + 2}."} for i in range(24)],
}


def write(path, rows):
    """``rows`` (dicts) as a JSON Lines, Parquet or CSV file, by ``path``'s extension; a CSV cell
    holds a messages list as JSON."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows)
    return path


def data_dir(root, rows, ext=".jsonl"):
    """A directory with train and dev files (the last 4 rows are dev), as `--data-dir` reads them."""
    root.mkdir(exist_ok=True)
    write(root / f"train{ext}", rows[:-4])
    write(root / f"dev{ext}", rows[-4:])
    return root


@pytest.fixture(scope="module")
def chat_tok():
    from rankscope import load_model

    _, tokenizer = load_model("tiny-llama")
    tokenizer.chat_template = CHAT  # this fixture's own tokenizer: nothing else sees the template
    return tokenizer


@pytest.fixture
def with_chat_template(monkeypatch):
    """Runs load tiny-llama with :data:`CHAT` as its tokenizer's chat template."""
    load = CAUSAL_KIND.load_model

    def load_with_template(*args, **kwargs):
        model, tokenizer = load(*args, **kwargs)
        tokenizer.chat_template = CHAT
        return model, tokenizer

    monkeypatch.setattr(CAUSAL_KIND, "load_model", load_with_template)


def cfg(**kw):
    return SearchConfig(**{"model": "tiny-llama", "task": "causal", "space": "lora", "max_steps": 2,
                           "batch_size": 4, **kw}).resolved()


# ---------------------------------------------------------------- every file type, every row format

@pytest.mark.parametrize("ext", [".jsonl", ".parquet", ".csv"])
@pytest.mark.parametrize("fmt", list(ROWS))
def test_each_file_type_and_row_format_trains_through_the_task(tmp_path, with_chat_template, ext, fmt):
    path = write(tmp_path / f"rows{ext}", ROWS[fmt])
    splits = load_dataset_rows(DatasetSource(str(path)))
    assert {row.format for row in splits["train"] + splits["dev"]} == {fmt}
    assert (len(splits["train"]), len(splits["dev"])) == (23, 1)  # no dev split: 5 % (at least one) held out
    result = run_search(cfg(dataset=str(path)), progress=False)
    assert result.completed, result.failure
    assert result.metrics["primary"] == "nll" and result.metrics["final"]["target_tokens"] > 0


@pytest.mark.parametrize("ext", [".jsonl", ".parquet", ".csv"])
@pytest.mark.parametrize("fmt", list(ROWS))
def test_a_dataset_directory_gives_the_rows_and_features_of_data_dir(tmp_path, chat_tok, ext, fmt):
    jsonl = data_dir(tmp_path / "jsonl", ROWS[fmt])
    source = data_dir(tmp_path / "source", ROWS[fmt], ext)
    splits = load_dataset_rows(DatasetSource(str(source)))  # dev.* is the "validation" split
    for split in ("train", "dev"):
        expected = load_causal(jsonl, split)
        assert splits[split] == expected  # CausalRow equality ignores where a row came from
        assert tokenize_causal(splits[split], chat_tok, 24) == tokenize_causal(expected, chat_tok, 24)


def test_a_run_on_dataset_equals_the_run_on_data_dir(tmp_path):
    root = data_dir(tmp_path / "d", ROWS["prompt_response"])
    a = run_search(cfg(data_dir=str(root)), progress=False)
    b = run_search(cfg(dataset=str(root)), progress=False)
    assert a.metrics["final"] == b.metrics["final"]
    assert [h["dev"] for h in a.history] == [h["dev"] for h in b.history]


# ---------------------------------------------------------------- columns and splits

def test_flags_map_other_column_names(tmp_path):
    rows = [{"id": i, "question": f"{i}+1=", "answer": str(i + 1)} for i in range(10)]
    path = write(tmp_path / "qa.csv", rows)
    source = DatasetSource(str(path), columns=(("prompt", "question"), ("response", "answer")))
    row = load_dataset_rows(source)["train"][0]
    assert (row.format, row.prompt, row.response) == ("prompt_response", "0+1=", "1")  # CSV cells stay text
    chat = write(tmp_path / "chat.jsonl", [{"conversation": r["messages"]} for r in ROWS["messages"]])
    rows = load_dataset_rows(DatasetSource(str(chat), columns=(("messages", "conversation"),)))
    assert rows["dev"][0].format == "messages"


def test_csv_cells_are_text_as_written(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("text\n007\nNA\n1.50\n")
    splits = load_dataset_rows(DatasetSource(str(path)))
    assert sorted(r.text for r in splits["train"] + splits["dev"]) == ["007", "1.50", "NA"]  # not 7, None, 1.5


def test_trl_column_names_are_found_without_flags(tmp_path):
    rows = [{"prompt": r["prompt"], "completion": r["response"]} for r in ROWS["prompt_response"]]
    splits = load_dataset_rows(DatasetSource(str(write(tmp_path / "trl.jsonl", rows))))
    assert splits["train"][0].response == " 1"
    # conversational prompt/completion: one conversation, the completion's turns last
    conv = [{"prompt": r["messages"][:1], "completion": r["messages"][1:]} for r in ROWS["messages"]]
    row = load_dataset_rows(DatasetSource(str(write(tmp_path / "conv.jsonl", conv))))["train"][0]
    assert row.format == "messages" and [m["role"] for m in row.messages] == ["user", "assistant"]


def test_the_dev_split_is_named_found_or_held_out_the_same_for_every_seed(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    write(root / "train.jsonl", ROWS["text"][:20])
    write(root / "test.jsonl", ROWS["text"][20:])
    found = load_dataset_rows(DatasetSource(str(root)))
    assert found["dev"] == load_causal(data_dir(tmp_path / "ref", ROWS["text"]), "dev")  # the "test" split
    named = load_dataset_rows(DatasetSource(str(root), split="test", dev_split="train"))
    assert len(named["train"]) == 4 and len(named["dev"]) == 20
    path = write(tmp_path / "all.jsonl", ROWS["text"] * 2)  # 48 rows: 2 held out
    held = load_dataset_rows(DatasetSource(str(path)))
    assert len(held["dev"]) == 2 and len(held["train"]) == 46
    assert held == load_dataset_rows(DatasetSource(str(path)))  # deterministic
    a, b = (run_search(cfg(dataset=str(path), seed=seed), progress=False) for seed in (0, 1))
    assert a.metrics["final"]["target_tokens"] == b.metrics["final"]["target_tokens"]


def test_a_hub_id_is_loaded_by_name_and_remote_code_only_when_asked(monkeypatch):
    """The hub path, offline: ``datasets.load_dataset`` is replaced by an in-memory data set."""
    import datasets

    calls = []

    def fake_load(*args, **kwargs):
        calls.append((args, kwargs))
        rows = datasets.Dataset.from_list(ROWS["text"])
        return datasets.DatasetDict({"train": rows.select(range(20)), "validation": rows.select(range(20, 24))})

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    splits = load_dataset_rows(DatasetSource("someone/corpus", config="en"))
    assert (len(splits["train"]), len(splits["dev"])) == (20, 4)
    assert calls[-1] == (("someone/corpus", "en"), {})  # no trust_remote_code unless asked
    load_dataset_rows(DatasetSource("someone/corpus", trust_remote_code=True))
    assert calls[-1] == (("someone/corpus", None), {"trust_remote_code": True})
    source = DatasetSource.from_config(cfg(dataset="someone/corpus", text_column="body", trust_remote_code=True))
    assert dict(source.columns)["text"] == "body" and source.trust_remote_code


# ---------------------------------------------------------------- bad input

BAD_SOURCES = {
    "missing file": (lambda p: str(p / "nope.jsonl"), {}, ["nope.jsonl: no such file or directory"]),
    "missing relative path": (lambda p: "./no/such/dir", {}, ["./no/such/dir: no such file or directory"]),
    "unreadable type": (lambda p: str(p / "notes.txt"), {}, ["cannot read .txt files"]),
    "hub offline": (lambda p: "no-such-owner/no-such-data", {},
                    ["could not load --dataset from the Hugging Face hub id 'no-such-owner/no-such-data'"]),
    "not JSON": (lambda p: str(p / "bad.jsonl"), {}, ["could not load --dataset from the local json file"]),
    "not Parquet": (lambda p: str(p / "bad.parquet"), {}, ["could not load --dataset from the local parquet file"]),
    "flag names a missing column": (lambda p: str(write(p / "qa.jsonl", [{"q": "a", "answer": "b"}] * 4)),
                                    {"columns": (("prompt", "question"), ("response", "answer"))},
                                    ["has no column 'question' (--prompt-column); its columns: q, answer"]),
    "partner column missing": (lambda p: str(write(p / "qa.jsonl", [{"q": "a", "answer": "b"}] * 4)),
                               {"columns": (("prompt", "q"),)},
                               [("none of the columns response, completion for the response (name it with "
                                 "--response-column); its columns: q, answer")]),
    "no format fits": (lambda p: str(write(p / "qa.jsonl", [{"q": "a", "answer": "b"}] * 4)), {},
                       ["none of the row formats fits its columns (columns: q, answer)", "--prompt-column"]),
    "two formats fit": (lambda p: str(write(p / "x.jsonl", [{"text": "a", "prompt": "b", "response": "c"}] * 4)),
                        {}, ["fit more than one row format (prompt_response, text)"]),
    "flags of two formats": (lambda p: str(write(p / "x.jsonl", [{"text": "a"}] * 4)),
                             {"columns": (("prompt", "text"), ("text", "text"))},
                             ["--prompt-column, --text-column choose different row formats"]),
    "no such split": (lambda p: str(write(p / "x.jsonl", ROWS["text"])), {"split": "training"},
                      ["has no split 'training' (--dataset-split); its splits: train"]),
    "one row, no dev": (lambda p: str(write(p / "x.jsonl", ROWS["text"][:1])), {},
                        ["holds 1 row(s) and no dev split", "at least two rows"]),
    "empty response": (lambda p: str(write(p / "x.jsonl", [{"prompt": "a", "response": ""}] * 4)), {},
                       ["x.jsonl [train] row 0: empty response"]),
    "messages cell not JSON": (lambda p: str(write(p / "x.csv", [{"messages": "[{oops"}] * 4)), {},
                               ["[train] row 0: the messages cell is text but not JSON"]),
}


@pytest.mark.parametrize("case", BAD_SOURCES)
def test_bad_sources_are_input_errors_that_say_what_was_tried(tmp_path, case):
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{nope\n')
    (tmp_path / "bad.parquet").write_text("not parquet\n")
    (tmp_path / "notes.txt").write_text("a note\n")
    make, kw, needles = BAD_SOURCES[case]
    with pytest.raises(InputError) as err:
        load_dataset_rows(DatasetSource(make(tmp_path), **kw))
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)


@pytest.mark.parametrize("settings,message", [
    ({"task": "mrpc", "dataset": "rows.jsonl"}, "--dataset applies to --task causal only"),
    ({"task": "gsm8k", "dataset": "rows.jsonl"}, "--dataset applies to --task causal only"),
    ({"task": "mrpc", "text_column": "body"}, "--text-column applies to --task causal only"),
    ({"dataset": "{d}", "data_dir": "{d}"}, "--dataset and --data-dir are two sources"),
    ({"data_dir": "{d}", "prompt_column": "q"}, "--prompt-column describes a --dataset source"),
    ({"dataset": ""}, "--dataset must be a file, a directory or a hub id, got ''"),
    ({"dataset": "{d}", "text_column": " "}, "--text-column must be a name"),
    ({"dataset": "{d}", "dataset_dev_split": "train"}, "--dataset-dev-split train is also the training split"),
    ({"dataset": "{d}/train.jsonl", "dataset_config": "main"}, "--dataset-config names a configuration"),
    ({"dataset": "{d}/none.parquet"}, "none.parquet: no such file or directory"),
])
def test_settings_are_checked_before_anything_loads(tmp_path, settings, message):
    d = data_dir(tmp_path / "d", ROWS["text"])
    settings = {k: v.replace("{d}", str(d)) if isinstance(v, str) else v for k, v in settings.items()}
    with pytest.raises(InputError, match=re.escape(message)):
        validate(cfg(**settings))
