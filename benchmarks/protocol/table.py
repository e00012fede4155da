"""The protocol's Markdown tables, from the results file alone (``python -m benchmarks.protocol``).

Per task and method: the chosen lr (best final dev metric on the first seed, the sweep seed),
the final dev metric of each held-out seed (the others), their mean ± std, and the paired
difference from tuned uniform over the held-out seeds with its 95 % interval, verdict
(:mod:`rankscope.search.compare`; Student t below 10 seeds) and power at 1 point
(:mod:`rankscope.search.power`). The sweep seed is shown only in the sweep
table: it chose the lr, so its score is optimistic. Fractions to be maximised (accuracy, MCC)
are in points (× 100), a loss (dev NLL) in its own unit (:func:`reading`). An lr at
either end of the sweep is marked †: the best may lie outside it. The last table averages each
method's mean paired difference over the tasks that have every held-out seed, and the defaults
table (:mod:`.defaults`) turns the chosen lrs into one GLUE default per method.
"""

from __future__ import annotations

import statistics

from benchmarks.common.cells import CellFile
from rankscope.display.paired import fmt_interval
from rankscope.search.compare import summarize_pairs, verdict
from rankscope.search.power import power_line

from .defaults import defaults_table, task_label
from .methods import METHODS, SVD_FORM
from .sweep import chosen_lr, method_sweep


def reading(rows, task) -> dict:
    """How a task's metric reads: ``greater`` (its direction), ``scale`` (100 for points),
    ``spec`` (digits), ``unit`` and ``effect`` (the smallest difference worth reporting: 1 point,
    or 0.01 nats of dev NLL)."""
    greater = next((r.get("greater_is_better", True) for r in rows if r.get("task") == task and r.get("final")), True)
    if greater:
        return {"greater": True, "scale": 100.0, "spec": ".1f", "unit": "points", "effect": 1.0, "effect_unit": " point"}
    primary = next((r["primary"] for r in rows if r.get("task") == task and r.get("primary")), "metric")
    return {"greater": False, "scale": 1.0, "spec": ".4f", "unit": primary, "effect": 0.01, "effect_unit": f" {primary}"}


def seed_rows(rows, task, method, lr, seeds) -> dict:
    """{seed: row} of the finished cells of one method at its chosen lr."""
    out = {}
    for r in rows:
        if (r.get("task"), r.get("method"), r.get("lr")) == (task, method, lr) and r.get("final") and r["seed"] in seeds:
            out.setdefault(r["seed"], r)  # the first row of a cell, as CellFile.get reads it
    return out


def sweep_table(rows, task, methods, settings, sweep_of, label_of) -> list[str]:
    """The seed-0 sweep behind the chosen lrs: each method's final dev metric at every swept lr
    (points; "—": not run yet, "failed": the cell ran and failed; blank: not in that method's
    sweep, which grew beyond the grid only where its best lay at an end)."""
    first = settings["seeds"][0]
    own = {m: set(sweep_of(task, m)) for m in methods}
    sweep = sorted(set(settings["lr_sweep"]).union(*own.values()))
    done = {}
    for r in rows:  # the first row of a cell, as CellFile.get and chosen_lr read it
        if r.get("task") == task and r.get("seed") == first:
            done.setdefault((r["method"], r["lr"]), r)
    read = reading(rows, task)
    out = [f"Sweep on seed {first}, which chooses each method's lr (final dev metric, {read['unit']})", "",
           "| method | " + " | ".join(f"lr {lr:g}" for lr in sweep) + " |", "|---|" + "---|" * len(sweep)]
    for m in methods:
        cells = [done.get((m, lr)) for lr in sweep]
        out.append(f"| {label_of(m)} | " + " | ".join(
            "" if lr not in own[m] else "—" if c is None else
            f"{c['final'][c['primary']] * read['scale']:{read['spec']}}" if c.get("final") else "failed"
            for lr, c in zip(sweep, cells)) + " |")
    return out


