"""Causal-LM task data: row formats, GSM8K, masking, truncation, collation and bad input."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import SHARED_DATA

from rankscope.errors import InputError
from rankscope.tasks.causal import features as causal
from rankscope.tasks.causal import gsm8k
from rankscope.tasks.causal.features import (
    CausalRow,
    causal_collate,
    encode_prompts,
    exact_match,
    gsm8k_answer,
    load_causal,
    load_causal_rows,
    load_gsm8k,
    tokenize_causal,
)

GSM8K_DIR = SHARED_DATA / "gsm8k"
needs_gsm8k = pytest.mark.skipif(not (GSM8K_DIR / "train.jsonl").is_file(),
                                 reason=f"GSM8K not found in {GSM8K_DIR}")
# a minimal chat template of our own: role header, content, and [SEP] closing assistant turns
CHAT = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
        "{% if m['role'] == 'assistant' %}[SEP]{% endif %}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
CONVERSATION = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello there"},
                {"role": "user", "content": "how are you"},
                {"role": "assistant", "content": "fine thanks"}]


@pytest.fixture(scope="module")
def tok():
    """The tokenizer of ``tiny-llama`` (MiniLM's BERT WordPiece: no BOS/EOS, SEP ends responses)."""
    from rankscope import load_model

    _, tokenizer = load_model("tiny-llama")
    assert tokenizer.chat_template is None and tokenizer.eos_token_id is None
    return tokenizer


@pytest.fixture
def chat_tok(tok, monkeypatch):
    monkeypatch.setattr(tok, "chat_template", CHAT, raising=False)
    return tok


def write(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines), encoding="utf-8")
    return path


def targets(feature) -> list[int]:
    return [t for t in feature["labels"] if t != -100]


# ---------------------------------------------------------------- row formats and load_causal

def test_each_format_is_detected_from_the_keys(tmp_path):
    write(tmp_path / "train.jsonl", [{"prompt": "p", "response": "r", "id": 1}, "",
                                     {"prompt": "", "response": "s"}])
    write(tmp_path / "dev.jsonl", [{"messages": CONVERSATION}])
    assert [(r.format, r.prompt, r.response) for r in load_causal(tmp_path, "train")] == [
        ("prompt_response", "p", "r"), ("prompt_response", "", "s")]
    (row,) = load_causal(tmp_path, "dev")
    assert row.format == "messages" and list(row.messages) == CONVERSATION
    write(tmp_path / "dev.jsonl", [{"text": "hello"}])
    assert load_causal(tmp_path, "dev") == [CausalRow("text", text="hello")]
    assert load_causal_rows("causal", "dev", data_dir=tmp_path)[0].text == "hello"


BAD_ROWS = {
    "no format": ([{"prompt": "p"}, {"question": "q", "answer": "a"}],
                  ["train.jsonl:1", "['prompt']", "none of the three", '"response"', '"messages"',
                   '"text"']),
    "two formats": ([{"prompt": "p", "response": "r", "text": "t"}], ["more than one"]),
    "not json": ([{"text": "a"}, "{'text': 'b'}"], ["train.jsonl:2", "not valid JSON Lines"]),
    "not an object": ([["text", "a"]], ["train.jsonl:1", "expected a JSON object", "list"]),
    "mixed": ([{"text": "a"}, {"text": "b"}, {"prompt": "p", "response": "r"}],
              ["train.jsonl:3", "prompt_response", "train.jsonl:1", "text format", "one format"]),
    "empty response": ([{"prompt": "p", "response": "  "}], ["train.jsonl:1", "empty response"]),
    "empty text": ([{"text": ""}], ["empty text"]),
    "response not a string": ([{"prompt": "p", "response": 4}], ["response must be a string"]),
    "no assistant": ([{"messages": [{"role": "user", "content": "hi"}]}],
                     ["no assistant turn", "optional system message first",
                      "ending with an assistant"]),
    "out of order": ([{"messages": [{"role": "user", "content": "a"},
                                    {"role": "user", "content": "b"},
                                    {"role": "assistant", "content": "c"}]}],
                     ["messages[1]", "'user' where 'assistant'", "alternating"]),
    "system late": ([{"messages": CONVERSATION[1:3] + CONVERSATION[:1]}],
                    ["messages[2]", "'system' where 'user'"]),
    "ends with user": ([{"messages": CONVERSATION[:4]}],
                       ["ends with a user message", "alternating"]),
    "empty assistant": ([{"messages": [{"role": "user", "content": "a"},
                                       {"role": "assistant", "content": ""}]}],
                        ["messages[1]", "empty assistant turn"]),
    "bad message": ([{"messages": [{"role": "user"}]}], ["messages[0]", "string content"]),
    "empty messages": ([{"messages": []}], ["non-empty list"]),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_bad_rows_are_input_errors_that_say_what_is_valid(tmp_path, case):
    lines, needles = BAD_ROWS[case]
    write(tmp_path / "train.jsonl", lines)
    with pytest.raises(InputError) as err:
        load_causal(tmp_path, "train")
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))


