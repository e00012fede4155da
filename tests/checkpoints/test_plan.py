"""``rankscope plan`` and ``export --peft-config``: a PEFT config from any allocation, built by PEFT
with exactly the planned ranks and scales, and trained by TRL's SFTTrainer."""

import json
import math

import pytest
import torch
from conftest import run_cli, run_cli_out

peft = pytest.importorskip("peft")

TINY_CAUSAL = ("--model", "tiny-llama", "--task", "causal", "--space", "lora", "--budget", "r2", "--max-steps", "3",
               "--batch-size", "4", "--quiet")


@pytest.fixture(scope="module")
def causal_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("causal")
    rows = [{"prompt": f"Add {i} and {i + 1}.", "response": f" {2 * i + 1}"} for i in range(40)]
    for split, part in (("train", rows[:32]), ("dev", rows[32:])):
        (d / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in part) + "\n")
    return d


@pytest.fixture(scope="module")
def plan_dir(causal_dir, tmp_path_factory):
    from rankscope.cli import main

    out = tmp_path_factory.mktemp("plans") / "plan"
    main(["plan", *TINY_CAUSAL, "--data-dir", str(causal_dir), "--allocator", "proxy-static", "--out", str(out)])
    return out


def module_ranks(plan) -> dict:
    """``{module path: rank}`` of the module edges with rank > 0 in a plan's plan.json."""
    record = json.loads((plan / "plan.json").read_text())
    return {e["src"].rpartition(":")[0]: e["rank"] for e in record["allocation"]["edges"]
            if e["rank"] > 0 and e["kind"] == "lora"}


def peft_ranks(model) -> dict:
    return {n.removeprefix("base_model.model."): (m.r["default"], m.scaling["default"])
            for n, m in model.named_modules() if hasattr(m, "lora_A") and "default" in getattr(m, "r", {})}


def test_plan_writes_a_config_peft_builds_exactly(plan_dir):
    import rankscope as rs

    assert sorted(p.name for p in plan_dir.iterdir()) == ["adapter_config.json", "allocation.json", "config.toml",
                                                          "plan.json", "plan.md"]
    config = peft.LoraConfig.from_pretrained(str(plan_dir))
    assert config.use_rslora and config.task_type == "CAUSAL_LM" and config.lora_alpha == 16
    want = module_ranks(plan_dir)
    assert len(set(want.values())) > 1, "proxy-static should plan mixed ranks on this task"
    torch.manual_seed(0)
    model, _ = rs.load_model("tiny-llama", causal_lm=True)
    built = peft_ranks(peft.get_peft_model(model, config))
    assert {p: r for p, (r, _) in built.items()} == want
    for r, scale in built.values():  # rank-stable: each module at α/√r_m
        assert scale == pytest.approx(16 / math.sqrt(r))
    record = json.loads((plan_dir / "plan.json").read_text())
    assert record["peft"]["written"] and record["allocation"]["params"] <= record["budget"]["params"]
    assert record["peft"]["params"] == record["allocation"]["params"]  # PEFT's parameter count is the plan's
    assert record["timing"]["allocate_s"] > 0 and "Cost of planning" in (plan_dir / "plan.md").read_text()


def test_the_plan_reproduces_from_its_config(plan_dir, tmp_path, capsys):
    code, out, err = run_cli_out(capsys, "plan", "--config", plan_dir / "config.toml", "--out", tmp_path / "again",
                                 "--json")
    assert code == 0, err
    assert json.loads(out)["allocation"] == json.loads((plan_dir / "plan.json").read_text())["allocation"]


