"""Export to PEFT: the exported adapter, loaded by PEFT on a fresh base model, gives rankscope's
logits (LoRA and SVD forms, mixed ranks, masked and compacted adapters); it is serving-safe, so a
loader that applies one global lora_alpha / r (vLLM, LoRAX) and ignores the patterns gives them
too; shortcut allocations are refused without the flag that drops them."""

import json
import math
import re

import pytest
import torch
from conftest import SHARED_DATA, batch, make_tiny

import rankscope as rs
from rankscope.checkpoints.peft_export import export_peft, shortcut_edges
from rankscope.errors import InputError

peft = pytest.importorskip("peft")


def _attached(family, form, space_name="lora", seed=0, scaling="lora", model=None):
    model = make_tiny(family, seed=seed) if model is None else model
    space = rs.build_space(space_name, model, max_rank=8)
    ranks = {e.id: [1, 2, 3, 5, 0, 8][i % 6] for i, e in enumerate(space.edges)}
    handle = rs.attach(model, space, rs.Allocation(space, ranks), form=form, seed=1, scaling=scaling)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in handle.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        for n, p in model.named_parameters():
            if n.startswith(("classifier", "score")):
                p.copy_(torch.randn(p.shape, generator=g))  # a trained head travels too
    return model, handle


def _logits(model, b):
    with torch.no_grad():
        return model(**b).logits


@pytest.mark.parametrize("family, form", [("bert", "lora"), ("llama", "lora"), ("gpt2", "lora"), ("bert", "svd")])
def test_peft_loads_the_export_with_identical_logits(tmp_path, family, form):
    model, handle = _attached(family, form)
    if form == "svd":  # masked ranks must not travel
        eid = next(i for i, a in handle.adapters.items() if a.rank >= 3)
        handle.set_mask(eid, [1, 0] + [1] * (handle.adapters[eid].rank - 2))
    b = batch(4)
    ours = _logits(model, b)
    summary, _ = export_peft(model, handle, tmp_path / "peft", fresh_model=make_tiny(family, seed=0))
    assert summary["round_trip"] == "ok" and summary["dropped_shortcuts"] == []
    loaded = peft.PeftModel.from_pretrained(make_tiny(family, seed=0), str(tmp_path / "peft")).eval()
    assert torch.allclose(_logits(loaded, b), ours, atol=1e-5)
    cfg = loaded.peft_config["default"]
    assert all(r > 0 for r in cfg.rank_pattern.values())  # rank-0 modules are not targets


def _causal_llama(seed=0):
    """A tiny LlamaForCausalLM, what a server such as vLLM would serve (no modules_to_save)."""
    import transformers as tf
    from conftest import SMALL

    torch.manual_seed(seed)
    return tf.LlamaForCausalLM(tf.LlamaConfig(hidden_size=32, intermediate_size=64, num_key_value_heads=1,
                                              pad_token_id=0, **SMALL)).eval()


# float64, so that the comparisons can be tight (atol 1e-10) and any wrong scale shows; in float32 the
# rounding noise of these large random adapters through the LayerNorms alone reaches ~2e-5
BASES = {"bert": lambda: make_tiny("bert", num_labels=None).double(),
         "gpt2": lambda: make_tiny("gpt2", num_labels=None).double(),
         "llama-causal": lambda: _causal_llama().double()}


def global_scale_loader(base, out_dir):
    """A reference loader that behaves like vLLM / LoRAX: one scale s = lora_alpha / r (lora_alpha / √r
    with use_rslora) from the top-level fields for every module, rank_pattern and alpha_pattern
    ignored, ranks read from the tensor shapes. Merges W ← W + s·B·A into ``base`` and returns it."""
    from safetensors.torch import load_file

    cfg = json.loads((out_dir / "adapter_config.json").read_text())
    assert not cfg.get("modules_to_save")  # vLLM refuses adapters that have one
    s = cfg["lora_alpha"] / (math.sqrt(cfg["r"]) if cfg.get("use_rslora") else cfg["r"])
    tensors = load_file(str(out_dir / "adapter_model.safetensors"))
    modules, merged = dict(base.named_modules()), set()
    for key in tensors:
        assert key.startswith("base_model.model.") and key.endswith((".lora_A.weight", ".lora_B.weight")), key
        if key.endswith(".lora_A.weight"):
            path = key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
            A, B = tensors[key], tensors[f"base_model.model.{path}.lora_B.weight"]
            assert A.shape[0] == B.shape[1] <= cfg["r"]  # vLLM checks r against --max-lora-rank
            mod, delta = modules[path], s * (B.double() @ A.double())
            with torch.no_grad():
                w = mod.weight
                w.copy_(w.double() + (delta.T if type(mod).__name__ == "Conv1D" else delta))
            merged.add(path)
    assert merged == set(cfg["target_modules"])
    return base