def test_missing_causal_directory_and_files(tmp_path):
    with pytest.raises(InputError, match="--data-dir"):
        load_causal(None, "train")
    with pytest.raises(InputError, match=r"does not exist.*train.jsonl and dev.jsonl"):
        load_causal(tmp_path / "nope", "train")
    with pytest.raises(InputError, match=r"dev.jsonl, which does not exist"):
        load_causal(tmp_path, "dev")
    write(tmp_path / "train.jsonl", [""])
    with pytest.raises(InputError, match="holds no rows"):
        load_causal(tmp_path, "train")
    with pytest.raises(InputError, match="valid splits: train, dev"):
        load_causal(tmp_path, "test")
    with pytest.raises(InputError, match="valid: causal, gsm8k"):
        load_causal_rows("mrpc", "train")


# ---------------------------------------------------------------- masking

def test_prompt_tokens_are_masked_and_targets_are_response_plus_eos(tok):
    rows = [CausalRow("prompt_response", prompt="Question: where is the cat?\nAnswer:",
                      response=" the cat sat on the mat")]
    (f,), stats = tokenize_causal(rows, tok, max_len=64)
    n = len(tok(rows[0].prompt, add_special_tokens=False)["input_ids"])
    assert f["labels"][:n] == [-100] * n                 # exactly the prompt tokens are ignored
    assert f["labels"][n:] == f["input_ids"][n:]         # and every response token is a target
    assert tok.decode(targets(f)) == "the cat sat on the mat [SEP]"
    assert f["input_ids"][-1] == tok.sep_token_id
    assert f["attention_mask"] == [1] * len(f["input_ids"])
    assert stats == {"rows": 1, "prompt_trimmed": 0, "response_trimmed": 0,
                     "target_tokens": len(f["labels"]) - n}
    assert encode_prompts(rows, tok, 64) == [f["input_ids"][:n]]


def test_text_rows_are_targets_everywhere(tok):
    (f,), _ = tokenize_causal([CausalRow("text", text="once upon a time")], tok, max_len=64)
    assert f["labels"] == f["input_ids"] and tok.decode(f["input_ids"]) == "once upon a time [SEP]"


def test_bos_is_prepended_exactly_when_the_tokenizer_adds_it(tok):
    class BosFirst:  # a tokenizer that starts every encoding with its BOS, as LLaMA's does
        bos_token_id = 1

        def __call__(self, text, **kwargs):
            return {"input_ids": [1]}

    assert causal.bos_prefix(BosFirst()) == [1]
    assert causal.bos_prefix(tok) == []                  # BERT: [CLS] is not a BOS


def test_assistant_turns_are_the_only_targets(chat_tok):
    rows = [CausalRow("messages", messages=tuple(CONVERSATION))]
    (f,), stats = tokenize_causal(rows, chat_tok, max_len=256)
    runs, run = [], []
    for token, label in zip(f["input_ids"], f["labels"]):
        if label != -100:
            assert label == token
            run.append(token)
        elif run:
            runs, run = runs + [run], []
    runs += [run] if run else []
    assert [chat_tok.decode(r) for r in runs] == ["hello there [SEP]", "fine thanks [SEP]"]
    full = chat_tok.apply_chat_template(CONVERSATION, tokenize=False)
    assert chat_tok.decode(f["input_ids"]) == chat_tok.decode(
        chat_tok(full, add_special_tokens=False)["input_ids"])
    assert stats["target_tokens"] == sum(map(len, runs))
    (prompt,) = encode_prompts(rows, chat_tok, 256)     # up to the last turn, generation prompt on
    assert chat_tok.decode(prompt).endswith("how are you < | assistant | >")
    assert f["input_ids"][:len(prompt)] == prompt


def test_messages_need_a_chat_template(tok):
    with pytest.raises(InputError, match=r"chat template.*has none.*prompt"):
        tokenize_causal([CausalRow("messages", messages=tuple(CONVERSATION))], tok, 64)


def test_a_template_that_rewrites_earlier_turns_is_refused(tok, monkeypatch):
    monkeypatch.setattr(tok, "chat_template", CHAT.replace("in messages", "in messages|reverse"),
                        raising=False)
    with pytest.raises(InputError, match="incrementally"):
        tokenize_causal([CausalRow("messages", messages=tuple(CONVERSATION), where="x:1")], tok, 64)


