"""The generated parts of the results pages: each a function of the results folder alone.

A template (``templates/NAME.md``) marks where a generated part goes with a line
``<!-- generated: KEY -->``; :data:`PARTS` maps each key to the function that writes it. Every
function reads only committed results files (``benchmarks/results/``) and trains nothing.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks.common.cells import CellFile, provenance_summary, read_rows


def protocol_cells(results: Path, quick: bool) -> tuple[CellFile, dict, list]:
    from benchmarks.protocol.methods import default_methods
    from benchmarks.protocol.sweep import SELECTION, default_settings

    settings = default_settings(quick, scaling="lora")  # the first protocol: α/r
    name = "protocol-quick.jsonl" if quick else "protocol.jsonl"
    cells = CellFile(results / name, settings, selection=SELECTION)
    return cells, settings, default_methods(cells.rows)


def protocol_full(results: Path) -> str:
    """The full protocol's tables (``python -m benchmarks.protocol --table-only``)."""
    from benchmarks.protocol.table import tables

    cells, settings, methods = protocol_cells(results, quick=False)
    return tables(cells, settings, methods, defaults=True)


def protocol_quick(results: Path) -> str:
    """The quick protocol's tables (``python -m benchmarks.protocol --quick --table-only``)."""
    from benchmarks.protocol.table import tables

    cells, settings, methods = protocol_cells(results, quick=True)
    return tables(cells, settings, methods, defaults=False)


def protocol_pilot(results: Path) -> str:
    """The first protocol's noise, read as a pilot (``python -m benchmarks.protocol.pilot``)."""
    from benchmarks.protocol.pilot import markdown, pilot

    cells, settings, _ = protocol_cells(results, quick=False)
    return markdown(pilot(cells, settings))


def protocol_rslora(results: Path) -> str:
    """The sweeps under α/√r that the GLUE defaults come from: each task's seed-0 sweep and the
    defaults table (``python -m benchmarks.protocol --methods uniform --seeds 0``)."""
    from benchmarks.protocol.defaults import defaults_table, task_label
    from benchmarks.protocol.methods import METHODS
    from benchmarks.protocol.sweep import SELECTION, chosen_lr, default_settings, method_sweep
    from benchmarks.protocol.table import reading, sweep_table

    settings = default_settings(scaling="rslora")
    cells = CellFile(results / "protocol-rslora.jsonl", settings, selection=SELECTION)
    methods = [m for m in METHODS if any(r.get("method") == m for r in cells.rows)]
    if not methods:
        return "No cell has finished yet."
    args = (settings["lr_sweep"], settings["seeds"][0], settings["extend_sweep"])
    head = (f"`protocol-rslora.jsonl`: {settings['model']}, budget {settings['budget']}, "
            f"{settings['epochs']:g} epochs of batch {settings['batch_size']}, `--scaling rslora`.")
    lines = [head, ""]
    for task in settings["tasks"]:
        if any(r.get("task") == task for r in cells.rows):
            lines += [f"**{task_label(task)}** ({reading(cells.rows, task)['unit']})", "",
                      *sweep_table(cells.rows, task, methods, settings,
                                   lambda t, m: method_sweep(cells, t, m, *args)[0], lambda m: METHODS[m][0]), ""]
    return "\n".join(lines + defaults_table(settings["tasks"], methods, lambda t, m: chosen_lr(cells, t, m, *args)))


def protocol_full_cells(results: Path) -> str:
    """How far the full protocol is, and what its cells cost (``wall_s`` of each row), per task."""
    from benchmarks.protocol.defaults import task_label
    from benchmarks.protocol.sweep import progress

    cells, settings, methods = protocol_cells(results, quick=False)
    lines = [f"`protocol.jsonl`: {progress(cells, settings, methods)}.", "",
             "| task | cells | steps per cell | wall time per cell | cell-hours |", "|---|---|---|---|---|"]
    total = 0.0
    for task in settings["tasks"]:
        rows = [r for r in cells.rows if r.get("task") == task]
        walls = [r["wall_s"] for r in rows if r.get("wall_s")]
        steps = sorted({r["steps"] for r in rows if r.get("steps")})
        total += sum(walls)
        lines.append(f"| {task_label(task)} | {len(rows)} | {', '.join(map(str, steps)) or '—'} | "
                     + (f"{min(walls):,.0f}–{max(walls):,.0f} s | {sum(walls) / 3600:.1f} |" if walls else "— | — |"))
    machines = sorted({f"{r['machine']['cpus']} CPU cores" + (f", {r['machine']['gpu']}" if r["machine"].get("gpu") else "")
                       for r in cells.rows if r.get("machine")})
    lines += ["", f"{total / 3600:.1f} cell-hours in all, on {' / '.join(machines) or 'unrecorded machines'}.",
              "", provenance_summary("protocol.jsonl", cells.rows)]
    return "\n".join(lines)


