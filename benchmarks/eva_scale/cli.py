"""Diagnosis of PEFT EVA's protocol rows: how much larger is ``A·x`` under EVA than under PEFT's
default LoRA initialisation, and does EVA train once that scale is removed?

LoRA's update is ΔW·x = (α/r)·B·(A·x), with B = 0 at the start under both initialisations.
PEFT's default draws A's entries from kaiming-uniform(a=√5), U(−1/√d_in, 1/√d_in): random
directions with row norm ≈ 1/√3. EVA sets A's rows to the top right-singular vectors of the
layer's input activations (unit norm), so |a·x| ≈ the largest singular values of x, which the
outlier dimensions of BERT-style activations make large. Adam moves every entry of B by about
lr per step whatever the gradient's scale, so the change of the adapter's output per step is
∝ |A·x|: a larger |A·x| acts as a higher learning rate for the adapters only, while the
classifier head (``modules_to_save``) trains at the shared lr.

Two measurements, on the protocol's settings (:mod:`benchmarks.protocol.sweep`'s FULL + COMMON;
``--seed``, default 0):

* the ratio, per module type, of the per-rank RMS of A·x over the tokens of the first training
  batch, EVA over a kaiming-uniform A of the same shape::

      python -m benchmarks.eva_scale --task cola

* one training run with EVA's directions kept and each module's A divided by that ratio (so
  |A·x| matches the default initialisation's), through the protocol's harness; prints one JSON
  line with the final dev metric::

      python -m benchmarks.eva_scale --task cola --train --lr 1e-3

A diagnosis only: the protocol's EVA rows are PEFT's EVA as it ships, and stay as measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def scale_ratios(pm, batch: dict) -> dict:
    """{module name: RMS(A_eva·x) / RMS(A_kaiming·x)} per rank, over the batch's tokens."""
    import peft
    import torch

    ratios, hooks = {}, []

    def hook(name):
        def record(module, inputs, _output):
            x = inputs[0].reshape(-1, inputs[0].shape[-1]).float()  # (tokens, d_in)
            a_eva = module.lora_A["default"].weight.detach()  # (r_eva, d_in)
            gen = torch.Generator().manual_seed(0)
            bound = 1.0 / math.sqrt(x.shape[1])  # kaiming_uniform_(a=√5) on (r, d_in)
            a_default = (torch.rand(a_eva.shape, generator=gen) * 2 - 1) * bound
            rms = lambda a: (x @ a.T).pow(2).mean().sqrt()
            ratios[name] = (rms(a_eva) / rms(a_default)).item()
        return record

    for name, module in pm.named_modules():
        if isinstance(module, peft.tuners.lora.Linear):
            hooks.append(module.register_forward_hook(hook(name)))
    pm.eval()
    with torch.no_grad():
        pm(**batch)
    for h in hooks:
        h.remove()
    return ratios


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.eva_scale", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="cola", choices=["mrpc", "rte", "cola"])
    ap.add_argument("--train", action="store_true", help="train EVA with A rescaled to the default |A·x|")
    ap.add_argument("--lr", type=float, default=1e-3, help="peak lr of the --train run (default 1e-3)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    os.environ.setdefault("RANKSCOPE_GLUE_DIR", str(REPO.parent / "shared" / "data" / "glue"))

    import torch

    from benchmarks.protocol.methods import config, eva_model
    from benchmarks.protocol.sweep import COMMON, FULL
    from rankscope.harness.data import batches
    from rankscope.harness.loop import Harness
    from rankscope.search.session import Session

    settings = {**FULL, **COMMON, "device": "cpu"}
    session = Session(config(settings, args.task, "peft-eva", args.seed, args.lr), progress=False)
    pm = eva_model(session)
    task, cfg = session.task, session.cfg
    first = next(iter(batches(task.train[:cfg.batch_size], cfg.batch_size, task.collate, shuffle=False)))
    ratios = scale_ratios(pm, {k: v for k, v in first.items() if k != "labels"})
    edge_type = {e.module: e.type for e in session.space.edges}  # the types the protocol rows use
    by_type = {}
    for name, ratio in ratios.items():
        by_type.setdefault(edge_type[name.removeprefix("base_model.model.")], []).append(ratio)
    for kind, values in sorted(by_type.items()):
        print(f"{args.task} {kind:10s} {len(values)} modules  |A_eva·x| / |A_default·x|: mean {sum(values) / len(values):.1f}"
              f"  range {min(values):.1f}–{max(values):.1f}")
    if not args.train:
        return
    modules = dict(pm.named_modules())
    with torch.no_grad():
        for name, ratio in ratios.items():
            modules[name].lora_A["default"].weight.div_(ratio)
    outcome = Harness(task, cfg).train(pm, None, None, progress=True)
    print(json.dumps({"task": args.task, "seed": args.seed, "lr": args.lr, "init": "eva, A / ratio",
                      "primary": session.objective.primary, "final": outcome.final, "best": outcome.best,
                      "train_s": round(outcome.train_s, 1)}))