def test_a_template_that_raises_is_an_input_error_naming_the_row(tok, monkeypatch):
    monkeypatch.setattr(tok, "chat_template", "{{ raise_exception('no system role, please') }}",
                        raising=False)
    with pytest.raises(InputError, match=r"x:3: the tokenizer's chat template failed.*no system"):
        tokenize_causal([CausalRow("messages", messages=tuple(CONVERSATION), where="x:3")], tok, 64)


# ---------------------------------------------------------------- truncation and collation

def test_truncation_keeps_the_response_and_trims_the_prompt_from_the_left(tok):
    long_prompt = " ".join(["one two three"] * 10)       # 30 tokens
    rows = [CausalRow("prompt_response", prompt=long_prompt, response=" cat dog"),   # 33 tokens
            CausalRow("prompt_response", prompt="a", response=" b"),                 # fits
            CausalRow("prompt_response", prompt="a b", response=" " + long_prompt),  # too long
            CausalRow("text", text=long_prompt)]                                      # too long
    features, stats = tokenize_causal(rows, tok, max_len=10)
    assert stats == {"rows": 4, "prompt_trimmed": 2, "response_trimmed": 2,
                     "target_tokens": 3 + 2 + 9 + 10}
    assert all(len(f["input_ids"]) <= 10 for f in features)
    first, _, third, text = features
    assert tok.decode(first["input_ids"]) == "three one two three one two three cat dog [SEP]"
    assert tok.decode(targets(first)) == "cat dog [SEP]"
    assert first["labels"][:7] == [-100] * 7
    # response alone too long: the last prompt token, then the response's first 9 tokens, no EOS
    assert tok.decode(third["input_ids"]) == "b one two three one two three one two three"
    assert third["labels"][0] == -100 and tok.sep_token_id not in third["input_ids"]
    assert text["labels"] == text["input_ids"]
    assert tok.decode(text["input_ids"]).startswith("one two")
    with pytest.raises(InputError, match="max_len"):
        tokenize_causal(rows, tok, max_len=1)


def test_collate_pads_right_with_pad_id_zero_mask_and_ignored_labels(tok):
    features, _ = tokenize_causal([CausalRow("text", text="a b c d"), CausalRow("text", text="a")],
                                  tok, max_len=16)
    batch = causal_collate(tok)(features)
    n = len(features[0]["input_ids"])
    assert batch["input_ids"].shape == (2, n) and str(batch["input_ids"].dtype) == "torch.int64"
    assert batch["input_ids"][1, 2:].tolist() == [tok.pad_token_id] * (n - 2)
    assert batch["attention_mask"][1].tolist() == [1, 1] + [0] * (n - 2)
    assert batch["labels"][1].tolist() == features[1]["labels"] + [-100] * (n - 2)
    no_pad = SimpleNamespace(pad_token_id=None, eos_token_id=7)
    features = [{"input_ids": [1], "attention_mask": [1], "labels": [1]},
                {"input_ids": [1, 2], "attention_mask": [1, 1], "labels": [-100, 2]}]
    assert causal_collate(no_pad)(features)["input_ids"].tolist() == [[1, 7], [1, 2]]
    with pytest.raises(InputError, match="no EOS"):
        causal_collate(SimpleNamespace(pad_token_id=None, eos_token_id=None, sep_token_id=None))


# ---------------------------------------------------------------- GSM8K

@pytest.mark.parametrize("pred, gold, same", [
    ("The answer is 1,234.", "#### 1234", True),
    ("so she pays $5.00 in total", "Natalia ... #### 5", True),
    ("#### 18\n\nQuestion: what is 3+4?\nAnswer: 7", "#### 18", True),   # first answer counts
    ("16 - 3 - 4 = 9, times 2 is 18", "#### 18", True),
    ("It is -3 degrees", "#### -3", True),
    ("The answer is 12.5", "#### 12.50", True),
    ("I think 17", "#### 18", False),
    ("no idea", "#### 18", False),
    ("#### 1,000,000", "#### 1000000", True),
])
def test_exact_match(pred, gold, same):
    assert exact_match(pred, gold) is same


def test_gsm8k_answer_normalisation():
    assert [gsm8k_answer(t) for t in ("#### 1,234", "x 5.0", "007 apples", "#### -0", "16-3",
                                      "50%", "none", "9 apples, then #### none")] == [
        "1234", "5", "7", "0", "3", "50", None, "9"]


