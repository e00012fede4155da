"""The rank × lr tables of :mod:`benchmarks.rank_lr`, from its results file alone.

Per task and rule: each rank's best lr (the final dev metric in the objective's own direction:
per seed on that seed's grid, then on the mean over seeds), the spread of the best lrs across ranks (largest / smallest; 1 = every rank
wants the same lr), and how far each rank's weights moved at each lr, as a ratio to rank 1's
(mean ‖ΔW‖_F of the module edges; 1 = the same speed).
"""

from __future__ import annotations

import statistics

#: the rank at which every scaling rule gives the same factor (α/r = α/√r = α at r = 1)
SHARED_RANK = 1


def _mean(values):
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def rows_of(rows: list[dict], task: str, rule: str) -> list[dict]:
    """The rows of one task and rule. At rank 1 every rule is the same training (α/1 = α/√1), so
    a rank-1 cell run under ``lora`` serves every rule that has no rank-1 cell of its own at that
    lr and seed (:data:`benchmarks.rank_lr.cli.SHARED_RANK` skips running them twice)."""
    own = [r for r in rows if r["task"] == task and r["rule"] == rule]
    have = {(r["lr"], r["seed"]) for r in own if r["rank"] == SHARED_RANK}
    shared = [r for r in rows if r["task"] == task and r["rule"] == "lora" and r["rank"] == SHARED_RANK
              and (r["lr"], r["seed"]) not in have]
    return own + shared if rule != "lora" else own


def grid(rows: list[dict], task: str, rule: str) -> dict:
    """``{(rank, lr): {"metric": mean, "seeds": n, "delta": mean ‖ΔW‖ of module edges}}``."""
    out: dict = {}
    for r in rows_of(rows, task, rule):
        cell = out.setdefault((r["rank"], r["lr"]), {"metric": [], "delta": []})
        cell["metric"].append((r.get("final") or {}).get(r["primary"]))
        cell["delta"].append((r.get("delta_w") or {}).get("lora"))
    return {k: {"metric": _mean(v["metric"]), "seeds": len(v["metric"]), "delta": _mean(v["delta"])}
            for k, v in out.items()}


def best_lrs(cells: dict, higher_is_better: bool = True) -> dict:
    """``{rank: (best lr, its metric, at the grid's edge)}``: a diverged lr (no metric) never wins."""
    best = {}
    for rank in sorted({k[0] for k in cells}):
        lrs = sorted(lr for (r, lr) in cells if r == rank)
        scored = [(cells[(rank, lr)]["metric"], lr) for lr in lrs if cells[(rank, lr)]["metric"] is not None]
        if scored:
            metric, lr = (max if higher_is_better else min)(scored)
            best[rank] = (lr, metric, lr in (lrs[0], lrs[-1]))
    return best


def markdown(rows: list[dict]) -> str:
    """The tables, one section per task."""
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        primary = next(r["primary"] for r in rows if r["task"] == task)
        out.append(f"### {task} (dev {primary}, mean over seeds)\n")
        summary = ["| rule | " + " | ".join(f"rank {k} best lr" for k in _ranks(rows, task))
                   + " | spread of best lr | ΔW rank max / rank 1 (median over lrs) |",
                   "|---|" + "---|" * (len(_ranks(rows, task)) + 2)]
        seeds = sorted({r["seed"] for r in rows if r["task"] == task})
        for rule in dict.fromkeys(r["rule"] for r in rows if r["task"] == task):
            # each seed on its own grid (a later seed may run only a window around the first's
            # picks), then the mean over seeds of every (rank, lr) cell
            parts = [(f"{rule}, seed {s}", [r for r in rows if r["seed"] == s]) for s in seeds] if len(seeds) > 1 else []
            for label, subset in parts + [(rule + (", mean" if parts else ""), rows)]:
                cells = grid(subset, task, rule)
                best = best_lrs(cells)
                shown = [f"{best[k][0]:g}{' (edge)' if best[k][2] else ''}" if k in best else "—"
                         for k in _ranks(rows, task)]
                lrs_best = [b[0] for b in best.values()]
                spread = f"{max(lrs_best) / min(lrs_best):.1f}×" if lrs_best else "—"
                summary.append(f"| {label} | " + " | ".join(shown) + f" | {spread} | {_delta_ratio(cells)} |")
        out += summary + [""]
        for rule in dict.fromkeys(r["rule"] for r in rows if r["task"] == task):
            out.append(_full_table(grid(rows, task, rule), rule))
    return "\n".join(out)


def _ranks(rows, task):
    return sorted({r["rank"] for r in rows if r["task"] == task})


def _delta_ratio(cells: dict) -> str:
    ranks = sorted({k[0] for k in cells})
    if len(ranks) < 2:
        return "—"
    low, high = ranks[0], ranks[-1]
    ratios = [cells[(high, lr)]["delta"] / cells[(low, lr)]["delta"] for (r, lr) in cells
              if r == low and (high, lr) in cells and cells[(high, lr)]["delta"] and cells[(low, lr)]["delta"]]
    return f"{statistics.median(ratios):.2f} (rank {high} / rank {low})" if ratios else "—"


def _full_table(cells: dict, rule: str) -> str:
    ranks = sorted({k[0] for k in cells})
    lrs = sorted({k[1] for k in cells})
    head = [f"**{rule}**: dev metric (‖ΔW‖ of module edges, ×1e-2)\n",
            "| lr | " + " | ".join(f"rank {k}" for k in ranks) + " |", "|---|" + "---|" * len(ranks)]
    body = []
    for lr in lrs:
        row = []
        for k in ranks:
            c = cells.get((k, lr))
            if c is None:
                row.append("")
            elif c["metric"] is None:
                row.append("diverged")
            else:
                row.append(f"{c['metric']:.4f} ({100 * c['delta']:.2f})" if c["delta"] is not None else f"{c['metric']:.4f}")
        body.append(f"| {lr:g} | " + " | ".join(row) + " |")
    return "\n".join(head + body) + "\n"
