"""The planted task's allocators under each scaling rule: where the truth is known, does α/r
handicap a mixed-rank allocation, and does α/√r remove the handicap?

MiniLM, ``shortcuts``, the calibrated defaults (200 steps, the planted budget), seeds 0–2. Every
cell is one run of a before-training or in-training allocator under one rule
(``--scaling lora``: α/r; ``rslora``: α/√r), with the task's uniform floor and oracle ceiling
trained under the same rule (the planted cache keeps them per rule and seed)::

    python -m benchmarks.planted.scaling                 # every cell not yet in the results file
    python -m benchmarks.planted.scaling --table-only    # gap_closed per seed, from the file alone

A row holds the allocator's r2, uniform's and the oracle's, ``gap_closed`` (0 = uniform, 1 = the
oracle) and the calibration ratio (oracle's dev error over uniform's: below 1 when the planted
allocation trains better than uniform, as it must for the task to tell allocators apart). The
table also pairs each method's r2 across the rules by seed: ``gap_closed`` divides by the
oracle's lead over uniform, which is small on some seeds, while the r2 difference is not.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.common.cells import CellFile, add_cell_arguments, read_rows, run_if_child

RESULTS = Path(__file__).resolve().parents[1] / "results" / "planted-scaling.jsonl"
#: label → (allocator, options): the shipped defaults, proxy-static with the spectral proxy
METHODS = {"proxy-static": ("proxy-static", {"proxy": "spectral"}), "proxy-greedy": ("proxy-greedy", {}),
           "proxy-grow": ("proxy-grow", {})}
#: the floor and ceiling alone: ``uniform`` as the allocator is the floor's own training (the
#: session trains it once), so its cell costs the two baselines; for ``--lrs`` sweeps
BASELINES = {"uniform": ("uniform", {})}
RULES = ["lora", "rslora"]
SEEDS = [0, 1, 2]


def run_cell(cell: dict, settings: dict) -> dict:
    import torch

    from benchmarks.common.rows import train_row
    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session

    torch.set_num_threads(settings["threads"])
    # lr None: the task's calibrated lr; given, the allocator and both baselines train at it
    cfg = SearchConfig(space="shortcuts", seed=cell["seed"], scaling=cell["rule"], lr=cell.get("lr")).resolved()
    session = Session(cfg, progress=False)
    name, options = {**METHODS, **BASELINES}[cell["method"]]
    row = train_row(session, cell["method"], name, options)
    planted = row.pop("planted") or {}
    row.pop("record"), row.pop("allocation")
    keep = ("r2", "r2_uniform", "r2_oracle", "gap_closed", "calibration_ratio", "planted_recall")
    return {**cell, **row, **{k: planted.get(k) for k in keep}}


#: a seed whose oracle beats uniform by less than this much r2 has no gap to close: its
#: gap_closed (a ratio over that gap) is shown but not averaged
MIN_GAP = 0.01


def table(rows: list[dict]) -> str:
    """gap_closed per seed and method under each rule; each method's dev r2 per seed under each
    rule with the paired difference α/√r − α/r; the floor, ceiling and calibration ratio."""
    fmt = lambda v: "—" if v is None else f"{v:+.3f}"  # noqa: E731
    swept = [r for r in rows if r.get("lr") is not None]
    rows = [r for r in rows if r.get("lr") is None]  # the calibrated lr
    seeds = sorted({r["seed"] for r in rows})
    narrow = {(r["rule"], r["seed"]) for r in rows
              if r.get("r2_oracle") is not None and r["r2_oracle"] - r["r2_uniform"] < MIN_GAP}
    out = ["| method | rule | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |",
           "|---|---|" + "---|" * (len(seeds) + 1)]
    for method in METHODS:
        for rule in RULES:
            got = {r["seed"]: r.get("gap_closed") for r in rows if r["method"] == method and r["rule"] == rule}
            if not got:
                continue
            values = [v for s, v in got.items() if v is not None and (rule, s) not in narrow]
            mean = fmt(statistics.fmean(values)) if values else "—"
            shown = [fmt(got.get(s)) + ("‡" if (rule, s) in narrow and got.get(s) is not None else "") for s in seeds]
            out.append(f"| {method} | {rule} | " + " | ".join(shown) + f" | {mean} |")
    if narrow:
        out += ["", f"‡ the oracle beat uniform by less than {MIN_GAP} r2 on that seed and rule: no gap to close, "
                    "so the ratio is not averaged."]
    out += ["", "Dev r2 per seed, and the paired difference α/√r − α/r (> 0: α/√r trained that allocation better)",
            "", "| method | " + " | ".join(f"seed {s} α/r · α/√r · diff" for s in seeds) + " | mean diff ± std |",
            "|---|" + "---|" * (len(seeds) + 1)]
    r2_of = {(r["method"], r["rule"], r["seed"]): r.get("r2") for r in rows}
    for r in rows:  # the floor and ceiling, trained once per rule and seed
        r2_of[("uniform", r["rule"], r["seed"])] = r.get("r2_uniform")
        r2_of[("oracle", r["rule"], r["seed"])] = r.get("r2_oracle")
    for method in ["uniform", "oracle", *METHODS]:
        cells, diffs = [], []
        for s in seeds:
            a, b = r2_of.get((method, "lora", s)), r2_of.get((method, "rslora", s))
            d = b - a if a is not None and b is not None else None
            diffs += [d] if d is not None else []
            cells.append(" · ".join("—" if v is None else f"{v:{'+' if v is d else ''}.4f}" for v in (a, b, d)))
        if all(c.startswith("— · —") for c in cells):
            continue
        spread = (f"{statistics.fmean(diffs):+.4f} ± {statistics.stdev(diffs):.4f}" if len(diffs) > 1
                  else f"{diffs[0]:+.4f}" if diffs else "—")
        out.append(f"| {method} | " + " | ".join(cells) + f" | {spread} |")
    out += ["", "| rule | seed | r2 uniform | r2 oracle | calibration ratio (oracle error / uniform error) |",
            "|---|---|---|---|---|"]
    for rule in RULES:
        for seed in seeds:
            r = next((r for r in rows if r["rule"] == rule and r["seed"] == seed and r.get("r2_uniform") is not None), None)
            if r:
                out.append(f"| {rule} | {seed} | {r['r2_uniform']:.4f} | {r['r2_oracle']:.4f} | "
                           f"{r['calibration_ratio']:.2f} |")
    return "\n".join(out + (lr_table(rows, swept) if swept else [])) + "\n"


def lr_table(calibrated: list[dict], swept: list[dict]) -> list[str]:
    """The floor and ceiling at other lrs (``--lrs``) beside the calibrated lr's, per rule and
    seed, and each rule's oracle lead at the best lr of each: does a rule handicap the true
    mixed-rank allocation once the lr is tuned for it?"""
    from rankscope.tasks.planted.kind import PlantedKind

    task_lr = PlantedKind.defaults["lr"]
    at: dict = {}
    for r in calibrated + swept:
        at.setdefault((r["rule"], r["seed"]), {})[r.get("lr") or task_lr] = (r["r2_uniform"], r["r2_oracle"])
    lrs = sorted({lr for v in at.values() for lr in v})
    out = ["", "The floor and ceiling at each lr (r2 uniform · r2 oracle), and at each one's best lr:", "",
           "| rule | seed | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " | best uniform · best oracle · lead |",
           "|---|---|" + "---|" * (len(lrs) + 1)]
    for (rule, seed), by_lr in sorted(at.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cells = [" · ".join(f"{x:.4f}" for x in by_lr[lr]) if lr in by_lr else "" for lr in lrs]
        best_u, best_o = max(u for u, _ in by_lr.values()), max(o for _, o in by_lr.values())
        out.append(f"| {rule} | {seed} | " + " | ".join(cells) + f" | {best_u:.4f} · {best_o:.4f} · {best_o - best_u:+.4f} |")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.planted.scaling", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated; default {','.join(METHODS)}")
    ap.add_argument("--rules", default=",".join(RULES), help="comma-separated; default lora,rslora")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated; default 0,1,2")
    ap.add_argument("--lrs", help="comma-separated lrs for every method and baseline (default: the task's "
                                  "calibrated lr); with --methods uniform, the floor and ceiling alone")
    ap.add_argument("--jobs", type=int, default=1, help="cells side by side")
    ap.add_argument("--threads", type=int, default=2, help="torch threads per cell (default 2)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="the results file (JSON Lines)")
    ap.add_argument("--table-only", action="store_true", help="print the table from the results file; train nothing")
    add_cell_arguments(ap, timeout=7200.0)
    args = ap.parse_args(argv)
    if run_if_child(args, run_cell):
        return
    if args.table_only:
        print(table(read_rows(args.results)))
        return
    methods, rules = args.methods.split(","), args.rules.split(",")
    unknown = sorted(set(methods) - set(METHODS) - set(BASELINES)) + sorted(set(rules) - set(RULES))
    if unknown:
        raise SystemExit(f"unknown method or rule {unknown}; methods: {', '.join([*METHODS, *BASELINES])}; "
                         f"rules: {', '.join(RULES)}")
    lrs = [float(x) for x in args.lrs.split(",")] if args.lrs else [None]
    cells = CellFile(args.results, {"threads": args.threads, "methods": METHODS}, timeout=args.cell_timeout,
                     allow_dirty=args.allow_dirty)
    # the rules side by side: two cells that start together then train different baselines (the
    # planted cache keeps uniform's and the oracle's per rule and seed; later cells read them)
    # "lr": None is the calibrated lr, and matches the rows written before lrs were swept
    todo = [{"method": m, "rule": r, "seed": int(s), "lr": lr}
            for s in args.seeds.split(",") for lr in lrs for m in methods for r in rules]
    cells.run_as_ready("benchmarks.planted.scaling", lambda: [c for c in todo if cells.get(**c) is None],
                       jobs=args.jobs)
    print(table(cells.rows))


if __name__ == "__main__":
    main()
