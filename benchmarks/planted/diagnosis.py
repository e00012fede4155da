"""Why allocators miss the planted edges: three measurements on the frozen default task.

MiniLM, ``shortcuts``, the planted task's defaults (3 plants of rank 32, the planted budget)::

    alone    every edge trained ALONE at rank k (default 32, the plants' rank) for S steps:
             the dev r2 it reaches. Ranks the edges by what each can achieve on its own, and
             shows redundancy: the unplanted edges that reach a plant's r2 can absorb its effect
    scores   each proxy's per-edge score (one scoring pass at the supernet's initialisation,
             the proxy-static protocol) against the edge-alone r2: Spearman ρ over the edges,
             and where the three plants land in each ranking
    lambda   the λ trajectories of salient and adalora: mean |λ| of the planted and of the
             unplanted edges' ranks at every evaluation, and the kept ranks at the end

Every (seed, part, edge or method) is a resumable cell in ``--results`` (default
``benchmarks/results/planted-diagnosis.jsonl``); parts run in this process, one session per seed::

    python -m benchmarks.planted.diagnosis --seeds 0,1,2 --parts alone,scores,lambda
    python -m benchmarks.planted.diagnosis --table-only
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchmarks.common.cells import CellFile
from rankscope.allocators.proxy.select import edge_total

from .diagnosis_table import print_tables

RESULTS = Path(__file__).resolve().parents[1] / "results" / "planted-diagnosis.jsonl"
#: the settings of the committed results file (the command-line defaults)
SETTINGS = {"steps": 200, "alone_steps": 30, "alone_rank": 32, "alone_top": 8}

PROXIES = ["spectral", "whitened", "grad_norm"]


def session_for(seed: int, settings: dict):
    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session

    return Session(SearchConfig(space="shortcuts", seed=seed, max_steps=settings["steps"]).resolved(), progress=False)


def planted_of(session) -> dict:
    return {i: r for i, r in session.planted.planted.ranks.items() if r > 0}


def candidates(cells: CellFile, session, seed: int, top: int) -> list:
    """The plants and each proxy's ``top`` edges (``top`` = 0: every edge), in space order: an
    edge-alone training costs 30 steps, and 59 of them an hour per seed on 2 cores."""
    plants = planted_of(session)
    scores = (cells.get(part="scores", seed=seed) or {}).get("scores")
    if not top or not scores:
        return list(session.space.edges)
    keep = set(plants)
    for sc in scores.values():
        keep |= set(sorted(sc, key=lambda i: -edge_total(sc[i]))[:top])
    return [e for e in session.space.edges if e.id in keep]


def alone_part(cells: CellFile, session, seed: int, settings: dict) -> None:
    from rankscope.allocation.allocation import Allocation

    k, steps = settings["alone_rank"], settings["alone_steps"]
    plants = planted_of(session)
    for e in candidates(cells, session, seed, settings["alone_top"]):
        if cells.get(part="alone", seed=seed, edge=e.id):
            continue
        t0 = time.perf_counter()
        out = session.train(Allocation(session.space, {e.id: min(k, e.max_rank)}), steps=steps, eval_every=steps,
                            progress=False)
        row = cells.add({"part": "alone", "seed": seed, "edge": e.id, "type": e.type, "planted": e.id in plants,
                         "r2": out.final["r2"], "seconds": time.perf_counter() - t0})
        print(f"  seed {seed} alone {e.id:12s} r2 {row['r2']:.4f}{'  (planted)' if row['planted'] else ''}",
              flush=True)


def scores_part(cells: CellFile, session, seed: int) -> None:
    """Every proxy in one pass over the proxy-static scoring batches, at rank_on, before training."""
    from rankscope.adapters.attach import attach
    from rankscope.allocators.proxy.select import default_rank_on, supernet
    from rankscope.scoring import get_proxy, score_edges

    if cells.get(part="scores", seed=seed):
        return
    rank_on = default_rank_on(session.space, session.budget)
    handle = attach(session.model, session.space, supernet(session.space, rank_on), seed=seed,
                    **session.cfg.attach_options("lora"))
    try:
        res = score_edges(session.model, handle, session.objective, session.scoring_batches(8, seed=seed),
                          [get_proxy(p) for p in PROXIES], seed=seed)
    finally:
        handle.detach()
    cells.add({"part": "scores", "seed": seed, "rank_on": rank_on, "scores": res.scores, "seconds": res.seconds})


class LambdaTrace:
    """A step hook around an in-training allocator's own: after each of its steps, the mean |λ|
    of the planted and the unplanted edges' live ranks (every ``every`` steps)."""

    def __init__(self, inner, plants: set, every: int):
        self.inner, self.plants, self.every, self.trace = inner, plants, every, []

    def __getattr__(self, name):  # the harness asks the allocator's hook for anything else
        return getattr(self.inner, name)

    def on_train_begin(self, state):
        self.inner.on_train_begin(state)

    def on_step_end(self, step, state):
        self.inner.on_step_end(step, state)
        if step % self.every == 0 or step == state.total_steps:
            groups = {True: [], False: []}
            for eid, a in state.handle.adapters.items():
                lam = (a.lam.detach() * a.mask).abs()
                groups[eid in self.plants] += lam[a.mask > 0].tolist()
            self.trace.append({"step": step, **{("planted" if g else "unplanted"): statistics.mean(v) if v else 0.0
                                                for g, v in groups.items()}})

    def on_train_end(self, state):
        self.inner.on_train_end(state)

    def describe(self):
        return self.inner.describe()


