"""The noise pilot: how many seeds a comparison against tuned uniform needs, and what they cost.

For every task and method of a protocol results file (the GLUE protocol's or the decoder
benchmark's: both follow :mod:`.sweep`), the paired differences from tuned uniform over the
held-out seeds give the paired std σ_d; the seeds for 80 % power at the smallest effect worth
reporting (1 point of accuracy or MCC, 0.01 nats of dev NLL) follow from it
(:mod:`rankscope.search.power`), and so does the CPU time of a powered comparison: that many
held-out cells of the method and of uniform, at the median wall time of the file's cells::

    python -m benchmarks.protocol.pilot benchmarks/results/protocol.jsonl benchmarks/results/pilot-gsm8k.jsonl

σ_d from 3 seeds is a rough estimate (its own 95 % interval spans about ×0.5 to ×6), which is
why a pilot runs 6 or more held-out seeds before the seed count is fixed.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.common.cells import CellFile, read_rows
from rankscope.search.compare import summarize_pairs
from rankscope.search.power import detectable_effect, paired_power, seeds_for_power

from .sweep import SELECTION, chosen_lr
from .table import reading, seed_rows


def pilot(cells: CellFile, settings: dict) -> list[dict]:
    """One record per task and method (uniform excepted) with at least two held-out seeds paired."""
    rows = cells.rows
    sweep = (settings["lr_sweep"], settings["seeds"][0], settings.get("extend_sweep", 0))
    held = settings["seeds"][1:]
    out = []
    for task in dict.fromkeys(r["task"] for r in rows if r.get("task")):
        read = reading(rows, task)
        walls = [r["wall_s"] for r in rows if r.get("task") == task and r.get("wall_s")]
        ref = {s: r["final"][r["primary"]] * read["scale"]
               for s, r in seed_rows(rows, task, "uniform", chosen_lr(cells, task, "uniform", *sweep), held).items()}
        for method in dict.fromkeys(r["method"] for r in rows if r.get("task") == task and r["method"] != "uniform"):
            got = seed_rows(rows, task, method, chosen_lr(cells, task, method, *sweep), held)
            common = sorted(set(got) & set(ref))
            if len(common) < 2:
                continue
            vals = [got[s]["final"][got[s]["primary"]] * read["scale"] for s in common]
            pairs = summarize_pairs(vals, [ref[s] for s in common], greater_is_better=read["greater"])
            need = seeds_for_power(read["effect"], pairs["std"])
            cell_s = statistics.median(walls) if walls else None
            out.append({"task": task, "method": method, "n": pairs["n"], "mean": pairs["mean"], "sd": pairs["std"],
                        "unit": read["unit"], "effect": read["effect"],
                        "power": paired_power(read["effect"], pairs["std"], pairs["n"]), "seeds_needed": need,
                        "cell_s": cell_s,
                        "powered_cpu_h": need * 2 * cell_s / 3600 if need and cell_s else None})
    return out


def markdown(records: list[dict]) -> str:
    if not records:
        return "No task has two held-out seeds paired yet."
    lines = ["| task | method | held-out seeds | paired difference | paired std | effect | power now | detectable "
             "now at 80 % | seeds for 80 % | median cell | CPU for a powered pair |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        spec = ".2f" if r["unit"] == "points" else ".4f"
        lines.append(f"| {r['task']} | {r['method']} | {r['n']} | {r['mean']:+{spec}} | {r['sd']:{spec}} | "
                     f"{r['effect']:g} {'point' if r['unit'] == 'points' and r['effect'] == 1 else r['unit']} | "
                     f"{r['power']:.2f} | {detectable_effect(r['sd'], r['n']):{spec}} | "
                     f"{r['seeds_needed'] or '> 10,000'} | "
                     + (f"{r['cell_s'] / 60:.0f} min | " if r["cell_s"] else "— | ")
                     + (f"{r['powered_cpu_h']:.0f} h |" if r["powered_cpu_h"] else "— |"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.protocol.pilot", description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", type=Path, help="protocol results files (JSON Lines)")
    args = ap.parse_args(argv)
    for path in args.results:
        rows = read_rows(path)
        if not rows:
            raise SystemExit(f"{path}: no rows")
        settings = rows[-1]["settings"]  # the latest run's: its sweep and seeds hold the earlier ones
        if any(k not in settings for k in ("lr_sweep", "seeds")):
            raise SystemExit(f"{path} is not a protocol results file (its settings have no lr_sweep or seeds)")
        print(f"{path.name} (selection settings {', '.join(k for k in SELECTION if k in settings)})\n")
        print(markdown(pilot(CellFile(path, settings, selection=SELECTION), settings)) + "\n")


if __name__ == "__main__":
    main()
