"""The fair protocol: does an allocator beat a *tuned* uniform LoRA on real tasks?

MiniLM on MRPC, RTE and CoLA (GLUE v1 TSVs), every method at the same adapter budget (``--budget``,
default r2: uniform rank 2 on the ``lora`` space's 36 matrices, 82,944 parameters)::

    uniform    rankscope uniform LoRA
    proxy      proxy-static with the best before-training proxy on the planted task
    salient    SalientLoRA (SVD form)          adalora   rankscope AdaLoRA (SVD form)
    greedy     proxy-greedy, forward edge selection before training
    grow       proxy-grow, the same selection inside the run
    peft-eva   PEFT LoRA, init_lora_weights="eva", EvaConfig(rho=2), at uniform's rank

**Equal tuning.** Every method, uniform included, gets the same learning-rate sweep on seed 0
(``--lr-sweep``); the SVD-form methods (salient, adalora) sweep the same lrs at ``svd_alpha``,
so for them the sweep runs along lr × svd_alpha, the product that sets their step size. Each
method's setting is the one with the best final dev metric on seed 0 (ties: the smaller lr;
a best lr at an end of the grid grows that method's sweep by a ×2 step, up to ``--extend-sweep``
times, the same rule for every method);
then the held-out seeds (1, 2, 3) run at it, and only they are compared. Seed 0 is not counted:
its score is the best of four for each method, an optimistic pick that favours the noisier
methods most, so it appears in the sweep table only.

**Statistics** (per task, against tuned uniform): the paired per-seed differences, their mean ±
std and a 95 % interval (Student t below 10 pairs, so for 3 seeds;
:func:`rankscope.search.compare.summarize_pairs`, the function behind ``rankscope compare``), then the
mean over tasks of each method's mean difference.

**Cells.** Each (task, method, lr, seed) is one cell, run in its own process and appended to
``--results`` (JSON Lines, with commit, command and machine) as soon as it ends; a rerun skips
finished cells (:mod:`benchmarks.common.cells`). ``--jobs`` cells run side by side, each started as soon as it
is known (a method's held-out seeds once its sweep has chosen, while other sweeps still run;
:func:`~benchmarks.protocol.sweep.ready_cells`), so no core waits for the end of a phase. The
tables are printed from that file alone (``--table-only``); ``python -m benchmarks.docs`` writes
them into the documentation's results page::

    python -m benchmarks.protocol --quick            # SST-2, 24 steps: < 30 min on 2 CPU cores
    python -m benchmarks.protocol --device cuda      # the full protocol (3 tasks, 3 epochs)
    python -m benchmarks.protocol --table-only
    python -m benchmarks.protocol --scaling lora --table-only   # the first protocol (α/r)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from benchmarks.common.cells import CellFile, add_cell_arguments, run_if_child

from .methods import DEFAULT_METHODS, METHODS, SVD_FORM, default_methods, run_cell
from .sweep import (
    SCALING,
    SELECTION,
    chosen_lr,
    default_settings,
    options_mismatch,
    progress,
    ready_cells,
)
from .table import tables

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
MODULE = __package__ or "benchmarks.protocol"  # what a cell's child process runs (python -m)


def settings_from(args) -> dict:
    s = default_settings(args.quick, args.device, args.scaling)
    if args.tasks:
        s["tasks"] = args.tasks.split(",")
    if args.lr_sweep:
        s["lr_sweep"] = [float(x) for x in args.lr_sweep.split(",")]
    if args.extend_sweep is not None:
        s["extend_sweep"] = args.extend_sweep
    if args.seeds:
        s["seeds"] = [int(x) for x in args.seeds.split(",")]
    if args.steps:
        s["steps"], s["epochs"], s["eval_every"] = args.steps, None, args.steps
    for key in ("model", "budget", "max_train_samples", "max_dev_samples"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    return s


def use_data_dir(args) -> None:
    """Point the cells at the GLUE TSVs through ``$RANKSCOPE_GLUE_DIR`` (children inherit it). The
    path is not a setting: the committed results file must match a clean clone's settings anywhere."""
    repo = HERE.parents[1]
    data_dir = args.data_dir or os.environ.get("RANKSCOPE_GLUE_DIR") or str(repo.parent / "shared" / "data" / "glue")
    os.environ["RANKSCOPE_GLUE_DIR"] = str(Path(data_dir).resolve())


