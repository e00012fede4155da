"""``python -m benchmarks.memory``: the variants as cells, the child's measurement, the table.
See :mod:`benchmarks.memory` for what is measured and how."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common.cells import REPO, CellFile, add_cell_arguments, run_if_child

from .table import VARIANTS, render

RESULTS = REPO / "benchmarks" / "results" / "memory.jsonl"
LR = 1e-3


def rss_mb() -> float | None:
    """The resident set of this process now (Linux ``/proc``), in MiB; ``None`` elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def measure(cell: dict, settings: dict) -> dict:
    """One variant, in a fresh child process: load, attach, train, read the peak."""
    import resource
    import time

    import torch

    from rankscope.adapters.attach import attach
    from rankscope.allocation.budget import Budget
    from rankscope.allocators.uniform import uniform_allocation
    from rankscope.harness.data import PreparedTask
    from rankscope.harness.hooks import StepHook
    from rankscope.harness.loop import Harness
    from rankscope.harness.objectives import CausalLM
    from rankscope.models.loading import load_model
    from rankscope.models.memory import prepare_base
    from rankscope.registry import SPACES
    from rankscope.search.config import SearchConfig

    rss_imports = rss_mb()
    torch.manual_seed(0)  # tiny-* models are random: the same one in every child
    t0 = time.perf_counter()
    model, _ = load_model(settings["model"], causal_lm=True, dtype=cell["dtype"])
    prepare_base(model, cell["dtype"], cell["gradient_checkpointing"])
    load_s, rss_loaded = time.perf_counter() - t0, rss_mb()
    space = SPACES.get(settings["space"])(model, max_rank=64)
    handle = attach(model, space, uniform_allocation(space, Budget.parse(settings["budget"], space), "lora"), seed=0)
    # one fixed batch of random tokens, every token a target (the harness draws it each step)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (settings["batch_size"], settings["seq_len"]), generator=gen)
    rows = [{"input_ids": x, "attention_mask": torch.ones_like(x), "labels": x} for x in ids]
    task = PreparedTask("random tokens", rows, [], lambda b: {k: torch.stack([r[k] for r in b]) for k in b[0]},
                        CausalLM())
    cfg = SearchConfig(max_steps=settings["steps"], batch_size=settings["batch_size"], lr=LR,
                       device=settings["device"], dtype=cell["dtype"],
                       gradient_checkpointing=cell["gradient_checkpointing"])

    class Losses(StepHook):
        def __init__(self):
            self.values = []

        def on_step_end(self, step, state):
            self.values.append(state.loss)

    losses = Losses()
    outcome = Harness(task, cfg).train(model, handle, losses, evaluate=False, progress=False)
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    trained = max(float(a.B.abs().max()) for a in handle.adapters.values())  # B starts at 0
    base = next(p for p in model.parameters() if p.ndim == 2 and not p.requires_grad)
    return {**cell, "peak_rss_mb": kb / 1024, "rss_imports_mb": rss_imports, "rss_loaded_mb": rss_loaded,
            "load_s": load_s, "step_s": outcome.train_s / settings["steps"], "losses": losses.values,
            "max_abs_B": trained, "base_dtype": str(base.dtype).removeprefix("torch."),
            "adapter_dtype": str(next(iter(handle.parameters())).dtype).removeprefix("torch."),
            "adapter_params": handle.trainable_parameters(), "base_params": sum(p.numel() for p in model.parameters()
                                                                                if not p.requires_grad)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2", help="a decoder alias or path (default smollm2; tiny-llama: a "
                                                       "quick check)")
    ap.add_argument("--steps", type=int, default=2, help="optimizer steps per variant (default 2)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--budget", default="r8", help="uniform LoRA's budget over the lora space (default r8)")
    ap.add_argument("--results", type=Path, help="results file (default: benchmarks/results/memory.jsonl for "
                                                 "smollm2, a temporary file for any other model)")
    ap.add_argument("--table-only", action="store_true", help="print the table of the results file, run nothing")
    add_cell_arguments(ap, timeout=3600.0)
    args = ap.parse_args(argv)
    if run_if_child(args, measure):
        return
    settings = {"model": args.model, "steps": args.steps, "batch_size": args.batch_size, "seq_len": args.seq_len,
                "space": "lora", "budget": args.budget, "device": "cpu"}
    path = args.results or (RESULTS if args.model == "smollm2" else
                            Path(tempfile.mkdtemp(prefix="rankscope-memory-")) / "memory.jsonl")
    cells = CellFile(path, settings, timeout=args.cell_timeout, allow_dirty=args.allow_dirty)
    if not args.table_only:
        for variant in VARIANTS:
            cells.run("benchmarks.memory", **variant)
    print(render(cells.rows))
    print(f"\nrows: {path}")
