"""How far each rank's weights move, read from the PEFT export: uniform LoRA at rank 1 and at
rank 16, the same steps at the same lr, on a classification task (tiny BERT, custom data).

Under α/r (PEFT's rule) a rank-r module's update shrinks like 1/√r under Adam, so rank 16 moves
its weights much less than rank 1; under rsLoRA's α/√r both move by similar amounts
(docs/architecture.md, "Rank-stable scaling")."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from rankscope.cli import main


def _cli(*args):
    try:
        main(list(map(str, args)))
    except SystemExit as exc:
        assert exc.code == 0, exc.code


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("rank-data")
    rows = "text,label\n" + "".join(f"{w} {i},{i % 2}\n" for i, w in enumerate(["good", "bad", "fine", "poor"] * 16))
    (root / "train.csv").write_text(rows)
    (root / "dev.csv").write_text(rows)
    return root


def mean_delta_w(data, tmp_path, rank: int, scaling: str | None) -> float:
    """Mean ‖ΔW‖_F over the modules of the exported PEFT adapter, ΔW = s · B · A with each
    module's s from the adapter config as PEFT computes it: α_m/r_m (α_m/√r_m with
    ``use_rslora``), α_m and r_m from ``alpha_pattern`` and ``rank_pattern`` where they name it.
    ``scaling`` None: the task's default rule."""
    rule = ["--scaling", scaling] if scaling else []
    run, peft = tmp_path / f"r{rank}-{scaling}", tmp_path / f"peft-r{rank}-{scaling}"
    _cli("search", "--model", "tiny-bert", "--task", "custom", "--data-dir", data, "--space", "lora",
         "--allocator", "uniform", "--budget", f"r{rank}", "--max-steps", 30, "--lr", 1e-3, *rule,
         "--quiet", "--out", run)
    _cli("export", run, "--peft", peft)
    config = json.loads((peft / "adapter_config.json").read_text())
    assert config["use_rslora"] == ((scaling or "rslora") == "rslora")
    weights = load_file(peft / "adapter_model.safetensors")

    def of(pattern: dict, key: str, default):  # a pattern is a module path with its dots escaped
        return next((v for p, v in pattern.items() if "." + p.replace("\\.", ".") + ".lora_" in key), default)

    norms = []
    for b in (k for k in weights if "lora_B" in k):
        r_m, alpha_m = of(config.get("rank_pattern") or {}, b, config["r"]), of(config.get("alpha_pattern") or {}, b,
                                                                                config["lora_alpha"])
        assert r_m == rank  # uniform: every module at the run's rank
        scale = alpha_m / (math.sqrt(r_m) if config["use_rslora"] else r_m)
        delta = scale * weights[b].float() @ weights[b.replace("lora_B", "lora_A")].float()
        norms.append(float(torch.linalg.matrix_norm(delta)))
    assert norms
    return sum(norms) / len(norms)


@pytest.mark.parametrize("scaling,within_2x", [(None, True), ("rslora", True), ("lora", False)])
def test_rank_16_and_rank_1_move_their_weights_alike_only_under_rslora(data, tmp_path, scaling, within_2x):
    """None: the classification task's default rule, which must be the rank-stable one."""
    ratio = mean_delta_w(data, tmp_path, 16, scaling) / mean_delta_w(data, tmp_path, 1, scaling)
    assert (0.5 <= ratio <= 2.0) is within_2x, f"{scaling or 'default'}: rank 16 moved {ratio:.2f}× as far as rank 1"