def causal_quick(results: Path) -> str:
    """The GSM8K smoke test's tables (the earlier flow: others at uniform's lr; α/r, from before
    the rule was a setting, so the file is read as it stands)."""
    from benchmarks.causal.table import render

    rows = read_rows(results / "causal-quick.jsonl")
    if not rows:
        return "No cell has finished yet."
    return render(rows, rows[-1]["settings"]) + "\n\n" + provenance_summary("causal-quick.jsonl", rows)


def planted_diagnosis(results: Path) -> str:
    """The diagnosis tables (``python -m benchmarks.planted.diagnosis --table-only``)."""
    from benchmarks.planted.diagnosis import SETTINGS
    from benchmarks.planted.diagnosis_table import render

    return render(CellFile(results / "planted-diagnosis.jsonl", SETTINGS).rows)


def planted_diagnosis_cells(results: Path) -> str:
    """What the diagnosis file holds: edges trained alone per seed, and its wall time."""
    rows = read_rows(results / "planted-diagnosis.jsonl")
    seeds = sorted({r["seed"] for r in rows})
    alone = {s: sum(r.get("part") == "alone" and r["seed"] == s for r in rows) for s in seeds}
    seconds = [r["seconds"] for r in rows if r.get("part") == "alone" and r.get("seconds")]
    median = f"; median {statistics.median(seconds):.0f} s per edge-alone training" if seconds else ""
    return (f"`planted-diagnosis.jsonl`: {len(rows)} cells over seeds {', '.join(map(str, seeds))}; edges trained "
            f"alone per seed: {', '.join(f'{alone[s]}' for s in seeds)} of 59{median}.")


def rank_lr(results: Path) -> str:
    """The rank × lr tables (``python -m benchmarks.rank_lr --table-only``) and how far the grid is."""
    from benchmarks.rank_lr.cell import TASKS
    from benchmarks.rank_lr.cli import LRS, RANKS, RULES, SEEDS
    from benchmarks.rank_lr.table import markdown

    rows = read_rows(results / "rank-lr.jsonl")
    # rank 1 runs once for every rule (benchmarks.rank_lr.table.SHARED_RANK)
    planned = len(TASKS) * len(LRS) * len(SEEDS) * (len(RULES) * len(RANKS) - (len(RULES) - 1))
    walls = [r["wall_s"] for r in rows if r.get("wall_s")]
    cost = f"; {min(walls):,.0f}–{max(walls):,.0f} s per cell" if walls else ""
    done = (f"`rank-lr.jsonl`: {len(rows)} of the {planned} planned cells{cost}. "
            + provenance_summary("rank-lr.jsonl", rows, by=("task", "rule")))
    return done + "\n\n" + (markdown(rows) if rows else "No cell has finished yet.")


def svd_form_pruning(results: Path) -> str:
    """The SVD form's per-triplet speed on pruned and full edges (``python -m benchmarks.rank_lr.svd_form``)."""
    from benchmarks.rank_lr.svd_form import markdown

    return markdown(read_rows(results / "svd-form-pruning.jsonl"))


def planted_scaling(results: Path) -> str:
    """gap_closed per seed under each rule (``python -m benchmarks.planted.scaling --table-only``)."""
    from benchmarks.planted.scaling import table

    rows = read_rows(results / "planted-scaling.jsonl")
    return table(rows) if rows else "No cell has finished yet."


