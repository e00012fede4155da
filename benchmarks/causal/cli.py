"""GSM8K on SmolLM2: PEFT's ``method_comparison/MetaMathQA`` comparison, small, with speed ratios.

Every method trains SmolLM2-135M on GSM8K through the one harness (:mod:`rankscope.harness.loop`):
the same rows, order, steps, schedule, learning rate and seeds, at the same adapter parameter
budget (``--budget``, default r4: uniform rank 4 on every q/k/v/o/gate/up/down projection)::

    uniform LoRA              rankscope uniform on every projection
    MLP-only uniform LoRA     the same parameters on gate/up/down only (PEFT's best placement)
    q/v-only uniform LoRA     the same parameters on q_proj/v_proj only (PEFT's default placement)
    PEFT LoRA                 PEFT itself at uniform's ranks: quality parity and the speed base
    PEFT EVA (rho=2)          LoraConfig(init_lora_weights="eva", EvaConfig(rho=2)), PEFT's
                              data-driven init with rank redistribution, on uniform's rank
    PEFT AdaLoRA              PEFT's AdaLoRA, target_r = uniform's rank, init_r = 1.5x, its
                              update_and_allocate in a step hook (tinit 10 %, tfinal 40 %)
    PEFT post-hoc ranks       PEFT LoRA at 4x uniform's rank, then each module's rank from the
                              energy share of its ΔW's spectrum (PEFT's convert_to_lora with a
                              fractional rank), the share chosen to fit the budget; that rank
                              pattern retrained from scratch (benchmarks.causal.posthoc)
    rankscope adalora, salient, proxy-static (its default proxy, and spectral: the best proxy on
    the planted task), proxy-greedy, proxy-grow, optuna (a few short trials, then the full
    schedule); NAME@shortcuts: proxy-static, proxy-greedy, proxy-grow or salient over the
    shortcut space at uniform LoRA's parameters (--budget-space lora)

Columns: adapter parameters at the end, dev NLL per target token and its difference from tuned
uniform, GSM8K exact match on a seeded test subset (:mod:`rankscope.tasks.causal.exact_match`), step time
as a ratio to PEFT LoRA in the same run, peak RSS of the method's own process.

**Tuning.** Every method is tuned by the GLUE protocol's rule (:mod:`benchmarks.protocol.sweep`):
its own sweep of ``--lr-sweep`` on the first seed, grown by ×2 past an end where its best dev
NLL lies (at most ``extend_sweep`` times), then the other seeds at the chosen lr, which alone are
compared, paired by seed against tuned uniform, with the power at 0.01 nats.

**Cells.** Each (method, seed, lr) is one cell, run in its own process (a clean peak RSS; a
crash loses one cell) and appended to ``--results`` (JSON Lines) as soon as it ends. A rerun
skips the cells already there, so one protocol can be finished over several sessions. The file
records the settings; a rerun with other settings refuses to mix them, except for more seeds or
swept lrs, which only add cells.

**Speed** (``speed`` cell): forward + backward of one batch with rankscope LoRA edges against
PEFT LoRA at the same ranks, greedy generation of the same prompts with both, and the
``shortcuts`` space against ``lora`` at the same budget; medians of interleaved repeats in one
process, printed as ratios (targets: ≤ 1.05× and ≤ 1.10×). It runs when every method does (no
``--methods``).

::

    python -m benchmarks.causal --quick                    # < 30 min on 2 CPU cores
    python -m benchmarks.causal --device cuda --seeds 0,1,2 --steps 300 --exact-match -1
    python -m benchmarks.causal --quick --table-only       # the tables from the results file
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common.cells import CellFile, add_cell_arguments, run_if_child
from benchmarks.protocol.sweep import ready_cells
from rankscope.adapters.lora import DEFAULT_SCALING

from .methods import METHODS
from .table import print_tables

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
MODULE = __package__ or "benchmarks.causal"  # what a cell's child process runs (python -m)

# --quick fits 30 minutes of 2 CPU cores, where one SmolLM2 step of 4 GSM8K rows takes about 10 s:
# a smoke-sized comparison (6 steps), not a measurement of quality; the full protocol needs a GPU
QUICK = {"steps": 6, "batch_size": 4, "max_len": 256, "max_train_samples": 128, "max_dev_samples": 32,
         "exact_match": 8, "max_new_tokens": 128, "lr_sweep": [3e-4, 1e-3], "seeds": [0], "optuna_trials": 2,
         "extend_sweep": 0}
FULL = {"steps": 300, "batch_size": 8, "max_len": 512, "max_train_samples": None, "max_dev_samples": None,
        "exact_match": -1, "max_new_tokens": 256, "lr_sweep": [1e-4, 2e-4, 5e-4, 1e-3, 2e-3], "seeds": [0, 1, 2],
        "optuna_trials": 8, "extend_sweep": 2}
#: the one task, as the protocol's sweep rule names cells
TASK = "gsm8k"


#: settings that only choose which cells run: more seeds or swept lrs keep the finished cells valid
SELECTION = ("lr_sweep", "seeds", "extend_sweep", "tasks")


def run_cell(cell: dict, settings: dict) -> dict:
    """One cell, in this process: the ``speed`` cell (:mod:`.speed`) or a method's training
    (:mod:`.methods`)."""
    if cell["method"] == "speed":
        from .speed import speed_row

        return {**cell, **speed_row(settings)}
    from .methods import run_cell as method_cell

    return method_cell(cell, settings)


def results_path(quick: bool) -> Path:
    """The default results file: ``causal-tuned-{quick,full}.jsonl`` (every method tuned;
    ``causal-quick.jsonl`` holds the earlier flow's smoke test, readable with ``--results``)."""
    return RESULTS / f"causal-tuned-{'quick' if quick else 'full'}.jsonl"


def settings_from(args) -> dict:
    base = dict(QUICK if args.quick else FULL)
    for key in ("steps", "batch_size", "max_len", "max_train_samples", "max_dev_samples", "exact_match",
                "max_new_tokens", "optuna_trials"):
        if getattr(args, key) is not None:
            base[key] = getattr(args, key)
    if args.lr_sweep:
        base["lr_sweep"] = [float(x) for x in args.lr_sweep.split(",")]
    if args.extend_sweep is not None:
        base["extend_sweep"] = args.extend_sweep
    if args.seeds:
        base["seeds"] = [int(x) for x in args.seeds.split(",")]
    base.update(model=args.model, budget=args.budget, device=args.device, tasks=[TASK])
    # always recorded: rows written before the flag hold no key and trained under α/r, so a file of
    # theirs refuses cells of either rule rather than mixing them
    base["scaling"] = args.scaling
    return base


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.causal", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the short protocol (< 30 min on 2 CPU cores)")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--budget", default="r4", help="adapter parameters (rankscope --budget syntax)")
    ap.add_argument("--device", default="cpu")
    for flag in ("steps", "batch-size", "max-len", "max-train-samples", "max-dev-samples", "exact-match",
                 "max-new-tokens", "optuna-trials"):
        ap.add_argument(f"--{flag}", type=int, default=None)
    ap.add_argument("--lr-sweep", help="comma-separated learning rates: every method's sweep on the first seed")
    ap.add_argument("--extend-sweep", type=int, help="×2 steps a sweep may grow past an end where its best lies")
    ap.add_argument("--jobs", type=int, default=1, help="cells side by side (each with OMP_NUM_THREADS threads)")
    ap.add_argument("--scaling", choices=["rslora", "lora"], default=DEFAULT_SCALING,
                    help=f"the LoRA form's scaling rule (default {DEFAULT_SCALING}, alpha/sqrt(r); lora: alpha/r)")
    ap.add_argument("--seeds", help="comma-separated seeds")
    ap.add_argument("--methods", help="comma-separated subset of: " + ", ".join(METHODS))
    ap.add_argument("--results", help="JSON Lines file of finished cells (default: benchmarks/results/causal-"
                                      "tuned-{quick,full}.jsonl)")
    ap.add_argument("--table-only", action="store_true", help="print the tables from --results; run nothing")
    add_cell_arguments(ap, timeout=1800.0)
    return ap


def main(argv: list[str] | None = None):
    args = parser().parse_args(argv)
    if run_if_child(args, run_cell):
        return
    settings = settings_from(args)
    out = Path(args.results) if args.results else results_path(args.quick)
    cells = CellFile(out, settings, timeout=args.cell_timeout, selection=SELECTION, allow_dirty=args.allow_dirty)
    if args.table_only:
        print_tables(cells, settings)
        return
    methods = args.methods.split(",") if args.methods else list(METHODS)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; valid: {', '.join(METHODS)}")
    t_start = time.perf_counter()

    if any("task" not in r for r in cells.rows if r.get("method") != "speed"):
        raise SystemExit(f"{out} holds cells of the earlier flow (the others at tuned uniform's lr); its tables are "
                         f"--table-only; pass another --results file to tune every method")
    cells.run_as_ready(MODULE, lambda: ready_cells(cells, settings, methods), jobs=args.jobs)
    if not args.methods:  # the whole protocol; a chosen subset is a targeted measurement
        cells.run(MODULE, method="speed", seed=0, lr=None)
    print_tables(cells, settings, methods)
    print(f"\n{out}: {len(cells.rows)} cells; this run {time.perf_counter() - t_start:.0f} s", flush=True)