def render(rows: list, settings: dict, methods: list, chosen_lr, sweep_of=None, defaults: bool = True,
           labels: dict | None = None) -> str:
    """The Markdown tables; ``chosen_lr(task, method)`` and ``sweep_of(task, method)`` (the lrs of
    that method's sweep; default the shared grid) come from :mod:`.sweep`. ``defaults=False``
    leaves out the defaults table: ``--quick``'s 24-step sweeps are a smoke test, not what the
    shipped GLUE defaults come from. ``labels``: method → its name in the tables (default the
    GLUE protocol's, :data:`.methods.METHODS`)."""
    sweep_of = sweep_of or (lambda task, method: sorted(settings["lr_sweep"]))
    names = labels or {m: label for m, (label, _) in METHODS.items()}

    def label_of(m):
        return names[m]
    first, seeds = settings["seeds"][0], settings["seeds"][1:]
    sched = f"{settings['steps']} steps" if settings["steps"] else f"{settings['epochs']:g} epochs"
    svd = f" (SVD-form methods at svd_alpha {settings['svd_alpha']:g})" if settings.get("svd_alpha") else ""
    lines = [f"{settings['model']}, `{settings.get('space', 'lora')}` space, budget {settings['budget']}, {sched} of "
             f"batch {settings['batch_size']}, lr sweep {settings['lr_sweep']} on seed {first} for every method"
             f"{svd}, then held-out seeds {seeds}, which alone "
             f"are compared; dev metric in points (a loss in its own unit); † an lr at an end of the method's sweep (after up to "
             f"{settings.get('extend_sweep', 0)} ×2 extensions beyond the grid).", ""]
    summary = {m: [] for m in methods if m != "uniform"}
    for task in settings["tasks"]:
        if not any(r.get("task") == task for r in rows):
            lines += [f"**{task_label(task)}**: no cells yet.", ""]
            continue
        ref_lr = chosen_lr(task, "uniform")
        read = reading(rows, task)
        scale, spec = read["scale"], read["spec"]
        ref = {s: r["final"][r["primary"]] * scale for s, r in seed_rows(rows, task, "uniform", ref_lr, seeds).items()}
        primary = next((r["primary"] for r in rows if r.get("task") == task and r.get("primary")), "metric")
        lines += [f"**{task_label(task)}** ({primary})", "",
                  "| method | lr | params | " + " | ".join(f"seed {s}" for s in seeds)
                  + " | mean ± std | vs tuned uniform (paired) | 95 % interval |",
                  "|---|---|---|" + "---|" * len(seeds) + "---|---|---|"]
        verdicts = []
        for m in methods:
            lr = chosen_lr(task, m)
            got = seed_rows(rows, task, m, lr, seeds)
            vals = {s: r["final"][r["primary"]] * scale for s, r in got.items()}
            per_seed = [f"{vals[s]:{spec}}" if s in vals else "—" for s in seeds]
            ms = (f"{statistics.mean(vals.values()):{spec}} ± {statistics.stdev(vals.values()):{spec}}" if len(vals) > 1
                  else "—")
            params = sorted({r["params"] for r in got.values()})
            diff, interval = "—", "—"
            common = sorted(set(vals) & set(ref))
            if m != "uniform" and len(common) == len(seeds):
                pairs = summarize_pairs([vals[s] for s in common], [ref[s] for s in common],
                                        greater_is_better=read["greater"])
                diff = f"{pairs['mean']:+{spec}} ± {pairs['std']:{spec}}"
                interval = fmt_interval(pairs) if read["greater"] else fmt_interval(pairs, ".4f")
                if read["greater"]:  # the mean over tasks is in points
                    summary[m].append(pairs["mean"])
                verdicts.append(f"- {task}: " + verdict(label_of(m), "tuned uniform", pairs, read["greater"]) + "; "
                                + power_line(read["effect"], pairs["std"], pairs["n"], read["effect_unit"]))
            alpha = f" (α {settings['svd_alpha']:g})" if m in SVD_FORM and settings.get("svd_alpha") else ""
            own = sorted(sweep_of(task, m))
            edge = "†" if lr is not None and len(own) > 1 and lr in (own[0], own[-1]) else ""
            lines.append(f"| {label_of(m)} | {lr if lr is not None else '—'}{edge}{alpha} | "
                         f"{'–'.join(f'{p:,}' for p in sorted({params[0], params[-1]})) if params else '—'} | "
                         + " | ".join(per_seed) + f" | {ms} | {diff} | {interval} |")
        verdict_lines = [*verdicts, ""] if verdicts else []
        lines += ["", *verdict_lines, *sweep_table(rows, task, methods, settings, sweep_of, label_of), ""]
    in_points = [t for t in settings["tasks"] if reading(rows, t)["greater"]]
    if in_points:
        lines += ["**Mean over tasks** of the paired difference from tuned uniform (points; tasks with every "
                  "held-out seed finished)", "", "| method | tasks | mean difference |", "|---|---|---|"]
    for m, diffs in summary.items() if in_points else ():
        lines.append(f"| {label_of(m)} | {len(diffs)} of {len(in_points)} | "
                     f"{statistics.mean(diffs):+.2f} |" if diffs else f"| {label_of(m)} | 0 | — |")
    defaults = defaults_table(settings["tasks"], methods, chosen_lr) if defaults else []
    return "\n".join(lines + ([""] + defaults[:-1] if defaults else []))


def tables(cells: CellFile, settings: dict, methods: list, defaults: bool = True, labels: dict | None = None) -> str:
    """:func:`render` for a results file under the protocol's sweep rule (:mod:`.sweep`): what
    ``--table-only`` prints and the documentation's results page holds."""
    sweep_args = (settings["lr_sweep"], settings["seeds"][0], settings.get("extend_sweep", 0))
    return render(cells.rows, settings, methods, chosen_lr=lambda t, m: chosen_lr(cells, t, m, *sweep_args),
                  sweep_of=lambda t, m: method_sweep(cells, t, m, *sweep_args)[0], defaults=defaults, labels=labels)
