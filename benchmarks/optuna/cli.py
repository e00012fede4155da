"""Optuna outer search benchmark.

(a) ``planted``: how many trials each variant needs to reach the ``r2`` of ``proxy-static``.
    The target is the ``proxy-static`` (grad_norm) allocation trained with the *trial* schedule
    (``--trial-steps``), so trials and target are measured alike. Variants, all in the
    ``shortcuts`` space at the planted budget: TPE with warm start (uniform and proxy-static
    enqueued first), TPE without, and random. Also the best trial's ``r2`` and, with
    ``--retrain``, its ``gap_closed`` after retraining with the full schedule.
(b) ``glue``: MRPC over seeds, the final retrained dev metric of ``optuna`` against uniform at
    equal budget (``glue_rows``: the same harness, schedule and seed for both)::

    python -m benchmarks.optuna --parts planted --trials 12 --trial-steps 30
    python -m benchmarks.optuna --parts glue --seeds 0,1,2 --trials 8 --trial-steps 40

Every run writes its rows to ``--json`` (default ``optuna_search.json`` in the working directory).
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks.common.rows import fmt, glue_rows, mean_std
from rankscope.allocators import ALLOCATORS
from rankscope.io import atomic_write_text
from rankscope.search.config import SearchConfig
from rankscope.search.session import Session

VARIANTS = [("TPE, warm start", {"sampler": "tpe", "warm_start": True}),
            ("TPE, no warm start", {"sampler": "tpe", "warm_start": False}),
            ("random", {"sampler": "random", "warm_start": False})]


def trials_to_reach(values: list, target: float):
    """1-based index of the first complete trial whose value reaches ``target`` (``None``: never)."""
    return next((i + 1 for i, v in enumerate(values) if v is not None and v >= target), None)


def part_planted(args) -> list[dict]:
    from rankscope.tasks.planted import planted_metrics

    rows = []
    for seed in args.seeds:
        search = Session(SearchConfig(space="shortcuts", seed=seed, max_steps=args.planted_steps).resolved(),
                         progress=False)
        ctx = search.context()
        proxy_alloc = ALLOCATORS.get("proxy-static")().propose(ctx).allocation
        target = search.train(proxy_alloc, steps=args.trial_steps).final["r2"]
        print(f"planted seed {seed}: proxy-static r2 at {args.trial_steps} steps = {target:.4f}", flush=True)
        full = {}
        if args.retrain:
            full = {"uniform": search.train(search.uniform()).final["r2"],
                    "oracle": search.train(search.planted.planted).final["r2"]}
        for label, options in VARIANTS:
            allocator = ALLOCATORS.get("optuna")(n_trials=args.trials, trial_steps=args.trial_steps, **options)
            t0 = time.perf_counter()
            plan = allocator.propose(ctx)  # runs the study; the plan is its best trial
            seconds = time.perf_counter() - t0
            trials = plan.describe()["trials"]
            values = [t["value"] if t["state"] == "complete" else None for t in trials]
            best = max((v for v in values if v is not None), default=None)
            row = {"seed": seed, "variant": label, "options": options, "target_r2": target,
                   "trials_to_reach": trials_to_reach(values, target), "best_trial_r2": best,
                   "pruned": sum(t["state"] == "pruned" for t in trials), "search_s": seconds,
                   "values": values}
            if args.retrain:
                alloc = plan.allocation
                final = search.train(alloc).final["r2"]
                row.update(planted_metrics(alloc, search.planted.planted, final, full["uniform"], full["oracle"]))
            rows.append(row)
            print(f"  {label:20s} trials to reach {fmt(row['trials_to_reach'], 'd') if row['trials_to_reach'] else 'never'}"
                  f" of {args.trials}; best trial r2 {fmt(best, '.4f')}; pruned {row['pruned']}; {seconds:.0f} s"
                  + (f"; retrained gap_closed {fmt(row.get('gap_closed'))}" if args.retrain else ""), flush=True)
    return rows


def part_glue(args) -> list[dict]:
    options = {"n_trials": args.trials, "trial_steps": args.trial_steps}
    cfg = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr), ("eval_every", args.eval_every),
                             ("max_train_samples", args.max_train_samples)) if v is not None}
    rows = glue_rows([("uniform", "uniform", {}), ("optuna", "optuna", options)], ["mrpc"], [args.space],
                     args.seeds, **cfg)
    print("\nMRPC dev accuracy (final), mean ± std over seeds", [r["seed"] for r in rows if r["method"] == "uniform"])
    for label in ("uniform", "optuna"):
        sel = [r for r in rows if r["method"] == label]
        print(f"  {label:8s} {mean_std([r['final'][r['primary']] for r in sel])}   "
              f"search+train {sum((r['allocate_s'] or 0) + r['train_s'] for r in sel):.0f} s")
    return rows


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.optuna", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="planted,glue")
    ap.add_argument("--seeds", default="0", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--trial-steps", type=int, default=30)
    ap.add_argument("--planted-steps", type=int, default=200, help="full schedule of the planted task")
    ap.add_argument("--retrain", action="store_true", help="planted: retrain each variant's best (full schedule)")
    ap.add_argument("--space", default="lora-qv")
    ap.add_argument("--epochs", type=float)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--eval-every", type=int)
    ap.add_argument("--max-train-samples", type=int)
    ap.add_argument("--json", default="optuna_search.json", help="write every row to this file")
    args = ap.parse_args(argv)
    out = {"args": {k: v for k, v in vars(args).items()}}
    for part in args.parts.split(","):
        out[part] = {"planted": part_planted, "glue": part_glue}[part](args)
        atomic_write_text(args.json, json.dumps(out, indent=2, default=str) + "\n")
    print(f"\nwrote {args.json}")