@pytest.mark.parametrize("family, form, scaling", [
    ("bert", "lora", "lora"), ("bert", "lora", "rslora"), ("llama-causal", "lora", "lora"),
    ("llama-causal", "lora", "rslora"), ("gpt2", "lora", "rslora"), ("bert", "svd", "rslora")])
def test_a_global_scale_loader_gives_rankscope_outputs(tmp_path, family, form, scaling):
    """The serving-safety check: merge the exported tensors with one global scale, ignoring the
    patterns, and get the outputs of the rankscope-adapted model."""
    model, handle = _attached(family, form, scaling=scaling, model=BASES[family]())
    eid = next(i for i, a in handle.adapters.items() if a.rank >= 3)
    handle.set_mask(eid, [0] + [1] * (handle.adapters[eid].rank - 1))
    handle.compact()  # a compacted module keeps α/r₀ while its r shrinks
    assert len({a.rank for a in handle.adapters.values()}) >= 4  # mixed ranks
    if form == "lora":  # the per-module scales differ: without the fold one global scale is wrong
        assert len({round(float(a.scale), 6) for a in handle.adapters.values()}) >= 4
    b = batch(4)
    with torch.no_grad():
        ours = model(**b)[0]
    summary, _ = export_peft(model, handle, tmp_path / "peft", fresh_model=BASES[family](), scaling=scaling,
                             alpha=16 if form == "lora" else None)
    assert summary["round_trip"] == "ok" and summary["use_rslora"] == (scaling == "rslora")
    assert summary["max_rank"] == 8 and summary["vllm_max_lora_rank"] == 8
    served = global_scale_loader(BASES[family](), tmp_path / "peft").eval()
    with torch.no_grad():
        theirs = served(**b)[0]
    assert theirs.dtype == torch.float64 and torch.allclose(theirs, ours, rtol=0, atol=1e-10), \
        float((theirs - ours).abs().max())
    loaded = peft.PeftModel.from_pretrained(BASES[family](), str(tmp_path / "peft")).eval()
    with torch.no_grad():  # and PEFT, with its patterns, agrees
        assert torch.allclose(loaded(**b)[0], ours, rtol=0, atol=1e-10)


def _peft_rule_scales(cfg: dict) -> dict[str, float]:
    r"""Each target module's scale under PEFT's pattern rules: the first rank_pattern / alpha_pattern
    key with re.match(r"(.*\.)?(KEY)$", name), else the top-level r / lora_alpha."""
    def lookup(pattern: dict, name: str, default):
        return next((v for k, v in pattern.items() if re.match(rf"(.*\.)?({k})$", name)), default)
    out = {}
    for name in cfg["target_modules"]:
        r = lookup(cfg["rank_pattern"], name, cfg["r"])
        alpha = lookup(cfg["alpha_pattern"], name, cfg["lora_alpha"])
        out[name] = alpha / (math.sqrt(r) if cfg["use_rslora"] else r)
    return out


@pytest.mark.parametrize("scaling, alpha, form", [("lora", None, "lora"), ("lora", 16, "lora"),
                                                  ("rslora", None, "lora"), ("rslora", 16, "lora"),
                                                  ("lora", None, "svd")])
def test_every_module_has_the_global_scale_under_peft_rules(tmp_path, scaling, alpha, form):
    from safetensors.torch import load_file

    model, handle = _attached("bert", form, scaling=scaling)
    summary, _ = export_peft(model, handle, tmp_path / "peft", scaling=scaling, alpha=alpha)
    cfg = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    tensors = load_file(str(tmp_path / "peft" / "adapter_model.safetensors"))
    ranks = {k.removeprefix("base_model.model.").removesuffix(".lora_A.weight"): t.shape[0]
             for k, t in tensors.items() if k.endswith(".lora_A.weight")}
    assert len(set(ranks.values())) >= 4 and cfg["r"] == max(ranks.values()) == summary["max_rank"]
    assert cfg["lora_alpha"] == (cfg["r"] if alpha is None else alpha) and isinstance(cfg["lora_alpha"], int)
    assert cfg["use_rslora"] == (scaling == "rslora")
    s = cfg["lora_alpha"] / (math.sqrt(cfg["r"]) if cfg["use_rslora"] else cfg["r"])
    assert s == pytest.approx(summary["scale"], rel=1e-12)
    scales = _peft_rule_scales(cfg)
    assert set(scales) == set(ranks)
    for name, got in scales.items():
        assert got == pytest.approx(s, rel=1e-9), name
    for name, r in ranks.items():  # PEFT's shapes (rank_pattern) are the tensors' shapes
        assert cfg["rank_pattern"][re.escape(name)] == r


