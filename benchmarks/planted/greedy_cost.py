"""Forward selection at a tenth of the training it plans: ``proxy-greedy``'s quality against its cost.

``proxy-greedy`` (:mod:`rankscope.allocators.proxy.greedy`) spends R rounds, each a short training
of the chosen edges (``round_steps``) and a ``spectral`` scoring pass of K batches
(``n_batches``). With 8 rounds of 5 % of the run and K = 8 it cost 0.94–0.97× the training it
planned on the planted task (``planted-scaling.jsonl``, α/√r rows). Each variant here cuts the
rounds, their training or their scoring, so that what forward selection costs is measured beside
what it buys. MiniLM, ``shortcuts``, the calibrated defaults (200 steps, α/√r), seeds 0–2::

    python -m benchmarks.planted.greedy_cost                 # every cell not yet in the results file
    python -m benchmarks.planted.greedy_cost --table-only    # the table, from the results files alone

A row holds ``gap_closed`` (0 = uniform, 1 = the oracle), the allocation's seconds and the
training's. The table adds, from ``planted-scaling.jsonl``, the same seeds' ``proxy-greedy`` at
its default (8 rounds × 5 %, K = 8) and ``proxy-static`` (one scoring pass): the cheap
variants have to beat the one-pass allocation to be worth their rounds.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.common.cells import CellFile, add_cell_arguments, read_rows, run_if_child

RESULTS = Path(__file__).resolve().parents[1] / "results"
FILE = RESULTS / "planted-greedy-cost.jsonl"
#: name → proxy-greedy's options (rounds R, round_steps as a fraction of the run, scoring batches K)
VARIANTS = {
    "r8-s1-k1": {"rounds": 8, "round_steps": 0.01, "n_batches": 1},
    "r4-s2-k1": {"rounds": 4, "round_steps": 0.02, "n_batches": 1},
    "r4-s1-k2": {"rounds": 4, "round_steps": 0.01, "n_batches": 2},
    "r4-s3-k1": {"rounds": 4, "round_steps": 0.03, "n_batches": 1},
}
SEEDS = [0, 1, 2]
#: the planted-scaling rows the table reads beside the variants: the default and one pass
REFERENCE = {"proxy-greedy": "r8-s5-k8 (the default)", "proxy-static": "proxy-static (one pass, K = 8)"}


def label(options: dict) -> str:
    """``rR × S %, K batch(es)``: a variant's options in words."""
    k = options["n_batches"]
    return f"{options['rounds']} rounds × {options['round_steps']:.0%}, {k} scoring batch{'es' if k > 1 else ''}"


def run_cell(cell: dict, settings: dict) -> dict:
    import torch

    from benchmarks.common.rows import train_row
    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session

    torch.set_num_threads(settings["threads"])
    cfg = SearchConfig(space="shortcuts", seed=cell["seed"], scaling="rslora").resolved()
    row = train_row(Session(cfg, progress=False), cell["variant"], "proxy-greedy", cell["options"])
    planted = row.pop("planted") or {}
    row.pop("allocation")
    rounds = [{k: r[k] for k in ("round", "edge", "rank")} for r in row.pop("record").get("rounds", [])]
    keep = ("r2", "r2_uniform", "r2_oracle", "gap_closed", "planted_recall")
    return {**cell, **row, "rounds": rounds, **{k: planted.get(k) for k in keep}}


def cost(row: dict) -> float | None:
    """Allocation seconds over training seconds (``None`` for a failed run)."""
    return row["allocate_s"] / row["train_s"] if row.get("train_s") else None


def table(rows: list[dict], reference: list[dict]) -> str:
    """gap_closed per seed and its mean, and allocate_s / train_s per seed and its mean, for the
    reference rows (``planted-scaling.jsonl``: α/√r, the calibrated lr) and each variant."""
    named = [(REFERENCE[m], [r for r in reference if r["method"] == m and r.get("rule") == "rslora"
                             and r.get("lr") is None]) for m in REFERENCE]
    named += [(f"{v}: {label(o)}", [r for r in rows if r.get("variant") == v]) for v, o in VARIANTS.items()]
    seeds = sorted({r["seed"] for _, got in named for r in got})
    lines = ["| allocation | " + " | ".join(f"gap_closed, seed {s}" for s in seeds)
             + " | mean gap_closed | allocate / train, per seed | mean cost |", "|---|" + "---|" * (len(seeds) + 3)]
    for name, got in named:
        by_seed = {r["seed"]: r for r in got if r.get("gap_closed") is not None}
        if not by_seed:
            continue
        costs = [cost(by_seed[s]) for s in seeds if s in by_seed]
        lines.append(f"| {name} | " + " | ".join(f"{by_seed[s]['gap_closed']:.3f}" if s in by_seed else "—" for s in seeds)
                     + f" | {statistics.fmean(r['gap_closed'] for r in by_seed.values()):.3f} | "
                     + " · ".join(f"{c:.2f}" for c in costs) + f" | {statistics.fmean(costs):.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.planted.greedy_cost", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated; default {','.join(VARIANTS)}")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="comma-separated; default 0,1,2")
    ap.add_argument("--jobs", type=int, default=1, help="cells side by side")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per cell (default 1)")
    ap.add_argument("--results", type=Path, default=FILE, help="the results file (JSON Lines)")
    ap.add_argument("--table-only", action="store_true", help="print the table from the results files; train nothing")
    add_cell_arguments(ap, timeout=3600.0)
    args = ap.parse_args(argv)
    if run_if_child(args, run_cell):
        return
    reference = read_rows(RESULTS / "planted-scaling.jsonl")
    if args.table_only:
        print(table(read_rows(args.results), reference))
        return
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variant {unknown}; valid: {', '.join(VARIANTS)}")
    cells = CellFile(args.results, {"threads": args.threads}, timeout=args.cell_timeout, allow_dirty=args.allow_dirty)
    # a cell names its options: a variant whose options change is a new cell, not its old row
    todo = [{"variant": v, "options": VARIANTS[v], "seed": int(s)} for s in args.seeds.split(",") for v in variants]
    cells.run_as_ready("benchmarks.planted.greedy_cost", lambda: [c for c in todo if cells.get(**c) is None],
                       jobs=args.jobs)
    print(table(cells.rows, reference))


if __name__ == "__main__":
    main()
