"""Rows for the benchmark scripts (``benchmarks/``): every allocator trains through the one
harness (:func:`rankscope.search.allocate_and_train`), and planted rows are scored between the
uniform floor and the oracle ceiling of the same run."""

from __future__ import annotations

import statistics

from .allocators import ALLOCATORS
from .planted import planted_metrics
from .search import Search, allocate_and_train
from .search_config import SearchConfig


def train_row(search: Search, label: str, name: str, options: dict) -> dict:
    """Train allocator ``name`` with ``options`` on ``search``; one result row (with the allocation)."""
    allocator = ALLOCATORS.get(name)(**options)
    trained, allocate_s = allocate_and_train(search, allocator, label)
    rec = allocator.describe()
    out = trained.outcome
    return {"method": label, "allocator": name, "options": options, "params": trained.allocation.params,
            "final": out.final if out else None, "best": out.best if out else None,
            "failure": trained.failure, "allocate_s": allocate_s, "train_s": out.train_s if out else None,
            "step_s": out.step_s if out else None,
            "scoring_s": rec.get("scoring_s"), "salience_s": rec.get("salience_s"), "allocation": trained.allocation,
            "spearman_proxy_vs_rank": rec.get("rank_spearman_proxy_vs_alloc"), "record": rec}


def planted_rows(methods, seeds, steps: int, log=print, **cfg) -> list[dict]:
    """``methods`` = [(label, allocator, options)] on the planted task, per seed: r2, gap_closed
    (0 = uniform, 1 = the oracle planted allocation), planted_recall, rank_spearman."""
    rows = []
    for seed in seeds:
        search = Search(SearchConfig(**{"space": "shortcuts", **cfg}, seed=seed, max_steps=steps).resolved(),
                        progress=False)
        planted = search.planted.planted
        r2 = lambda t: t.outcome.final["r2"] if t.failure is None else float("nan")  # noqa: E731
        uni, oracle = search.train(search.uniform(), "lora", desc="uniform"), search.train(planted, "lora", desc="oracle")
        log(f"planted seed {seed}: uniform r2 {r2(uni):.4f}  oracle r2 {r2(oracle):.4f}")
        for label, name, options in methods:
            row = train_row(search, label, name, options)
            row.pop("record")
            pm = planted_metrics(row.pop("allocation"), planted, row["final"]["r2"], r2(uni), r2(oracle))
            row.update({k: pm[k] for k in ("r2", "r2_uniform", "r2_oracle", "gap_closed", "planted_recall",
                                           "rank_spearman")}, seed=seed)
            rows.append(row)
            log(f"  {label:30s} r2 {row['r2']:.4f}  gap_closed {fmt(row['gap_closed'])}  "
                f"recall {row['planted_recall']:.3f}  rank_spearman {fmt(row['rank_spearman'])}")
    return rows


def glue_rows(methods, tasks, spaces, seeds, log=print, **cfg) -> list[dict]:
    """``methods`` at the same budget on GLUE tasks: final and best dev metric per seed."""
    rows = []
    for task in tasks:
        for space in spaces:
            for seed in seeds:
                search = Search(SearchConfig(task=task, space=space, seed=seed, **cfg).resolved(), progress=False)
                for label, name, options in methods:
                    row = train_row(search, label, name, options)
                    row.pop("allocation"), row.pop("record")
                    row.update(task=task, space=space, seed=seed, primary=search.task.objective.primary,
                               steps=search.harness.total_steps())
                    rows.append(row)
                    p = row["primary"]
                    log(f"{task} {space} seed {seed} {label:20s} {p} {row['final'][p]:.4f} "
                        f"(best {row['best'][p]:.4f})  params {row['params']:,}  train {row['train_s']:.1f} s"
                        + (f"  scoring {row['scoring_s']:.1f} s" if row["scoring_s"] is not None else ""))
    return rows


def fmt(x, spec=".3f"):
    return "—" if x is None else format(x, spec)


def mean_std(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "—"
    return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f}" if len(xs) > 1 else f"{xs[0]:.4f}"