def test_compacted_adapters_keep_their_scale(tmp_path):
    model, handle = _attached("bert", "lora")
    eid = next(i for i, a in handle.adapters.items() if a.rank >= 3)
    handle.set_mask(eid, [0] + [1] * (handle.adapters[eid].rank - 1))
    handle.compact()  # the scale stays α/r₀ while r shrinks: α_e must absorb it
    b = batch(4)
    ours = _logits(model, b)
    export_peft(model, handle, tmp_path / "peft", fresh_model=make_tiny("bert"))
    loaded = peft.PeftModel.from_pretrained(make_tiny("bert"), str(tmp_path / "peft")).eval()
    assert torch.allclose(_logits(loaded, b), ours, atol=1e-5)


def test_shortcuts_are_refused_unless_dropped(tmp_path):
    model, handle = _attached("bert", "lora", space_name="shortcuts")
    with pytest.raises(InputError, match="plain PEFT cannot hold them.*--drop-shortcuts"):
        export_peft(model, handle, tmp_path / "peft")
    assert not (tmp_path / "peft").exists()
    b = batch(4)
    masks = {eid: handle.adapters[eid].mask.clone() for eid in shortcut_edges(handle)}
    with torch.no_grad():  # what the export must compute: rankscope's model with its shortcuts off
        for eid in masks:
            handle.adapters[eid].mask.zero_()
        modules_only = _logits(model, b)
        for eid, m in masks.items():
            handle.adapters[eid].mask.copy_(m)
    summary, _ = export_peft(model, handle, tmp_path / "peft", drop_shortcuts=True, fresh_model=make_tiny("bert"))
    assert summary["dropped_shortcuts"] and all(not e.startswith("query") for e in summary["dropped_shortcuts"])
    assert summary["round_trip"] == "ok"  # checked against rankscope's outputs without the shortcuts
    loaded = peft.PeftModel.from_pretrained(make_tiny("bert"), str(tmp_path / "peft")).eval()
    assert torch.allclose(_logits(loaded, b), modules_only, atol=1e-5)


TINY_RUN = ["--model", "tiny-bert", "--max-steps", "6", "--quiet", "--allocator", "uniform"]


def test_cli_exports_a_trained_run_that_peft_loads(tmp_path, capsys):
    from conftest import run_cli, run_cli_out

    from rankscope.harness.loop import seed_everything

    run = tmp_path / "run"
    assert run_cli(capsys, "search", *TINY_RUN, "--space", "lora", "--out", run)[0] == 0
    code, out, err = run_cli_out(capsys, "export", run, "--peft", tmp_path / "peft")
    assert code == 0, err
    largest = max(e["rank"] for e in json.loads((run / "result.json").read_text())["allocation"]["edges"])
    said = re.search(r"serving-safe: one global scale lora_alpha/sqrt\(r\) = [\d.]+ \(per-module scales folded "
                     r"into lora_B\); largest rank (\d+), so serve with vLLM --max-lora-rank (\d+)", out)
    assert said, out  # the tiny run is the planted task, trained with rsLoRA
    assert int(said[1]) == largest and int(said[2]) == min(v for v in (8, 16, 32, 64, 128, 256) if v >= largest)
    cfg = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    assert cfg["use_rslora"] is True and cfg["lora_alpha"] == 16 and cfg["r"] == largest  # the training α

    def base():
        seed_everything(0)
        return rs.load_model("tiny-bert")[0].eval()
    ours = base()
    rs.load_adapters(ours, run / "adapter")
    theirs = peft.PeftModel.from_pretrained(base(), str(tmp_path / "peft")).eval()
    served = global_scale_loader(base(), tmp_path / "peft").eval()
    b = batch(4)
    with torch.no_grad():
        assert torch.allclose(ours(**b).last_hidden_state, theirs(**b).last_hidden_state, atol=1e-5)
        assert torch.allclose(ours(**b).last_hidden_state, served(**b).last_hidden_state, atol=1e-5)
    code, err = run_cli(capsys, "export", run, "--peft", tmp_path / "peft")
    assert code == 2 and "already exists" in err
    code, out, err = run_cli_out(capsys, "export", run, "--peft", tmp_path / "plain", "--global-scaling", "lora")
    assert code == 0 and "one global scale lora_alpha/r = " in out, err  # for loaders that ignore use_rslora
    assert json.loads((tmp_path / "plain" / "adapter_config.json").read_text())["use_rslora"] is False
    with torch.no_grad():
        assert torch.allclose(ours(**b).last_hidden_state, global_scale_loader(base(), tmp_path / "plain")(**b)
                              .last_hidden_state, atol=1e-5)