@needs_gsm8k
def test_gsm8k_splits_from_the_shared_files(monkeypatch):
    monkeypatch.delenv(gsm8k.GSM8K_DIR_ENV, raising=False)
    assert gsm8k.default_gsm8k_dir() == GSM8K_DIR.resolve()
    train, dev, test = (load_gsm8k(s) for s in ("train", "dev", "test"))   # found by default
    assert (len(train), len(dev), len(test)) == (7473 - 374, 374, 1319)
    where = lambda rows: [r.where for r in rows]
    assert not set(where(train)) & set(where(dev))
    assert len(set(where(train)) | set(where(dev))) == 7473
    assert where(load_gsm8k("dev", GSM8K_DIR, seed=0)) == where(dev)       # deterministic
    assert where(load_gsm8k("dev", seed=1)) != where(dev)
    assert len(load_gsm8k("dev", dev_size=100)) == 100
    row = test[0]
    assert row.prompt.startswith("Question: Janet") and row.prompt.endswith("market?\nAnswer:")
    assert row.response.startswith(" Janet sells") and row.response.endswith("\n#### 18")
    assert "<<" in row.response
    assert "<<" not in load_gsm8k("test", keep_calculator=False)[0].response
    for r in test:                                         # every gold answer parses
        tail = r.response.rsplit("####", 1)[1].strip().replace(",", "")
        assert gsm8k_answer(r.response) == tail and exact_match(r.response, r.response)
    monkeypatch.setenv(gsm8k.GSM8K_DIR_ENV, str(GSM8K_DIR))
    assert where(load_gsm8k("test")) == where(test)
    features, stats = tokenize_causal(test[:200], tok_for_gsm8k(), max_len=128)
    assert stats["rows"] == 200 and all(targets(f) for f in features)


def tok_for_gsm8k():
    from transformers import AutoTokenizer

    from rankscope.models.loading import minilm_path

    return AutoTokenizer.from_pretrained(minilm_path())


def test_a_missing_gsm8k_directory_names_the_flag_the_variable_and_the_path(tmp_path, monkeypatch):
    monkeypatch.delenv(gsm8k.GSM8K_DIR_ENV, raising=False)
    for kwargs, env in (({"data_dir": tmp_path / "nope"}, None), ({}, tmp_path / "nope")):
        if env:
            monkeypatch.setenv(gsm8k.GSM8K_DIR_ENV, str(env))
        with pytest.raises(InputError) as err:
            load_gsm8k("train", **kwargs)
        assert all(s in str(err.value) for s in ("--data-dir", "$RANKSCOPE_GSM8K_DIR",
                                                 str(tmp_path / "nope")))
    monkeypatch.delenv(gsm8k.GSM8K_DIR_ENV)
    write(tmp_path / "only" / "train.jsonl", [{"question": "q", "answer": "a\n#### 1"}])
    with pytest.raises(InputError, match=r"only/test.jsonl"):
        load_gsm8k("test", tmp_path / "only")
    with pytest.raises(InputError, match=r"valid splits: train, dev, test"):
        load_gsm8k("validation", tmp_path / "only")


def test_gsm8k_falls_back_to_the_hub_and_explains_its_failure(tmp_path, monkeypatch):
    import datasets

    monkeypatch.delenv(gsm8k.GSM8K_DIR_ENV, raising=False)
    monkeypatch.setattr(gsm8k, "default_gsm8k_dir", lambda: tmp_path / "absent")
    rows = {"question": [f"q{i}?" for i in range(20)],
            "answer": [f"so\n#### {i}" for i in range(20)]}
    monkeypatch.setattr(datasets, "load_dataset",
                        lambda *a, split: datasets.Dataset.from_dict(rows))
    dev = load_gsm8k("dev", dev_size=5)
    assert len(dev) == 5 and len(load_gsm8k("train", dev_size=5)) == 15
    assert dev[0].prompt.startswith("Question: q")
    assert dev[0].where.startswith("openai/gsm8k (main) train row ")

    def offline(*args, split):
        raise ConnectionError("Couldn't reach 'openai/gsm8k' on the Hub (OfflineModeIsEnabled)")
    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(InputError) as err:
        load_gsm8k("test")
    assert all(s in str(err.value) for s in ("--data-dir", "$RANKSCOPE_GSM8K_DIR",
                                             str(tmp_path / "absent"), "OfflineModeIsEnabled"))


def test_gsm8k_rows_and_hold_out_sizes_are_checked(tmp_path):
    write(tmp_path / "train.jsonl", [{"question": "q", "answer": "no marker"}])
    with pytest.raises(InputError, match=r"train.jsonl:1.*'#### <number>'"):
        load_gsm8k("train", tmp_path)
    write(tmp_path / "train.jsonl", [{"question": "q"}])
    with pytest.raises(InputError, match=r"question and answer.*\['question'\]"):
        load_gsm8k("train", tmp_path)
    write(tmp_path / "train.jsonl", [{"question": "q", "answer": f"#### {i}"} for i in range(4)])
    for bad in (0, 4, 1.5, "2", True):
        with pytest.raises(InputError, match="dev_size"):
            load_gsm8k("dev", tmp_path, dev_size=bad)
    assert [r.response for r in load_gsm8k("dev", tmp_path, dev_size=0.5)] == \
        [r.response for r in load_gsm8k("dev", tmp_path, dev_size=2)]