def lambda_part(cells: CellFile, session, seed: int, settings: dict) -> None:
    from rankscope.search.config import SearchConfig
    from rankscope.search.validate import build_allocator
    from rankscope.tasks.planted import planted_metrics

    plants = planted_of(session)
    for method in ("salient", "adalora"):
        if cells.get(part="lambda", seed=seed, method=method):
            continue
        allocator = build_allocator(SearchConfig(allocator=method))
        plan = allocator.propose(session.context())
        hook = LambdaTrace(plan.hook, set(plants), every=max(1, settings["steps"] // 20))
        out = session.train(plan.allocation, hook, progress=False)
        uni = session.baseline(session.uniform(), "uniform").final["r2"]
        ora = session.baseline(session.planted.planted, "oracle").final["r2"]
        pm = planted_metrics(out.allocation, session.planted.planted, out.final["r2"], uni, ora)
        kept = {i: r for i, r in out.allocation.ranks.items() if r}
        cells.add({"part": "lambda", "seed": seed, "method": method, "trace": hook.trace, "kept": kept,
                   "kept_on_plants": {i: kept.get(i, 0) for i in plants},
                   **{k: pm[k] for k in ("r2", "gap_closed", "planted_recall")}})
        print(f"  seed {seed} {method}: gap_closed {pm['gap_closed']:.3f}, kept on plants "
              f"{ {i: kept.get(i, 0) for i in plants} }", flush=True)


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.planted.diagnosis", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--parts", default="alone,scores,lambda")
    ap.add_argument("--steps", type=int, default=SETTINGS["steps"], help="the planted schedule (the task's default)")
    ap.add_argument("--alone-steps", type=int, default=SETTINGS["alone_steps"], help="steps of each edge-alone training")
    ap.add_argument("--alone-rank", type=int, default=SETTINGS["alone_rank"])
    ap.add_argument("--alone-top", type=int, default=SETTINGS["alone_top"], help="train alone the plants and each "
                                                                                "proxy's top N edges (0: every edge)")
    ap.add_argument("--results", default=str(RESULTS))
    ap.add_argument("--table-only", action="store_true", help="print the tables from --results; run nothing")
    ap.add_argument("--allow-dirty", action="store_true",
                    help="run from uncommitted code (rows say +dirty); by default a dirty tree is refused")
    args = ap.parse_args(argv)
    settings = {"steps": args.steps, "alone_steps": args.alone_steps, "alone_rank": args.alone_rank,
                "alone_top": args.alone_top}
    cells = CellFile(Path(args.results), settings, allow_dirty=args.allow_dirty)
    parts = args.parts.split(",")
    if not args.table_only:
        cells.refuse_a_dirty_tree()
        for seed in [int(s) for s in args.seeds.split(",")]:
            session = session_for(seed, settings)
            if "scores" in parts:
                scores_part(cells, session, seed)
            if "alone" in parts:
                alone_part(cells, session, seed, settings)
            if "lambda" in parts:
                lambda_part(cells, session, seed, settings)
    print_tables(cells.rows)


if __name__ == "__main__":
    main()