def test_cli_refuses_shortcuts_without_the_flag(tmp_path, capsys):
    from conftest import run_cli

    run = tmp_path / "run"
    assert run_cli(capsys, "search", *TINY_RUN, "--space", "shortcuts", "--out", run)[0] == 0
    code, err = run_cli(capsys, "export", run, "--peft", tmp_path / "peft")
    assert code == 2 and "plain PEFT cannot hold them" in err and not (tmp_path / "peft").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    code, err = run_cli(capsys, "export", run, "--peft", tmp_path / "peft", "--drop-shortcuts")
    assert code == 0, err


def test_import_round_trips_the_export_and_reads_adalora_masks(tmp_path):
    model, handle = _attached("bert", "lora")
    space, alloc = handle.space, handle.allocation
    export_peft(model, handle, tmp_path / "peft")
    assert rs.allocation_from_peft(tmp_path / "peft", space) == alloc  # rank-0 modules stay 0
    names = [rs.parse_site(e.src)[0] for e in space.edges]
    cfg = peft.AdaLoraConfig(init_r=4, target_modules=names[:2], total_step=10,
                             rank_pattern={names[0]: [True, False, True, False], names[1]: [False] * 4})
    got = rs.allocation_from_peft(cfg, space)
    assert got.ranks[space.edges[0].id] == 2 and got.ranks[space.edges[1].id] == 0
    assert sum(got.ranks.values()) == 2
    with pytest.raises(InputError, match="matches no module edge"):
        rs.allocation_from_peft(peft.LoraConfig(r=2, target_modules=["nowhere"]), space)
    with pytest.raises(InputError, match="larger max_rank"):
        rs.allocation_from_peft(peft.LoraConfig(r=64, target_modules=names[:1]), space)


def test_mixed_rank_mrpc_run_exports_to_peft_with_identical_logits(tmp_path, capsys):
    """The issue's check: a mixed-rank allocation (salient, SVD form) trained a few steps on MRPC."""
    import os
    from pathlib import Path

    from conftest import run_cli

    from rankscope.harness.data import padding_collate, tokenize_examples
    from rankscope.harness.loop import seed_everything
    from rankscope.tasks import load_task_data

    glue = Path(os.environ.get("RANKSCOPE_GLUE_DIR", SHARED_DATA / "glue"))
    if not (glue / "MRPC").is_dir():
        pytest.skip(f"GLUE data not found at {glue} (set RANKSCOPE_GLUE_DIR)")
    run = tmp_path / "run"
    code, err = run_cli(capsys, "search", "--model", "tiny-bert", "--task", "mrpc", "--data-dir", glue,
                        "--space", "lora", "--allocator", "salient", "--budget", "r1", "--max-steps", "10",
                        "--max-train-samples", "96", "--max-len", "32", "--quiet", "-o", "init_rank=4",
                        "-o", "init_steps=1", "-o", "allocation_steps=6", "-o", "T_i=2", "-o", "T_f=4",
                        "--out", run)
    assert code == 0, err
    ranks = {e["rank"] for e in json.loads((run / "result.json").read_text())["allocation"]["edges"]}
    assert len(ranks - {0}) >= 2  # mixed ranks
    code, err = run_cli(capsys, "export", run, "--peft", tmp_path / "peft")
    assert code == 0, err
    cfg = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    s = cfg["lora_alpha"] / (math.sqrt(cfg["r"]) if cfg["use_rslora"] else cfg["r"])
    assert len(set(cfg["rank_pattern"].values())) >= 2 and cfg["r"] == max(ranks)
    assert all(v == pytest.approx(s, rel=1e-9) for v in _peft_rule_scales(cfg).values())  # serving-safe

    def base():
        seed_everything(0)
        return rs.load_model("tiny-bert", num_labels=2)
    ours, tok = base()
    rs.load_adapters(ours, run / "adapter")
    theirs = peft.PeftModel.from_pretrained(base()[0], str(tmp_path / "peft"))
    dev = tokenize_examples(load_task_data("mrpc", "dev", data_dir=glue)[:16], tok, 32, False)
    b = padding_collate(tok)(dev)
    b.pop("labels")
    with torch.no_grad():
        assert torch.allclose(ours.eval()(**b).logits, theirs.eval()(**b).logits, atol=1e-5)
