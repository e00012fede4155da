"""Export to PEFT: the exported adapter, loaded by PEFT on a fresh base model, gives rankscope's
logits (LoRA and SVD forms, mixed ranks, masked and compacted adapters); shortcut allocations are
refused without the flag that drops them."""

import pytest
import torch

import rankscope as rs
from conftest import batch, make_tiny
from rankscope.errors import InputError
from rankscope.export import export_peft

peft = pytest.importorskip("peft")


def _attached(family, form, space_name="lora", seed=0):
    model = make_tiny(family, seed=seed)
    space = rs.build_space(space_name, model, max_rank=8)
    ranks = {e.id: [1, 2, 3, 5, 0, 8][i % 6] for i, e in enumerate(space.edges)}
    handle = rs.attach(model, space, rs.Allocation(space, ranks), form=form, seed=1)
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
    summary, _ = export_peft(model, handle, tmp_path / "peft", drop_shortcuts=True, fresh_model=make_tiny("bert"))
    assert summary["dropped_shortcuts"] and all(not e.startswith("query") for e in summary["dropped_shortcuts"])


TINY_RUN = ["--model", "tiny-bert", "--max-steps", "6", "--quiet", "--allocator", "uniform"]


def test_cli_exports_a_trained_run_that_peft_loads(tmp_path, capsys):
    from conftest import run_cli
    from rankscope.harness.loop import seed_everything

    run = tmp_path / "run"
    assert run_cli(capsys, "search", *TINY_RUN, "--space", "lora", "--out", run)[0] == 0
    code, err = run_cli(capsys, "export", run, "--peft", tmp_path / "peft")
    assert code == 0, err

    def base():
        seed_everything(0)
        return rs.load_model("tiny-bert")[0].eval()
    ours = base()
    rs.load_adapters(ours, run / "adapter")
    theirs = peft.PeftModel.from_pretrained(base(), str(tmp_path / "peft")).eval()
    b = batch(4)
    with torch.no_grad():
        assert torch.allclose(ours(**b).last_hidden_state, theirs(**b).last_hidden_state, atol=1e-5)
    code, err = run_cli(capsys, "export", run, "--peft", tmp_path / "peft")
    assert code == 2 and "already exists" in err


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
    assert rs.Allocation.from_peft(tmp_path / "peft", space) == alloc  # rank-0 modules stay 0
    names = [rs.parse_site(e.src)[0] for e in space.edges]
    cfg = peft.AdaLoraConfig(init_r=4, target_modules=names[:2], total_step=10,
                             rank_pattern={names[0]: [True, False, True, False], names[1]: [False] * 4})
    got = rs.Allocation.from_peft(cfg, space)
    assert got.ranks[space.edges[0].id] == 2 and got.ranks[space.edges[1].id] == 0
    assert sum(got.ranks.values()) == 2
    with pytest.raises(InputError, match="matches no module edge"):
        rs.Allocation.from_peft(peft.LoraConfig(r=2, target_modules=["nowhere"]), space)
    with pytest.raises(InputError, match="larger max_rank"):
        rs.Allocation.from_peft(peft.LoraConfig(r=64, target_modules=names[:1]), space)


def test_mixed_rank_mrpc_run_exports_to_peft_with_identical_logits(tmp_path, capsys):
    """The issue's check: a mixed-rank allocation (salient, SVD form) trained a few steps on MRPC."""
    import json
    import os
    from pathlib import Path

    from conftest import run_cli
    from rankscope.harness.data import padding_collate, tokenize_examples
    from rankscope.harness.loop import seed_everything
    from rankscope.tasks import load_task_data

    glue = Path(os.environ.get("RANKSCOPE_GLUE_DIR", Path(__file__).resolve().parents[2] / "shared/data/glue"))
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
