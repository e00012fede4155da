"""The SVD form's fixed α/r₀ under pruning, measured: does a triplet learn at the same speed
whatever rank its edge is pruned to?

SalientLoRA and AdaLoRA train every edge in the SVD form, ΔW = (α/r₀)·P·diag(λ)·Q, and prune
triplets (P_i, λ_i, Q_i) as they go. The factor uses the *initial* rank r₀ and never changes, so
under Adam a surviving triplet's λ_i moves about lr per step whether its edge keeps r₀ triplets or
one. This measures it: MiniLM on the SST-2 subset of :mod:`benchmarks.rank_lr` (``lora`` space,
SVD form at r₀ = 8, ``svd_alpha`` 256 and lr 2e-3 as on GLUE), with every other module edge
pruned to its first triplet before the first step, then trained 100 steps. Per triplet,
‖ΔW_i‖_F = |α/r₀ · λ_i| · ‖P_i‖ · ‖Q_i‖; the row records the median over the pruned edges'
surviving triplets and over the full edges' triplets, and their ratio (1 = the same speed). A
rule that rescaled by the live rank (α/r_live) would multiply the pruned edges' factor by r₀::

    python -m benchmarks.rank_lr.svd_form            # seeds 0 and 1, appended to the results file
    python -m benchmarks.rank_lr.svd_form --table-only
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.common.cells import CellFile, add_cell_arguments, read_rows, run_if_child
from rankscope.harness.hooks import StepHook

RESULTS = Path(__file__).resolve().parents[1] / "results" / "svd-form-pruning.jsonl"
SETTINGS = {"model": "minilm", "task": "sst2", "space": "lora", "max_train_samples": 8000, "max_len": 64,
            "max_steps": 100, "init_rank": 8, "svd_alpha": 256.0, "lr": 2e-3, "threads": 1}
SEEDS = [0, 1]


class PruneHalfAndMeasure(StepHook):
    """Before the first step: every other edge (in the space's order) keeps only its first
    triplet. At the end: ‖ΔW_i‖_F of every live triplet, grouped by pruned / full edge."""

    def __init__(self):
        self.pruned: set[str] = set()
        self.movement: dict[str, list[float]] = {"pruned": [], "full": []}

    def on_train_begin(self, state):
        import torch

        for i, (eid, adapter) in enumerate(sorted(state.handle.adapters.items())):
            if i % 2:
                with torch.no_grad():
                    adapter.mask.zero_()
                    adapter.mask[0] = 1.0
                self.pruned.add(eid)

    def on_train_end(self, state):
        import torch

        with torch.no_grad():
            for eid, adapter in state.handle.adapters.items():
                size = (adapter.scale * adapter.lam).abs() * adapter.P.norm(dim=0) * adapter.Q.norm(dim=1)
                live = size[adapter.mask != 0]
                self.movement["pruned" if eid in self.pruned else "full"] += [float(v) for v in live]


def run_cell(cell: dict, settings: dict) -> dict:
    import torch

    from rankscope.allocation.allocation import Allocation
    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session
    from rankscope.search.validate import validate

    torch.set_num_threads(settings["threads"])
    keys = ("model", "task", "space", "max_train_samples", "max_len", "max_steps", "svd_alpha", "lr")
    cfg = SearchConfig(**{k: settings[k] for k in keys}, seed=cell["seed"], eval_every=settings["max_steps"],
                       budget=f"r{settings['init_rank']}").resolved()
    validate(cfg)
    session = Session(cfg, progress=False)
    hook = PruneHalfAndMeasure()
    outcome = session.train(Allocation.uniform(session.space, settings["init_rank"], form="svd"), hook, evaluate=True)
    pruned, full = (statistics.median(hook.movement[k]) for k in ("pruned", "full"))
    return {**cell, "primary": session.objective.primary, "final": outcome.final, "pruned_edges": len(hook.pruned),
            "triplet_delta_w": {"pruned": pruned, "full": full}, "ratio": pruned / full}


def markdown(rows: list[dict]) -> str:
    """One line per seed and the mean ratio."""
    if not rows:
        return "No cell has finished yet."
    out = ["| seed | pruned edges | median ‖ΔW_i‖, pruned edges (1 triplet) | median ‖ΔW_i‖, full edges (8 triplets) "
           "| ratio |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["seed"]):
        d = r["triplet_delta_w"]
        out.append(f"| {r['seed']} | {r['pruned_edges']} | {d['pruned']:.4f} | {d['full']:.4f} | {r['ratio']:.2f} |")
    mean = statistics.fmean(r["ratio"] for r in rows)
    return "\n".join(out) + f"\n\nMean ratio {mean:.2f} over {len(rows)} seed(s); a live-rank factor would give ×8."


def main(argv: list[str] | None = None) -> None:
    import os

    ap = argparse.ArgumentParser(prog="python -m benchmarks.rank_lr.svd_form", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=RESULTS, help="the results file (JSON Lines)")
    ap.add_argument("--table-only", action="store_true", help="print the table from the results file; train nothing")
    add_cell_arguments(ap, timeout=3600.0)
    args = ap.parse_args(argv)
    os.environ.setdefault("RANKSCOPE_GLUE_DIR", str(RESULTS.parents[2].parent / "shared" / "data" / "glue"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if run_if_child(args, run_cell):
        return
    if not args.table_only:
        cells = CellFile(args.results, SETTINGS, timeout=args.cell_timeout, allow_dirty=args.allow_dirty)
        for seed in SEEDS:
            cells.run(Path(__file__), seed=seed)
    print(markdown(read_rows(args.results)))


if __name__ == "__main__":
    main()
