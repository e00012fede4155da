"""HeteroLoRA proxies benchmark: planted ground truth, and MRPC / RTE at equal budget.

Planted task (MiniLM, ``shortcuts``): for every proxy, static and dynamic, ``gap_closed``
(0 = uniform, the floor; 1 = the oracle planted allocation, the ceiling), ``planted_recall`` and
``rank_spearman``. GLUE (MiniLM, ``../shared/data/glue``): uniform LoRA, ``proxy-static``
(grad_norm, spectral) and ``proxy-dynamic`` (grad_norm, combined) at the same budget, in the
``lora-qv`` space (rank 8 on 25 % of candidates against uniform r2) and in ``shortcuts``; dev
metric mean ± std over seeds and scoring time as a share of training time::

    python -m benchmarks.proxies --quick          # ≤ 15 min on 2 CPU cores
    python -m benchmarks.proxies                  # the full protocol (hours on CPU)

Everything trains through one session (:func:`rankscope.search.pipeline.run`), and
every row is measured in this run. ``--json FILE`` writes all rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from benchmarks.common.rows import fmt, glue_rows, mean_std, planted_rows
from rankscope.io import atomic_write_text

# (label, allocator, options): warm-up for the proxies that are identically 0 at B = 0
PLANTED_METHODS = [
    ("static grad_norm", "proxy-static", {"proxy": "grad_norm"}),
    ("static grad_norm type-norm", "proxy-static", {"proxy": "grad_norm", "normalize": "type"}),
    ("static spectral", "proxy-static", {"proxy": "spectral"}),
    ("static spectral edge", "proxy-static", {"proxy": "spectral", "granularity": "edge"}),
    ("static spectral edge type-norm", "proxy-static", {"proxy": "spectral", "granularity": "edge",
                                                        "normalize": "type"}),
    ("static spectral edge (warm-up)", "proxy-static", {"proxy": "spectral", "granularity": "edge",
                                                        "warmup_steps": 20}),
    ("static spectral edge K32", "proxy-static", {"proxy": "spectral", "granularity": "edge", "n_batches": 32}),
    ("static snip (warm-up)", "proxy-static", {"proxy": "snip", "warmup_steps": 20}),
    ("static fisher (warm-up)", "proxy-static", {"proxy": "fisher", "warmup_steps": 20}),
    ("static synflow (warm-up)", "proxy-static", {"proxy": "synflow", "warmup_steps": 20}),
    ("static grasp", "proxy-static", {"proxy": "grasp"}),
    ("static jacob_cov", "proxy-static", {"proxy": "jacob_cov"}),
    ("static constant", "proxy-static", {"proxy": "constant"}),
    ("dynamic grad_norm", "proxy-dynamic", {"proxy": "grad_norm"}),
    ("dynamic grad_norm separated", "proxy-dynamic", {"proxy": "grad_norm", "mode": "separated"}),
]
QUICK_PLANTED = ["static grad_norm", "static spectral edge", "dynamic grad_norm"]
GLUE_METHODS = [
    ("uniform", "uniform", {}),
    ("static grad_norm", "proxy-static", {"proxy": "grad_norm"}),
    ("static spectral", "proxy-static", {"proxy": "spectral"}),
    ("dynamic grad_norm", "proxy-dynamic", {"proxy": "grad_norm", "mode": "combined"}),
]


def planted(args, seeds):
    methods = [m for m in PLANTED_METHODS if (not args.quick or m[0] in QUICK_PLANTED)
               and (not args.methods or m[0] in args.methods)]
    # --quick evaluates once, at the end: ten dev passes per run were a fifth of its time
    return planted_rows(methods, seeds, args.planted_steps, log=lambda m: print(m, flush=True),
                        eval_every=args.planted_steps if args.quick else 0)


def glue(args, seeds):
    methods = [m for m in GLUE_METHODS if not args.methods or m[0] == "uniform" or m[0] in args.methods]
    return glue_rows(methods, args.tasks, args.spaces, seeds, log=lambda m: print(m, flush=True),
                     data_dir=args.data_dir, budget="r2", epochs=args.epochs, max_steps=args.glue_steps,
                     max_train_samples=args.max_train_samples, eval_every=args.eval_every, lr=args.lr)


def print_tables(planted, glue):
    if planted:
        print("\n## Planted task (MiniLM, shortcuts): floor = uniform, ceiling = oracle")
        print("| method | gap_closed | planted_recall | rank_spearman | scoring s |\n|---|---|---|---|---|")
        for label in dict.fromkeys(r["method"] for r in planted):
            rs_ = [r for r in planted if r["method"] == label]
            print(f"| {label} | {mean_std([r['gap_closed'] for r in rs_])} | "
                  f"{mean_std([r['planted_recall'] for r in rs_])} | {mean_std([r['rank_spearman'] for r in rs_])} | "
                  f"{mean_std([r['scoring_s'] for r in rs_])} |")
    if glue:
        print("\n## GLUE dev metric at equal budget (final / best), mean ± std over seeds")
        print("| task | space | method | params | final | best | scoring / training |\n|---|---|---|---|---|---|---|")
        for key in dict.fromkeys((r["task"], r["space"], r["method"]) for r in glue):
            rs_ = [r for r in glue if (r["task"], r["space"], r["method"]) == key]
            p = rs_[0]["primary"]
            share = [r["scoring_s"] / r["train_s"] for r in rs_ if r["scoring_s"] is not None]
            print(f"| {key[0]} | {key[1]} | {key[2]} | {rs_[0]['params']:,} | {mean_std([r['final'][p] for r in rs_])} | "
                  f"{mean_std([r['best'][p] for r in rs_])} | {fmt(statistics.mean(share) * 100, '.1f') + '%' if share else '—'} |")


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.proxies", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 planted methods, 1 seed, 60 steps; MRPC subset in lora-qv; one evaluation per run")
    ap.add_argument("--seeds", default=None, help="comma-separated (default 0,1,2; quick: 0)")
    ap.add_argument("--only", choices=("planted", "glue"), help="run one half")
    ap.add_argument("--planted-steps", type=int, default=None, help="default 200 (quick: 60)")
    ap.add_argument("--tasks", default=None, help="default mrpc,rte (quick: mrpc)")
    ap.add_argument("--spaces", default=None, help="default lora-qv,shortcuts (quick: lora-qv)")
    ap.add_argument("--epochs", type=float, default=None, help="GLUE epochs (default 3)")
    ap.add_argument("--glue-steps", type=int, default=None, help="GLUE optimizer steps (quick: 30)")
    ap.add_argument("--max-train-samples", type=int, default=None, help="GLUE train subset (quick: 640)")
    ap.add_argument("--lr", type=float, default=None, help="GLUE peak learning rate (default: the task default)")
    ap.add_argument("--eval-every", type=int, default=0, help="GLUE: evaluate every N steps (0 = ten times per run)")
    ap.add_argument("--data-dir", default=os.environ.get("RANKSCOPE_GLUE_DIR", "../shared/data/glue"))
    ap.add_argument("--methods", default=None,
                    help="comma-separated method labels to run (GLUE always keeps uniform); default all")
    ap.add_argument("--json", help="write every row to this file")
    args = ap.parse_args(argv)
    labels = {m[0] for m in PLANTED_METHODS + GLUE_METHODS}
    args.methods = args.methods.split(",") if args.methods else None
    unknown = sorted(set(args.methods or ()) - labels)
    if unknown:
        ap.error(f"unknown method label(s) {unknown}; valid: {sorted(labels)}")
    q = args.quick
    seeds = [int(s) for s in (args.seeds or ("0" if q else "0,1,2")).split(",")]
    args.planted_steps = args.planted_steps or (60 if q else 200)
    args.tasks = (args.tasks or ("mrpc" if q else "mrpc,rte")).split(",")
    args.spaces = (args.spaces or ("lora-qv" if q else "lora-qv,shortcuts")).split(",")
    if q:
        args.glue_steps = args.glue_steps or 30
        args.max_train_samples = args.max_train_samples or 640
        args.eval_every = args.eval_every or args.glue_steps
    if args.glue_steps is None and args.epochs is None:
        args.epochs = 3.0
    t0 = time.perf_counter()
    planted_part = planted(args, seeds) if args.only != "glue" else []
    glue_part = glue(args, seeds) if args.only != "planted" else []
    print_tables(planted_part, glue_part)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    if args.json:
        atomic_write_text(args.json, json.dumps({"args": vars(args), "planted": planted_part, "glue": glue_part}, indent=2, default=str))
