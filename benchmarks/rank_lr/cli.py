"""Rank stability of the LoRA scaling rules, measured.

Uniform LoRA (MiniLM) at ranks 1, 2, 8 and 32, over an lr grid, under each scaling rule
(``lora``: α/r, PEFT's default; ``rslora``: α/√r, Kalajdzievski 2023), 2 seeds, on the planted
task (calibrated defaults) and on an SST-2 subset (8,000 train rows, 200 steps). A rank-stable
rule gives every rank the same best lr and moves every rank's weights by a similar amount at one
lr. Each cell is one training in its own process, appended to the results file as it ends, so
the run resumes where it stopped::

    python -m benchmarks.rank_lr --jobs 2                     # every cell not yet in the file
    python -m benchmarks.rank_lr --tasks planted --seeds 0    # a part of the grid
    python -m benchmarks.rank_lr --table-only                 # the tables, from the file alone
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from benchmarks.common.cells import (
    CellFile,
    add_cell_arguments,
    read_rows,
    run_if_child,
)

from .cell import TASKS, run_cell
from .table import SHARED_RANK, markdown

RESULTS = Path(__file__).resolve().parents[1] / "results" / "rank-lr.jsonl"
RULES = ["lora", "rslora"]
RANKS = [1, 2, 8, 32]
LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
SEEDS = [0, 1]


def _list(kind):
    return lambda text: [kind(v) for v in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.rank_lr", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=_list(str), default=list(TASKS), help=f"comma-separated; default {','.join(TASKS)}")
    ap.add_argument("--rules", type=_list(str), default=RULES, help="comma-separated; default lora,rslora")
    ap.add_argument("--ranks", type=_list(int), default=RANKS, help="comma-separated; default 1,2,8,32")
    ap.add_argument("--lrs", type=_list(float), default=LRS, help="comma-separated; default 1e-4,3e-4,1e-3,3e-3,1e-2")
    ap.add_argument("--seeds", type=_list(int), default=SEEDS, help="comma-separated; default 0,1")
    ap.add_argument("--jobs", type=int, default=1, help="cells side by side (each with --threads torch threads)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per cell (default 1)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="the results file (JSON Lines)")
    ap.add_argument("--table-only", action="store_true", help="print the tables from the results file; train nothing")
    add_cell_arguments(ap, timeout=3600.0)
    args = ap.parse_args(argv)
    os.environ.setdefault("RANKSCOPE_GLUE_DIR", str(RESULTS.parents[2].parent / "shared" / "data" / "glue"))
    if args.cell:  # the child's threads before its provenance is recorded
        import json

        import torch

        torch.set_num_threads(json.loads(args.settings)["threads"])
    if run_if_child(args, run_cell):
        return
    if args.table_only:
        print(markdown(read_rows(args.results)))
        return
    unknown = sorted(set(args.tasks) - set(TASKS)) + sorted(set(args.rules) - set(RULES))
    if unknown:
        raise SystemExit(f"unknown task or rule {unknown}; tasks: {', '.join(TASKS)}; rules: {', '.join(RULES)}")
    cells = CellFile(args.results, {"threads": args.threads, "tasks": TASKS}, timeout=args.cell_timeout,
                     allow_dirty=args.allow_dirty)
    # rank 1 trains identically under every rule (α/1 = α/√1): it runs once, under lora, and the
    # tables share it (two rslora rank-1 cells that did run matched their lora twins bit for bit)
    todo = [{"task": t, "rule": rule, "rank": k, "lr": lr, "seed": s} for s in args.seeds for t in args.tasks
            for rule in args.rules for k in args.ranks for lr in args.lrs
            if not (k == SHARED_RANK and rule != "lora")]
    # order: seed 0 of everything first, so a stopped run leaves complete tables for one seed
    cells.run_as_ready("benchmarks.rank_lr", lambda: [c for c in todo if cells.get(**c) is None], jobs=args.jobs)
    print(markdown(cells.rows))