def planted_forward_selection(results: Path) -> str:
    """Forward selection before and in training, per seed, from ``planted-scaling.jsonl`` (α/√r,
    the calibrated defaults), with its cost (``python -m benchmarks.planted.scaling --table-only``)."""
    rows = [r for r in read_rows(results / "planted-scaling.jsonl") if r.get("rule") == "rslora" and r.get("lr") is None
            and r["method"] != "uniform"]
    if not rows:
        return "No cell has finished yet."
    seeds = sorted({r["seed"] for r in rows})
    out = ["| allocator | " + " | ".join(f"seed {s}" for s in seeds) + " | mean gap_closed | choosing / training |",
           "|---|" + "---|" * (len(seeds) + 2)]
    for method in dict.fromkeys(r["method"] for r in rows):
        got = {r["seed"]: r for r in rows if r["method"] == method}
        # an in-training allocator chooses inside train_s (its allocate_s is the setup, far below
        # its scoring time): the share of its scoring passes
        inside = all(r["allocate_s"] < (r.get("scoring_s") or 0) for r in got.values())
        costs = [(r["scoring_s"] if inside else r["allocate_s"]) / r["train_s"] for r in got.values() if r.get("train_s")]
        out.append(f"| `{method}` | " + " | ".join(f"{got[s]['gap_closed']:.3f}" if s in got else "—" for s in seeds)
                   + f" | {statistics.fmean(r['gap_closed'] for r in got.values()):.3f} | "
                   + f"{min(costs):.2f}–{max(costs):.2f}{' (scoring, inside training)' if inside else ''} |")
    return "\n".join(out)


def planted_greedy_cost(results: Path) -> str:
    """``proxy-greedy`` with fewer rounds, round steps or scoring batches: gap_closed against
    allocate / train (``python -m benchmarks.planted.greedy_cost --table-only``)."""
    from benchmarks.planted.greedy_cost import table

    return table(read_rows(results / "planted-greedy-cost.jsonl"), read_rows(results / "planted-scaling.jsonl"))


def causal_rule(results: Path) -> str:
    """A mixed-rank allocation on the decoder under each rule: uniform's lr sweep and proxy-static
    at uniform's tuned lr (``python -m benchmarks.causal --results causal-rule-RULE.jsonl``)."""
    from benchmarks.causal.table import render

    parts = []
    for rule, label in (("lora", "α/r"), ("rslora", "α/√r")):
        rows = read_rows(results / f"causal-rule-{rule}.jsonl")
        if rows:
            parts.append(f"**{label}** (`--scaling {rule}`, `causal-rule-{rule}.jsonl`)\n\n"
                         + render(rows, rows[-1]["settings"]))  # the last run's sweep holds the earlier ones
    return "\n\n".join(parts) or "No cell has finished yet."


def causal_default_lr(results: Path) -> str:
    """Uniform's lr sweep on the decoder at the default budget under α/√r, which the causal
    kind's default lr comes from (``python -m benchmarks.causal --results causal-default-lr.jsonl``)."""
    from rankscope.tasks import task_kind

    rows = sorted(read_rows(results / "causal-default-lr.jsonl"), key=lambda r: r["lr"])
    if not rows:
        return "No cell has finished yet."
    best = min(rows, key=lambda r: r["dev_nll"])
    shipped = task_kind("gsm8k").defaults["lr"]
    return "\n".join(["| lr | dev NLL (nats per response token) |", "|---|---|"]
                     + [f"| {r['lr']:g}{' (best)' if r is best else ''} | {r['dev_nll']:.4f} |" for r in rows]
                     + ["", f"Shipped causal default: lr {shipped:g}."])


def memory(results: Path) -> str:
    """Peak memory of a SmolLM2 training step per base dtype, with and without gradient
    checkpointing (``python -m benchmarks.memory``)."""
    from benchmarks.memory.table import render

    return render(read_rows(results / "memory.jsonl"))


def decoder_pilot(results: Path) -> str:
    """The decoder's noise pilot: paired std and the seeds 80 % power needs at 0.01 nats
    (``python -m benchmarks.protocol.pilot benchmarks/results/pilot-gsm8k.jsonl``)."""
    from benchmarks.protocol.pilot import markdown, pilot
    from benchmarks.protocol.sweep import SELECTION

    rows = read_rows(results / "pilot-gsm8k.jsonl")
    if not rows:
        return "No cell has finished yet."
    settings = rows[-1]["settings"]
    cells = CellFile(results / "pilot-gsm8k.jsonl", settings, selection=SELECTION)
    records = [r for r in pilot(cells, settings) if r["method"] in PILOT_METHODS]
    return markdown(records) + "\n\n" + per_seed_pairs(cells, settings, only=PILOT_METHODS)


#: the decoder pilot's allocator; the arm's other methods share its file and are on their own part
PILOT_METHODS = ("proxy-static",)


