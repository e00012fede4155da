"""Export for decoders and the merged-weights export.

* ``--peft`` on a causal-LM run writes ``task_type="CAUSAL_LM"`` with nothing in ``modules_to_save``
  (the lm_head was not trained), and PEFT on a fresh ``AutoModelForCausalLM`` gives rankscope's logits.
* ``--merged`` writes a plain transformers model, W ← W + s·B·A, that a fresh process with only
  transformers imported loads (``AutoModelForCausalLM`` / ``AutoModelForSequenceClassification``) and
  whose logits are the adapted model's: LoRA and SVD form, GPT-2's transposed Conv1D, a trained head.
* Shortcut allocations are refused (exit 2, nothing written) unless ``--drop-shortcuts``; a fold that
  computes the wrong weights is caught by the round-trip check.

The runs are trained 2–6 steps, so their adapters are then scaled up (random values, saved back in
the rankscope format) to make every comparison sensitive: a wrong scale or a missing transpose
moves the logits far beyond the tolerance.
"""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import batch, make_tiny, run_cli, run_cli_out

import rankscope as rs
from rankscope.adapters.handle import ATTR
from rankscope.checkpoints.merged_export import export_merged, fold_into_weights
from rankscope.errors import InputError

PROBE = ["Q: what is two plus two? A: four", "the cat sat"]

# run in a fresh interpreter: only transformers (and torch) imported, never rankscope or PEFT
LOADER = r"""
import json, sys
import torch
import transformers
out_dir, kind, dump = sys.argv[1:4]
cls = {"causal": transformers.AutoModelForCausalLM, "seq": transformers.AutoModelForSequenceClassification}[kind]
model = cls.from_pretrained(out_dir).eval()
tok = transformers.AutoTokenizer.from_pretrained(out_dir)
b = tok(json.loads(sys.argv[4]), return_tensors="pt", padding=True)
with torch.no_grad():
    logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("rankscope", "peft"))
json.dump({"logits": logits.tolist(), "input_ids": b["input_ids"].tolist(),
           "attention_mask": b["attention_mask"].tolist(), "loaded": loaded, "class": type(model).__name__},
          open(dump, "w"))
"""


def _base(result):
    from rankscope.harness.loop import seed_everything

    seed_everything(result.get("seed", 0))
    if result["task"] in ("gsm8k", "causal"):
        return rs.load_model(result["model"], causal_lm=True)[0].eval()
    return rs.load_model(result["model"], result.get("num_labels"))[0].eval()


def _result(run):
    return json.loads((run / "result.json").read_text())


def _adapted(run):
    model = _base(_result(run))
    return model, rs.load_adapters(model, run / "adapter")


def _boost(run, scale=0.1):
    """Give the run's adapters (and head) large random values and save them back."""
    model, handle = _adapted(run)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in [*handle.parameters(), *(p for n, p in model.named_parameters() if n.startswith("classifier"))]:
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    rs.save_adapters(handle, run / "adapter")
    handle.detach()


@pytest.fixture(scope="module")
def causal_run(tmp_path_factory):
    """A tiny-llama causal-LM run (``--task causal``, prompt/response rows), adapters boosted."""
    root = tmp_path_factory.mktemp("causal")
    data = root / "data"
    data.mkdir()
    rows = "".join(json.dumps({"prompt": f"Q: {i} plus {i}? A:", "response": f" {2 * i}"}) + "\n" for i in range(12))
    (data / "train.jsonl").write_text(rows)
    (data / "dev.jsonl").write_text(rows)
    _cli("search", "--model", "tiny-llama", "--task", "causal", "--data-dir", data, "--space", "lora",
         "--allocator", "uniform", "--max-steps", "2", "--quiet", "--out", root / "run")
    assert _result(root / "run")["task"] == "causal" and _result(root / "run")["num_labels"] is None
    _boost(root / "run")
    return root / "run"


@pytest.fixture(scope="module")
def svd_classification_run(tmp_path_factory):
    """A tiny-bert classification run (custom CSV, 2 labels) of AdaLoRA: SVD form, mixed ranks, head."""
    root = tmp_path_factory.mktemp("svd")
    data = root / "data"
    data.mkdir()
    rows = "text,label\n" + "".join(f"{w} {i},{i % 2}\n" for i, w in enumerate(["good", "bad", "fine", "poor"] * 4))
    (data / "train.csv").write_text(rows)
    (data / "dev.csv").write_text(rows)
    _cli("search", "--model", "tiny-bert", "--task", "custom", "--data-dir", data, "--space", "lora",
         "--allocator", "adalora", "--max-steps", "6", "--quiet", "--out", root / "run")
    assert _result(root / "run")["num_labels"] == 2
    assert json.loads((root / "run" / "adapter" / "adapter_config.json").read_text())["form"] == "svd"
    _boost(root / "run")
    return root / "run"


