"""How few scoring batches K can ``proxy-static`` use on the decoder before its allocation changes?

Static scoring costs about one training step per scoring batch, so a run of S steps pays K/S of
its training to allocate (plus the supernet's attach): the decoder pilot's 40-step runs spent
19–27 % at the default K = 8. This benchmark plans the pilot's allocation (``rankscope plan``'s
path, :func:`rankscope.search.planning.make_plan`, nothing trained) at several K on the pilot's
seeds and compares each with K = 8's:

* cost: planning time over the training time of the pilot's ``proxy-static`` cell of the same
  seed (``benchmarks/results/pilot-gsm8k.jsonl``, training without evaluation; both ran two
  cells side by side on the same machine);
* agreement: Spearman's ρ between the per-edge ranks at K and at K = 8, and the share of rank
  that moved (½ Σ |r_K − r_8| / Σ r_8; 0 = the same allocation, which trains to the same result).

SmolLM2 on GSM8K at the pilot's settings (budget r2, batch 4, length 256, α/√r)::

    python -m benchmarks.proxies.k_scaling --jobs 2
    python -m benchmarks.proxies.k_scaling --table-only
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.common.cells import CellFile, add_cell_arguments, read_rows, run_if_child

RESULTS = Path(__file__).resolve().parents[1] / "results" / "proxy-k-scaling.jsonl"
PILOT = RESULTS.with_name("pilot-gsm8k.jsonl")
KS = [1, 2, 3, 4, 8]
SEEDS = [0, 1, 2, 3, 4, 5, 6]
#: the decoder pilot's settings (benchmarks/results/pilot-gsm8k.jsonl)
SETTINGS = {"model": "smollm2", "budget": "r2", "steps": 40, "batch_size": 4, "max_len": 256,
            "max_train_samples": None, "max_dev_samples": 64, "exact_match": 0, "max_new_tokens": 256,
            "device": "cpu", "scaling": "rslora"}


def run_cell(cell: dict, settings: dict) -> dict:
    from benchmarks.causal.methods import config, ranks_by_type
    from rankscope.search.planning import make_plan

    cfg = config(settings, cell["seed"], None, "proxy-static", {"n_batches": cell["n_batches"]})
    record, _, allocation = make_plan(cfg, progress=False)
    described = record["extras"]["allocator"]
    return {**cell, "allocate_s": record["timing"]["allocate_s"], "scoring_s": described.get("scoring_s"),
            "params": allocation.params, "edge_ranks": dict(allocation.ranks), "ranks": ranks_by_type(allocation)}


def pilot_train_s(path: Path = PILOT) -> dict:
    """{seed: seconds of training without evaluation} of the pilot's proxy-static cells at its
    tuned lr (the held-out seeds; seed 0 at that lr too)."""
    from benchmarks.protocol.sweep import SELECTION, chosen_lr

    rows = read_rows(path)
    if not rows:
        return {}
    settings = rows[-1]["settings"]
    cells = CellFile(path, settings, selection=SELECTION)
    lr = chosen_lr(cells, "gsm8k", "proxy-static", settings["lr_sweep"], settings["seeds"][0],
                   settings.get("extend_sweep", 0))
    return {r["seed"]: r["step_s"] * r["steps"] for r in rows
            if r["method"] == "proxy-static" and r["lr"] == lr and r.get("step_s")}


def agreement(ranks: dict, reference: dict) -> tuple[float | None, float]:
    """(Spearman's ρ of per-edge ranks, the share of rank moved: ½ Σ|r − r_ref| / Σ r_ref)."""
    from scipy.stats import spearmanr

    ids = sorted(reference)
    a, b = [ranks.get(i, 0) for i in ids], [reference[i] for i in ids]
    rho = spearmanr(a, b).statistic if len(set(a)) > 1 and len(set(b)) > 1 else None
    return (None if rho is None else float(rho)), 0.5 * sum(abs(x - y) for x, y in zip(a, b)) / max(1, sum(b))


def table(rows: list[dict], train_s: dict) -> str:
    ref = {r["seed"]: r["edge_ranks"] for r in rows if r["n_batches"] == max(KS)}
    out = ["| K | seeds | planning (s), median | planning / training, median | ρ with K = 8, mean | "
           "rank moved, mean | mean rank: q · k · v · o · gate · up · down |", "|---|---|---|---|---|---|---|"]
    for k in sorted({r["n_batches"] for r in rows}):
        got = [r for r in rows if r["n_batches"] == k]
        ratios = [r["allocate_s"] / train_s[r["seed"]] for r in got if r["seed"] in train_s]
        agree = [agreement(r["edge_ranks"], ref[r["seed"]]) for r in got if r["seed"] in ref]
        rhos = [a for a, _ in agree if a is not None]
        types = {t: statistics.fmean(r["ranks"][t] for r in got) for t in got[0]["ranks"]}
        out.append(f"| {k} | {len(got)} | {statistics.median(r['allocate_s'] for r in got):.0f} | "
                   + (f"{statistics.median(ratios):.1%}" if ratios else "—") + " | "
                   + (f"{statistics.fmean(rhos):.2f}" if rhos else "—") + " | "
                   + (f"{statistics.fmean(m for _, m in agree):.1%}" if agree else "—") + " | "
                   + " · ".join(f"{v:.1f}" for v in types.values()) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.proxies.k_scaling", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ks", default=",".join(map(str, KS)), help="comma-separated K; default 1,2,3,4,8")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="comma-separated; default 0-6")
    add_cell_arguments(ap, timeout=3600.0, results=RESULTS)
    args = ap.parse_args(argv)
    if run_if_child(args, run_cell):
        return
    if args.table_only:
        print(table(read_rows(args.results), pilot_train_s()))
        return
    cells = CellFile(args.results, SETTINGS, timeout=args.cell_timeout, allow_dirty=args.allow_dirty)
    todo = [{"seed": int(s), "n_batches": int(k)} for s in args.seeds.split(",") for k in args.ks.split(",")]
    cells.run_as_ready("benchmarks.proxies.k_scaling", lambda: [c for c in todo if cells.get(**c) is None],
                       jobs=args.jobs)
    print(table(cells.rows, pilot_train_s()))


if __name__ == "__main__":
    main()