def test_trl_sft_trains_the_plan(plan_dir, causal_dir):
    """TRL's SFTTrainer builds the PEFT model from the plan, with the planned ranks, and 3 steps train it."""
    trl = pytest.importorskip("trl")
    from datasets import Dataset

    import rankscope as rs

    torch.manual_seed(0)
    model, tok = rs.load_model("tiny-llama", causal_lm=True)
    rows = [json.loads(line) for line in (causal_dir / "train.jsonl").read_text().splitlines()]
    train = Dataset.from_list([{"prompt": r["prompt"], "completion": r["response"]} for r in rows])
    args = trl.SFTConfig(output_dir=str(plan_dir.parent / "sft"), max_steps=3, per_device_train_batch_size=4,
                         learning_rate=2e-2, save_strategy="no", report_to=[], use_cpu=True, seed=0,
                         eos_token=tok.eos_token or tok.sep_token, logging_steps=1)
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tok,
                             peft_config=peft.LoraConfig.from_pretrained(str(plan_dir)))
    assert {p: r for p, (r, _) in peft_ranks(trainer.model).items()} == module_ranks(plan_dir)
    result = trainer.train()
    assert result.global_step == 3 and math.isfinite(result.training_loss)
    moved = [p for n, p in trainer.model.named_parameters() if "lora_B" in n]
    assert moved and all(float(p.detach().abs().max()) > 0 for p in moved)  # B starts at zero: every module trained


def test_plan_refuses_an_in_training_allocator_and_writes_nothing(causal_dir, tmp_path, capsys):
    code, err = run_cli(capsys, "plan", *TINY_CAUSAL, "--data-dir", causal_dir, "--allocator", "salient",
                        "--out", tmp_path / "p")
    assert code == 2 and "allocates during training" in err and "--peft-config" in err and "proxy-static" in err
    assert list(tmp_path.iterdir()) == []


def test_plan_with_shortcut_ranks_keeps_the_allocation_and_says_why_there_is_no_peft_config(tmp_path, capsys):
    code, out, err = run_cli_out(capsys, "plan", "--model", "tiny-llama", "--task", "planted", "--space", "shortcuts",
                                 "--allocator", "proxy-static", "--budget", "r2", "--max-steps", "4", "--quiet",
                                 "--out", tmp_path / "p")
    assert code == 0, err
    assert "no adapter_config.json" in out and "shortcut" in out
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["allocation.json", "config.toml", "plan.json",
                                                                  "plan.md"]


def test_export_peft_config_writes_an_in_training_runs_final_ranks(causal_dir, tmp_path, capsys):
    import rankscope as rs

    run = tmp_path / "run"
    code, err = run_cli(capsys, "search", *TINY_CAUSAL, "--data-dir", causal_dir, "--allocator", "adalora",
                        "--max-steps", "8", "--out", run)
    assert code == 0, err
    code, err = run_cli(capsys, "export", run, "--peft-config", tmp_path / "cfg")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "cfg").iterdir()) == ["adapter_config.json"]
    result = json.loads((run / "result.json").read_text())
    want = {e["src"].rpartition(":")[0]: e["rank"] for e in result["allocation"]["edges"] if e["rank"] > 0}
    torch.manual_seed(0)
    model, _ = rs.load_model("tiny-llama", causal_lm=True)
    config = peft.LoraConfig.from_pretrained(str(tmp_path / "cfg"))
    assert {p: r for p, (r, _) in peft_ranks(peft.get_peft_model(model, config)).items()} == want


@pytest.mark.slow  # runs examples/trl_sft.py in a new process
def test_trl_example_trains_a_plan(causal_dir, tmp_path, capsys):
    import subprocess
    import sys
    from pathlib import Path

    from rankscope.tasks.causal.gsm8k import default_gsm8k_dir

    data = default_gsm8k_dir()
    if not Path(data, "train.jsonl").is_file():
        pytest.skip(f"GSM8K not found at {data} (set RANKSCOPE_GSM8K_DIR)")
    code, err = run_cli(capsys, "plan", "--model", "tiny-llama", "--task", "gsm8k", "--space", "lora", "--budget", "r2",
                        "--allocator", "proxy-static", "--max-dev-samples", "8", "--exact-match", "0", "--quiet",
                        "--data-dir", data, "--out", tmp_path / "plan")
    assert code == 0, err
    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, str(root / "examples" / "trl_sft.py"), "--plan", str(tmp_path / "plan"),
                        "--model", "tiny-llama", "--max-steps", "3", "--max-train-samples", "24", "--max-len", "64",
                        "--data-dir", str(data), "--out", str(tmp_path / "sft")],
                       check=False, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "PEFT built the plan" in p.stdout and "trained 3 steps" in p.stdout
    assert sorted(f.name for f in (tmp_path / "sft").iterdir()) == ["README.md", "adapter_config.json",
                                                                    "adapter_model.safetensors"]