@pytest.fixture(scope="module")
def shortcut_run(tmp_path_factory):
    """A tiny-bert planted run on the shortcuts space (module edges and shortcut edges), boosted."""
    root = tmp_path_factory.mktemp("shortcuts")
    _cli("search", "--model", "tiny-bert", "--space", "shortcuts", "--allocator", "uniform", "--max-steps", "2",
         "--quiet", "--out", root / "run")
    _boost(root / "run")
    return root / "run"


def _cli(*args):  # module-scoped fixtures have no capsys
    from rankscope.cli import main

    try:
        main(list(map(str, args)))
    except SystemExit as exc:
        assert exc.code == 0, exc.code


def _load_in_fresh_process(out_dir, kind, tmp_path):
    dump = tmp_path / f"{kind}-logits.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    p = subprocess.run([sys.executable, "-c", LOADER, str(out_dir), kind, str(dump), json.dumps(PROBE)],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    got = json.loads(dump.read_text())
    assert got["loaded"] == [], f"the merged model needed {got['loaded']}"
    b = {k: torch.tensor(got[k]) for k in ("input_ids", "attention_mask")}
    return torch.tensor(got["logits"]), b, got["class"]


def _logits(model, b):
    with torch.no_grad():
        return model.eval()(**b).logits


# ------------------------------------------------------------------------------------------ PEFT
def test_peft_export_of_a_causal_run_is_a_causal_lm_adapter(causal_run, tmp_path, capsys):
    peft = pytest.importorskip("peft")
    code, out, err = run_cli_out(capsys, "export", causal_run, "--peft", tmp_path / "peft")
    assert code == 0, err
    assert "round trip ok" in out and "task_type CAUSAL_LM" in out and "modules_to_save" not in out
    cfg = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert cfg["task_type"] == "CAUSAL_LM" and not cfg["modules_to_save"]
    assert not [t for t in cfg["target_modules"] if "lm_head" in t]  # the lm_head was not trained
    ours, _ = _adapted(causal_run)
    fresh = _base(_result(causal_run))
    assert type(fresh).__name__ == "LlamaForCausalLM"
    theirs = peft.PeftModel.from_pretrained(fresh, str(tmp_path / "peft"))
    assert type(theirs).__name__ == "PeftModelForCausalLM"
    b = batch(4)
    want = _logits(ours, b)
    assert want.shape[-1] == ours.config.vocab_size  # logits over the vocabulary
    assert torch.allclose(_logits(theirs, b), want, atol=1e-5)
    assert not torch.allclose(_logits(_base(_result(causal_run)), b), want, atol=1e-2)  # the adapters matter


# ---------------------------------------------------------------------------------------- merged
def test_merged_causal_run_loads_with_transformers_alone(causal_run, tmp_path, capsys):
    code, out, err = run_cli_out(capsys, "export", causal_run, "--merged", tmp_path / "merged")
    assert code == 0, err
    assert "AutoModelForCausalLM.from_pretrained" in out and "round trip ok" in out
    files = {p.name for p in (tmp_path / "merged").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= files
    assert not files & {"adapter_config.json", "adapter_model.safetensors"}  # not an adapter
    got, b, cls = _load_in_fresh_process(tmp_path / "merged", "causal", tmp_path)
    assert cls == "LlamaForCausalLM"
    ours, _ = _adapted(causal_run)
    want = _logits(ours, b)
    assert torch.allclose(got, want, atol=1e-5), float((got - want).abs().max())
    assert not torch.allclose(_logits(_base(_result(causal_run)), b), want, atol=1e-2)


def test_peft_and_merged_together(causal_run, tmp_path, capsys):
    code, out, err = run_cli_out(capsys, "export", causal_run, "--peft", tmp_path / "p", "--merged", tmp_path / "m")
    assert code == 0, err
    assert (tmp_path / "p" / "adapter_config.json").is_file() and (tmp_path / "m" / "config.json").is_file()
    assert out.count("round trip ok") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "p"]  # no temporary directories left


def test_merged_svd_classification_run_keeps_the_trained_head(svd_classification_run, tmp_path, capsys):
    run = svd_classification_run
    code, out, err = run_cli_out(capsys, "export", run, "--merged", tmp_path / "merged")
    assert code == 0, err
    assert "AutoModelForSequenceClassification.from_pretrained" in out
    got, b, cls = _load_in_fresh_process(tmp_path / "merged", "seq", tmp_path)
    assert cls == "BertForSequenceClassification" and got.shape[-1] == 2
    ours, handle = _adapted(run)
    assert handle.form == "svd" and len({a.rank for a in handle.adapters.values()}) >= 2  # mixed ranks
    want = _logits(ours, b)
    assert torch.allclose(got, want, atol=1e-5), float((got - want).abs().max())
    from safetensors.torch import load_file

    head = load_file(str(run / "adapter" / "adapter.safetensors"))["head/classifier.weight"]
    assert torch.equal(load_file(str(tmp_path / "merged" / "model.safetensors"))["classifier.weight"], head)