def results_path(quick: bool, device: str = "cpu", scaling: str = SCALING) -> Path:
    """``benchmarks/results/protocol[-quick][-DEVICE][-RULE].jsonl``: -DEVICE unless cpu and
    -RULE unless lora (the first protocol's α/r), so a file holds the cells of one device and one
    scaling rule only."""
    suffix = ("" if device == "cpu" else f"-{device.split(':')[0]}") + ("" if scaling == "lora" else f"-{scaling}")
    return RESULTS / f"protocol{'-quick' if quick else ''}{suffix}.jsonl"


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.protocol", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="SST-2, 24 steps, 2 lrs, seed 0 + 2 held-out seeds "
                                                         "(< 30 min on 2 CPU cores)")
    ap.add_argument("--tasks", help="comma-separated GLUE tasks (default mrpc,rte,cola)")
    ap.add_argument("--methods", help="comma-separated (default " + ",".join(DEFAULT_METHODS) + "); valid: "
                                      + ", ".join(METHODS) + " (NAME@shortcuts: over the shortcut space at the "
                                      "budget's parameters)")
    ap.add_argument("--lr-sweep", help="comma-separated learning rates (the same for every method)")
    ap.add_argument("--extend-sweep", type=int, help="times a method's sweep may grow by ×2 beyond an end where its "
                                                     "best lr lies (default 2; --quick 0)")
    ap.add_argument("--seeds", help="comma-separated seeds; the first one runs the sweep, the others are compared "
                                    "(default 0,1,2,3)")
    ap.add_argument("--steps", type=int, help="optimizer steps (replaces the 3 epochs; one evaluation, at the end)")
    ap.add_argument("--model", help="model alias or path (default minilm)")
    ap.add_argument("--budget", help="adapter parameters, rankscope --budget syntax (default r2)")
    ap.add_argument("--max-train-samples", type=int, help="train on a seeded subset of this many rows")
    ap.add_argument("--max-dev-samples", type=int, help="evaluate on a fixed subset of this many dev rows")
    ap.add_argument("--data-dir", help="GLUE v1 TSV directory (default $RANKSCOPE_GLUE_DIR, else ../shared/data/glue)")
    ap.add_argument("--scaling", choices=["rslora", "lora"], default=SCALING,
                    help="the LoRA form's scaling rule (default rslora, alpha/sqrt(r); lora: alpha/r, the rule of "
                         "the first protocol, results/protocol.jsonl)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jobs", type=int, help="cells side by side (default: 2 with --quick, else 1)")
    ap.add_argument("--results", help="JSON Lines file of finished cells (default benchmarks/results/protocol"
                                      "[-quick][-DEVICE].jsonl; -DEVICE unless cpu: cells of one device only)")
    ap.add_argument("--table-only", action="store_true", help="print the tables from --results; run nothing")
    add_cell_arguments(ap, timeout=7200.0)
    return ap


def main(argv: list[str] | None = None):
    args = parser().parse_args(argv)
    if run_if_child(args, run_cell):
        return
    settings = settings_from(args)
    use_data_dir(args)
    out = Path(args.results) if args.results else results_path(args.quick, args.device, args.scaling)
    cells = CellFile(out, settings, timeout=args.cell_timeout, selection=SELECTION, allow_dirty=args.allow_dirty)
    methods = args.methods.split(",") if args.methods else default_methods(cells.rows)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        fail(f"unknown methods {unknown}; valid: {', '.join(METHODS)}")
    mismatch = options_mismatch(cells.rows, settings)
    if mismatch:
        fail(mismatch)
    if "uniform" not in methods:
        methods.insert(0, "uniform")  # the reference every difference is paired against
    t0 = time.perf_counter()
    sweep_args = (settings["lr_sweep"], settings["seeds"][0], settings["extend_sweep"])
    if not args.table_only:
        jobs = args.jobs or (2 if args.quick else 1)
        if jobs > 1:  # children share the cores
            os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 2) // jobs))
        print(progress(cells, settings, methods), flush=True)
        cells.run_as_ready(MODULE, lambda: ready_cells(cells, settings, methods), jobs)
        for t in settings["tasks"]:
            for m in methods:
                print(f"{t} {m}: lr {chosen_lr(cells, t, m, *sweep_args)} chosen on seed {sweep_args[1]}"
                      + (f" (svd_alpha {settings['svd_alpha']:g})" if m in SVD_FORM else ""), flush=True)
    print(tables(cells, settings, methods, defaults=not args.quick))
    print(f"\n{out}: {len(cells.rows)} cells; {progress(cells, settings, methods)}; this run "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
