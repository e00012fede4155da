"""The tables of ``python -m benchmarks.planted.diagnosis``, from its results file alone."""

from __future__ import annotations

from scipy.stats import spearmanr

from rankscope.allocators.proxy.select import edge_total

MIN_EDGES = 10  # fewer edges trained alone than this: the seed is reported as incomplete


def render(rows: list) -> str:
    """The three tables as Markdown (each with a ``###`` heading)."""
    out: list[str] = []
    emit = out.append
    alone = [r for r in rows if r.get("part") == "alone"]
    seeds = sorted({r["seed"] for r in alone})
    if alone:
        emit("\n### Each edge trained alone (dev r2)\n")
        emit("| seed | edges trained | plants: r2 (position) | best unplanted edges: r2 | unplanted ≥ weakest plant |")
        emit("|---|---|---|---|---|")
    for seed in seeds:
        rs = sorted((r for r in alone if r["seed"] == seed), key=lambda r: -r["r2"])
        if len(rs) < MIN_EDGES:
            emit(f"| {seed} | {len(rs)} (incomplete) | — | — | — |")
            continue
        plants = [(i + 1, r) for i, r in enumerate(rs) if r["planted"]]
        weakest = min(r["r2"] for _, r in plants) if plants else float("nan")
        others = [r for r in rs if not r["planted"]]
        emit(f"| {seed} | {len(rs)} | " + ", ".join(f"{r['edge']} {r['r2']:.3f} ({i})" for i, r in plants) + " | "
              + ", ".join(f"{r['edge']} {r['r2']:.3f}" for r in others[:5]) + " | "
              + f"{sum(r['r2'] >= weakest for r in others)} |")
    scores = list({r["seed"]: r for r in rows if r.get("part") == "scores"}.values())  # the last per seed
    if scores and alone:
        emit("\n### Proxy scores against the edge-alone r2 (Spearman ρ over edges; plant positions)\n")
        emit("| seed | proxy | ρ (score, alone r2) over the edges trained alone | plant positions by score (of all edges) |")
        emit("|---|---|---|---|")
    for s in scores:
        by_edge = {r["edge"]: r["r2"] for r in alone if r["seed"] == s["seed"]}
        plants = {r["edge"] for r in alone if r["seed"] == s["seed"] and r["planted"]}
        if len(by_edge) < MIN_EDGES:  # a partial seed (cells still to run): no correlation yet
            continue
        for proxy, sc in s["scores"].items():
            tot = {i: edge_total(v) for i, v in sc.items()}
            order = sorted(tot, key=lambda i: -tot[i])
            ids = [i for i in sc if i in by_edge]  # the edges trained alone
            rho = spearmanr([tot[i] for i in ids], [by_edge[i] for i in ids]).statistic
            emit(f"| {s['seed']} | {proxy} | {rho:+.2f} | "
                  + ", ".join(f"{i} {order.index(i) + 1}" for i in sorted(plants)) + " |")
    lam = [r for r in rows if r.get("part") == "lambda"]
    if lam:
        emit("\n### λ trajectories: mean abs λ of the live ranks, planted vs unplanted edges\n")
        emit("| seed | method | gap_closed | recall | mean abs λ, planted / unplanted, at 25 %, 50 %, 100 % of steps "
              "| kept ranks on the plants |")
        emit("|---|---|---|---|---|---|")
    for r in lam:
        tr = r["trace"]
        pick = [tr[min(len(tr) - 1, int(len(tr) * f))] for f in (0.25, 0.5, 1.0)] if tr else []
        emit(f"| {r['seed']} | {r['method']} | {r['gap_closed']:.3f} | {r['planted_recall']:.3f} | "
              + ", ".join(f"{p['planted']:.4f} / {p['unplanted']:.4f}" for p in pick) + " | "
              + ", ".join(f"{k} {v}" for k, v in r["kept_on_plants"].items()) + " |")
    return "\n".join(out).strip("\n")


def print_tables(rows: list) -> None:
    print("\n" + render(rows))