def decoder_arm(results: Path) -> str:
    """The decoder arm so far: every method of ``pilot-gsm8k.jsonl`` at its own tuned lr, paired by
    held-out seed against tuned uniform, one verdict line each, and the seed-0 sweeps
    (``python -m benchmarks.causal --table-only --results benchmarks/results/pilot-gsm8k.jsonl``
    with the pilot's settings)."""
    from benchmarks.causal.methods import METHODS
    from benchmarks.protocol.sweep import SELECTION, progress
    from benchmarks.protocol.table import tables

    rows = read_rows(results / "pilot-gsm8k.jsonl")
    if not rows:
        return "No cell has finished yet."
    settings = rows[-1]["settings"]
    cells = CellFile(results / "pilot-gsm8k.jsonl", settings, selection=SELECTION)
    present = [m for m in METHODS if any(r.get("method") == m for r in cells.rows)]
    others = [versus(cells, settings, ref, present) for ref in ARM_REFERENCES if ref in present]
    # the same allocator over the shortcuts space, and at today's cheaper default K, against proxy-static
    variants = [m for m in ("proxy-static@shortcuts", "proxy-static-auto") if m in present]
    if "proxy-static" in present and variants:
        others.append(versus(cells, settings, "proxy-static", variants))
    return (f"`pilot-gsm8k.jsonl`: {progress(cells, settings, present)} for the {len(present)} methods begun. "
            + provenance_summary("pilot-gsm8k.jsonl", cells.rows) + "\n\n"
            + tables(cells, settings, present, defaults=False, labels=METHODS)
            + "".join(f"\n\n{text}" for text in others if text))


#: the baselines users already run, which the decoder arm's allocators must also beat
ARM_REFERENCES = ("qv-uniform", "peft-eva")


def versus(cells: CellFile, settings: dict, reference: str, methods: list) -> str:
    """Every method (tuned uniform included) paired by held-out seed against ``reference``, each
    at its own tuned lr: one verdict line each (:func:`rankscope.search.compare.verdict`)."""
    from benchmarks.protocol.table import reading
    from rankscope.search.compare import summarize_pairs, verdict

    task = settings["tasks"][0]
    read = reading(cells.rows, task)
    _, ref = held_out_values(cells, settings, task, reference)
    lines = []
    for method in methods:
        _, got = held_out_values(cells, settings, task, method)
        common = sorted(set(got) & set(ref))
        if method == reference or len(common) < 2:
            continue
        pairs = summarize_pairs([got[s] for s in common], [ref[s] for s in common], greater_is_better=read["greater"])
        lines.append(f"- {verdict(method, reference, pairs, read['unit'] == 'points')}")
    if not lines:
        return ""
    return f"Against `{reference}`, paired by held-out seed ({read['unit']}, positive: better than it):\n\n" + \
        "\n".join(lines)


def held_out_values(cells: CellFile, settings: dict, task: str, method: str) -> tuple[float | None, dict]:
    """``(lr, {seed: value})``: ``method``'s lr chosen by its seed-0 sweep and its primary metric
    on each held-out seed at that lr, in the task's unit (× ``reading``'s scale)."""
    from benchmarks.protocol.sweep import chosen_lr
    from benchmarks.protocol.table import reading, seed_rows

    sweep, held = (settings["lr_sweep"], settings["seeds"][0], settings.get("extend_sweep", 0)), settings["seeds"][1:]
    scale = reading(cells.rows, task)["scale"]
    lr = chosen_lr(cells, task, method, *sweep)
    got = seed_rows(cells.rows, task, method, lr, held)
    return lr, {s: r["final"][r["primary"]] * scale for s, r in got.items()}