def test_shortcuts_are_refused_and_nothing_is_written(shortcut_run, tmp_path, capsys):
    for flags, why in ((["--merged", tmp_path / "out" / "merged"], "not a weight delta on one module"),
                       (["--peft", tmp_path / "out" / "peft", "--merged", tmp_path / "out" / "merged"],
                        "cannot hold them")):
        code, err = run_cli(capsys, "export", shortcut_run, *flags)
        assert code == 2 and why in err and "--drop-shortcuts" in err, err
        assert not (tmp_path / "out").exists()  # not even the parent it would have made
        assert list(tmp_path.iterdir()) == []


def test_drop_shortcuts_merges_only_the_module_edges(shortcut_run, tmp_path, capsys):
    from transformers import AutoModel

    code, out, err = run_cli_out(capsys, "export", shortcut_run, "--merged", tmp_path / "merged", "--drop-shortcuts")
    assert code == 0, err
    assert "dropped shortcut edges: " in out and "round trip ok" in out
    merged = AutoModel.from_pretrained(str(tmp_path / "merged")).eval()
    ours, handle = _adapted(shortcut_run)
    shortcuts = [e for e in handle.adapters if handle.space.edge(e).module is None]
    assert shortcuts and len(shortcuts) < len(handle.adapters)
    b = batch(4)
    with torch.no_grad():
        full = ours(**b).last_hidden_state
        for eid in shortcuts:
            handle.adapters[eid].mask.zero_()
        modules_only = ours(**b).last_hidden_state
        got = merged(**b).last_hidden_state
    assert torch.allclose(got, modules_only, atol=1e-5), float((got - modules_only).abs().max())
    assert not torch.allclose(got, full, atol=1e-3)  # the shortcuts are really gone


def test_a_wrong_fold_is_caught_and_leaves_nothing(causal_run, tmp_path, capsys, monkeypatch):
    """The round-trip check is what stands between a wrong merge and a silently wrong model."""
    import rankscope.checkpoints.merged_export as em

    def half_fold(model, weights):  # a lost factor in the scale
        fold_into_weights(model, {p: {**w, "scale": w["scale"] / 2} for p, w in weights.items()})
    monkeypatch.setattr(em, "fold_into_weights", half_fold)
    code, err = run_cli(capsys, "export", causal_run, "--merged", tmp_path / "merged")
    assert code == 2 and "merged export check: the outputs differ from rankscope's" in err, err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------- the fold itself, family by family
def _attached(model, form):
    space = rs.build_space("lora", model, max_rank=8)
    ranks = {e.id: [1, 2, 3, 5, 0, 8][i % 6] for i, e in enumerate(space.edges)}
    handle = rs.attach(model, space, rs.Allocation(space, ranks), form=form, seed=1)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in handle.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    eid = next(i for i, a in handle.adapters.items() if a.rank >= 3)
    handle.set_mask(eid, [1, 0] + [1] * (handle.adapters[eid].rank - 2))  # masked ranks add nothing
    return handle


def _causal(family):
    import transformers as tf
    from conftest import SMALL

    torch.manual_seed(0)
    if family == "gpt2":
        return tf.GPT2LMHeadModel(tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100)).eval()
    return tf.LlamaForCausalLM(tf.LlamaConfig(hidden_size=32, intermediate_size=64, num_key_value_heads=1,
                                              pad_token_id=0, **SMALL)).eval()


@pytest.mark.parametrize("family, form", [("llama-causal", "lora"), ("gpt2-causal", "lora"), ("gpt2", "lora"),
                                          ("bert", "svd"), ("llama", "lora")])
def test_the_merged_model_computes_the_adapted_models_logits(tmp_path, family, form):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    fresh = (lambda: _causal(family.split("-")[0])) if family.endswith("causal") else (lambda: make_tiny(family))
    model = fresh()
    handle = _attached(model, form)
    b = batch(4)
    want = _logits(model, b)
    summary = export_merged(model, handle, tmp_path / "m")
    assert summary["round_trip"] == "ok" and not hasattr(model, ATTR)  # detached
    cls = AutoModelForCausalLM if family.endswith("causal") else AutoModelForSequenceClassification
    assert summary["auto_class"] == cls.__name__
    got = _logits(cls.from_pretrained(str(tmp_path / "m")), b)
    assert torch.allclose(got, want, atol=1e-5), float((got - want).abs().max())
    assert float((_logits(fresh(), b) - want).abs().max()) > 1e-3  # 100× the tolerance: the adapters matter


def test_a_tied_weight_is_refused(tmp_path):
    model = _causal("gpt2")
    w = {"lm_head": {"A": torch.ones(1, 32), "B": torch.ones(100, 1), "r": 1, "scale": 1.0}}
    with pytest.raises(InputError, match="tied to another module"):
        fold_into_weights(model, w)  # GPT-2 ties lm_head to the token embeddings
