"""Is `salient` held back on the planted task by its initial rank r₀, or by its salience signal?

A prune-only allocator starts every edge at r₀ and can only remove rank, so no edge ends above r₀.
`salient`'s r₀ defaults to 4 × the budget's uniform rank (about 5 at the planted budget), while
the planted allocation puts rank up to 32 on a few edges. Three cells per seed separate the two
explanations:

* ``salient``: the shipped default r₀;
* ``salient-r0-planted``: r₀ raised to the largest planted rank, so the bound no longer binds;
* ``oracle-clipped``: the planted allocation with every rank capped at the default r₀, trained
  like the oracle (the task's ceiling): the best any allocation within the bound can do.

If ``oracle-clipped`` closes most of the gap, the bound is not what holds `salient` back; if it
closes little and ``salient-r0-planted`` gains, it is. MiniLM, ``shortcuts``, the planted task's
calibrated defaults (200 steps, the planted budget), α/√r, seeds 0–2::

    python -m benchmarks.planted.r0_bound --jobs 2 --threads 1
    python -m benchmarks.planted.r0_bound --table-only
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.common.cells import CellFile, add_cell_arguments, read_rows, run_if_child

RESULTS = Path(__file__).resolve().parents[1] / "results" / "planted-r0-bound.jsonl"
METHODS = ("salient", "salient-r0-planted", "oracle-clipped")
SEEDS = [0, 1, 2]
KEEP = ("r2", "r2_uniform", "r2_oracle", "gap_closed", "planted_recall", "rank_spearman")


def run_cell(cell: dict, settings: dict) -> dict:
    import time

    import torch

    from benchmarks.common.rows import train_row
    from rankscope.allocation.allocation import Allocation
    from rankscope.allocators.proxy.select import default_rank_on
    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session
    from rankscope.tasks.planted.metrics import planted_metrics

    torch.set_num_threads(settings["threads"])
    session = Session(SearchConfig(space="shortcuts", seed=cell["seed"], scaling="rslora").resolved(), progress=False)
    planted = session.planted.planted
    r0 = default_rank_on(session.space, session.budget)
    top = max(planted.ranks.values())
    bound = {"default_r0": r0, "max_planted_rank": top,
             "planted_rank_above_r0": sum(max(0, r - r0) for r in planted.ranks.values()),
             "planted_rank": sum(planted.ranks.values())}
    if cell["method"] == "oracle-clipped":
        t0 = time.perf_counter()
        clipped = Allocation(session.space, {i: min(r, r0) for i, r in planted.ranks.items()}, form=planted.form)
        r2 = {name: session.baseline(a, name).final["r2"] for name, a in
              (("baseline uniform", session.uniform()), ("oracle", planted), ("oracle clipped", clipped))}
        metrics = planted_metrics(clipped, planted, r2["oracle clipped"], r2["baseline uniform"], r2["oracle"])
        return {**cell, **bound, "init_rank": None, "params": clipped.params, "budget_params": session.budget.params,
                "wall_s": time.perf_counter() - t0, **{k: metrics.get(k) for k in KEEP}}
    options = {} if cell["method"] == "salient" else {"init_rank": top}
    row = train_row(session, cell["method"], "salient", options)
    found = row.pop("planted") or {}
    init = (row["record"] or {}).get("init_rank")
    return {**cell, **bound, "init_rank": init, "params": row["params"], "budget_params": session.budget.params,
            "allocate_s": row["allocate_s"], "train_s": row["train_s"], "failure": row["failure"],
            "max_final_rank": max(row["allocation"].ranks.values()) if row["allocation"] else None,
            **{k: found.get(k) for k in KEEP}}


def table(rows: list[dict]) -> str:
    """gap_closed (and dev r2) per seed and method, the rank the methods put on the planted edges,
    and the bound's size on each seed."""
    seeds = sorted({r["seed"] for r in rows})
    if not seeds:
        return "No cell has finished yet."

    def cell(r):
        gap = "—" if r.get("gap_closed") is None else f"{r['gap_closed']:+.3f}"
        return f"{gap} ({r['r2']:.3f})"

    out = ["gap_closed per seed (dev r2 in brackets; 0 = uniform, 1 = the planted oracle)", "",
           "| method | r₀ | " + " | ".join(f"seed {s}" for s in seeds) + " | mean gap_closed |",
           "|---|---|" + "---|" * (len(seeds) + 1)]
    for method in METHODS:
        got = {r["seed"]: r for r in rows if r["method"] == method}
        if not got:
            continue
        values = [r["gap_closed"] for r in got.values() if r.get("gap_closed") is not None]
        r0 = "/".join(map(str, sorted({r["init_rank"] or r["default_r0"] for r in got.values()})))
        out.append(f"| {method} | {'cap ' + r0 if method == 'oracle-clipped' else r0} | "
                   + " | ".join(cell(got[s]) if s in got else "—" for s in seeds)
                   + (f" | {statistics.fmean(values):+.3f} |" if values else " | — |"))
    out += ["", "| seed | r2 uniform | r2 oracle | default r₀ | largest planted rank | planted rank above r₀ / all "
                "planted rank | `oracle-clipped` params / budget | share of params on planted edges: `salient` · "
                "lifted r₀ | largest final rank: `salient` · lifted r₀ |", "|---|---|---|---|---|---|---|---|---|"]
    for s in seeds:
        by = {r["method"]: r for r in rows if r["seed"] == s}
        r = next(iter(by.values()))
        clipped = by.get("oracle-clipped")
        share = " · ".join(f"{by[m]['planted_recall']:.0%}" if m in by else "—" for m in METHODS[:2])
        top = " · ".join(str(by[m]["max_final_rank"]) if m in by else "—" for m in METHODS[:2])
        out.append(f"| {s} | {r['r2_uniform']:.3f} | {r['r2_oracle']:.3f} | {r['default_r0']} | "
                   f"{r['max_planted_rank']} | {r['planted_rank_above_r0']} / {r['planted_rank']} | "
                   + (f"{clipped['params']:,} / {clipped['budget_params']:,}" if clipped else "—")
                   + f" | {share} | {top} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.planted.r0_bound", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated; default {','.join(METHODS)}")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated; default 0,1,2")
    ap.add_argument("--threads", type=int, default=2, help="torch threads per cell (default 2)")
    add_cell_arguments(ap, timeout=7200.0, results=RESULTS)
    args = ap.parse_args(argv)
    if run_if_child(args, run_cell):
        return
    if args.table_only:
        print(table(read_rows(args.results)))
        return
    methods = args.methods.split(",")
    if set(methods) - set(METHODS):
        raise SystemExit(f"unknown method {sorted(set(methods) - set(METHODS))}; valid: {', '.join(METHODS)}")
    cells = CellFile(args.results, {"threads": args.threads}, timeout=args.cell_timeout, allow_dirty=args.allow_dirty)
    todo = [{"method": m, "seed": int(s)} for s in args.seeds.split(",") for m in methods]
    cells.run_as_ready("benchmarks.planted.r0_bound", lambda: [c for c in todo if cells.get(**c) is None],
                       jobs=args.jobs)
    print(table(cells.rows))


if __name__ == "__main__":
    main()