def per_seed_pairs(cells: CellFile, settings: dict, task: str | None = None, only=None) -> str:
    """Each method's held-out seeds at its chosen lr beside tuned uniform's, with the paired
    difference (negative: worse than uniform), its mean ± std and 95 % interval, in the task's
    unit (:func:`benchmarks.protocol.table.reading`: points of accuracy or MCC, nats of NLL).
    ``only``: these methods alone (default: every method in the file)."""
    from benchmarks.protocol.table import reading
    from rankscope.search.compare import summarize_pairs

    task = task or settings["tasks"][0]
    read = reading(cells.rows, task)
    spec, unit = read["spec"], read["unit"] if read["greater"] else f"dev {read['unit'].upper()}"

    def signed(diff):  # positive: better than uniform, in either direction of the metric
        return diff if read["greater"] else -diff

    methods = [m for m in dict.fromkeys(r["method"] for r in cells.rows if r.get("task") == task)
               if only is None or m in ("uniform", *only)]
    by = {m: held_out_values(cells, settings, task, m) for m in methods}
    if "uniform" not in by:
        return ""
    ref_lr, ref = by.pop("uniform")
    lines = []
    for method, (lr, got) in by.items():
        common = sorted(set(got) & set(ref))
        if len(common) < 2:
            continue
        p = summarize_pairs([got[s] for s in common], [ref[s] for s in common], greater_is_better=read["greater"])
        lines += [f"| seed | uniform (lr {ref_lr:g}) | {method} (lr {lr:g}) | paired difference |", "|---|---|---|---|"]
        lines += [f"| {s} | {ref[s]:{spec}} | {got[s]:{spec}} | {signed(got[s] - ref[s]):+{spec}} |" for s in common]
        lines += ["", f"{method} against tuned uniform, {unit}: {p['mean']:+{spec}} ± {p['std']:{spec}} over "
                      f"{p['n']} seeds, 95 % interval [{p['low']:+{spec}}, {p['high']:+{spec}}] (negative: "
                      f"{method} is worse).", ""]
    return "\n".join(lines).rstrip()


def glue_pilot(results: Path) -> str:
    """The GLUE noise pilot under α/√r: tuned uniform against one allocator on the held-out
    seeds the file holds (``python -m benchmarks.protocol --scaling rslora --results
    benchmarks/results/protocol-rslora.jsonl --tasks cola --methods uniform,proxy --seeds 0,1,…,6``)."""
    from benchmarks.protocol.pilot import markdown, pilot
    from benchmarks.protocol.sweep import SELECTION, default_settings

    settings = default_settings(scaling="rslora")
    cells = CellFile(results / "protocol-rslora.jsonl", settings, selection=SELECTION)
    first = settings["seeds"][0]
    settings = {**settings, "seeds": [first, *sorted({r["seed"] for r in cells.rows} - {first})]}
    records = pilot(cells, settings)
    pairs = [per_seed_pairs(cells, settings, r["task"]) for r in records]
    return "\n\n".join([markdown(records), *[p for p in dict.fromkeys(pairs) if p]])


def proxy_k_scaling(results: Path) -> str:
    """proxy-static's decoder allocation at fewer scoring batches (``python -m benchmarks.proxies.k_scaling``)."""
    from benchmarks.proxies.k_scaling import pilot_train_s, table

    rows = read_rows(results / "proxy-k-scaling.jsonl")
    return table(rows, pilot_train_s(results / "pilot-gsm8k.jsonl")) if rows else "No cell has finished yet."


def planted_r0_bound(results: Path) -> str:
    """salient at its default r₀, with r₀ lifted, and the planted allocation capped at r₀
    (``python -m benchmarks.planted.r0_bound``)."""
    from benchmarks.planted.r0_bound import table

    return table(read_rows(results / "planted-r0-bound.jsonl"))


def first_try(results: Path) -> str:
    """The decoder command a new user types, timed (``python -m benchmarks.first_try``)."""
    from benchmarks.first_try.cli import table

    rows = read_rows(results / "first-try.jsonl")
    return table(rows) if rows else "No timed run yet."


def fold(results: Path) -> str:
    """Folded against hooked adapters at inference (``python -m benchmarks.fold``)."""
    from benchmarks.fold.cli import table

    rows = read_rows(results / "fold.jsonl")
    return table(rows) if rows else "No measurement yet."


#: ``<!-- generated: KEY -->`` → the function writing that part
PARTS = {"protocol-full": protocol_full, "protocol-pilot": protocol_pilot, "protocol-quick": protocol_quick, "protocol-full-cells": protocol_full_cells,
         "protocol-rslora": protocol_rslora, "glue-pilot": glue_pilot, "proxy-k-scaling": proxy_k_scaling,
         "planted-r0-bound": planted_r0_bound,
         "causal-quick": causal_quick, "planted-diagnosis": planted_diagnosis,
         "planted-diagnosis-cells": planted_diagnosis_cells, "rank-lr": rank_lr,
         "svd-form-pruning": svd_form_pruning, "planted-scaling": planted_scaling, "causal-rule": causal_rule,
         "causal-default-lr": causal_default_lr,
         "planted-forward-selection": planted_forward_selection, "planted-greedy-cost": planted_greedy_cost,
         "memory": memory, "decoder-pilot": decoder_pilot, "decoder-arm": decoder_arm, "first-try": first_try,
         "fold": fold}
