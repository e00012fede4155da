"""The tables of ``python -m benchmarks.causal``, as Markdown, from the results file alone.

Per method: mean ± std over seeds (per-seed values below), dev NLL's difference from tuned uniform
paired by seed (negative: better than uniform), exact match, step time over PEFT LoRA's in the
same seed, and the peak RSS of the method's process.
"""

from __future__ import annotations

import statistics

from .methods import METHODS


def mean_std(xs, spec=".4f") -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "—"
    if len(xs) == 1:
        return format(xs[0], spec)
    return f"{format(statistics.mean(xs), spec)} ± {format(statistics.stdev(xs), spec)}"


def chosen(rows, seed):
    sweep = [r for r in rows if r["method"] == "uniform" and r["seed"] == seed and r.get("dev_nll") is not None]
    return min(sweep, key=lambda r: r["dev_nll"]) if sweep else None


def render(rows: list[dict], settings: dict, lr_of=None) -> str:
    """The Markdown tables: the methods per seed, the lr sweep, and the speed cell. ``lr_of``:
    method → its tuned lr (the protocol's rule: chosen on the first seed, the others shown); without
    it, the earlier flow's reading: every method at tuned uniform's lr of each seed."""
    seeds = settings["seeds"][1:] if lr_of and len(settings["seeds"]) > 1 else settings["seeds"]
    tuned = {s: chosen(rows, s) for s in seeds}
    lrs = {s: tuned[s]["lr"] if tuned[s] else None for s in seeds}

    def cell(method, seed):
        if lr_of is None and method == "uniform":
            return tuned[seed]
        lr = lr_of(method) if lr_of else lrs[seed]
        return next((r for r in rows if r["method"] == method and r["seed"] == seed and r.get("lr") == lr), None)

    out = [f"GSM8K, {settings['model']}, budget {settings['budget']}, {settings['steps']} steps of batch "
           f"{settings['batch_size']} (max_len {settings['max_len']}), dev rows {settings['max_dev_samples'] or 'all'}, "
           f"exact match on {settings['exact_match'] if settings['exact_match'] != -1 else 'all'} test problems, "
           f"seeds {seeds}; " + ("each method at its own tuned lr" if lr_of else
                                  f"lr tuned for uniform over {settings['lr_sweep']}: "
                                  + ", ".join(f"seed {s} → {lrs[s]:g}" for s in seeds if lrs[s])), "",
           "| method | params | dev NLL | Δ NLL vs tuned uniform | exact match | step time / PEFT LoRA | peak RSS MB |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    per_seed = []
    for method, label in METHODS.items():
        got = [(s, cell(method, s)) for s in seeds]
        got = [(s, r) for s, r in got if r is not None]
        if not got:
            continue
        failed = [r.get("failure") for _, r in got if r.get("failure")]
        if failed:
            out.append(f"| {label} | failed: {failed[0][:80]} | | | | | |")
            continue
        delta = [r["dev_nll"] - tuned[s]["dev_nll"] for s, r in got]
        peft = {s: cell("peft-lora", s) for s, _ in got}
        ratio = [r["step_s"] / peft[s]["step_s"] for s, r in got if peft[s] and peft[s].get("step_s")]
        out.append(f"| {label} | {mean_std([r['params'] for _, r in got], ',.0f')} | "
                   f"{mean_std([r['dev_nll'] for _, r in got])} | {mean_std(delta, '+.4f')} | "
                   f"{mean_std([r['exact_match'] for _, r in got], '.3f')} | {mean_std(ratio, '.2f')} | "
                   f"{mean_std([r['peak_rss_mb'] for _, r in got], '.0f')} |")
        per_seed += [f"- {label}, seed {s}: NLL {r['dev_nll']:.4f}, "
                     + (f"EM {r['exact_match']:.3f} ({int(r['test_problems'] or 0)} problems), "
                        if r.get("exact_match") is not None else "no exact match, ")
                     + f"params {r['params']:,}, step {r['step_s']:.2f} s, "
                     "mean rank " + ", ".join(f"{t} {v:g}" for t, v in (r.get("ranks") or {}).items())
                     for s, r in got]
    out += ["", "Per seed:", "", *per_seed]
    sweep = sorted((r for r in rows if r["method"] == "uniform" and r.get("dev_nll") is not None),
                   key=lambda r: (r["seed"], r["lr"]))
    out += ["", "uniform LoRA lr sweep (dev NLL): " + ", ".join(f"seed {r['seed']} lr {r['lr']:g}: {r['dev_nll']:.4f}"
                                                            for r in sweep)]
    speed = next((r for r in rows if r["method"] == "speed"), None)
    if speed and speed.get("speed"):
        sp = speed["speed"]
        out += ["", f"Speed ({sp['repeats']} interleaved repeats, medians; batch of {sp['batch_tokens']} tokens; "
                    f"{sp['gen_prompts']} prompts × {sp['gen_tokens']} new tokens):", "",
                "| measurement | rankscope | PEFT | ratio | target |", "|---|---:|---:|---:|---:|",
                f"| forward + backward, LoRA edges at the same ranks | {sp['rs_step_s']:.3f} s | {sp['peft_step_s']:.3f} s "
                f"| {sp['step_ratio']:.3f}× | ≤ 1.05× |",
                f"| greedy generation, KV cache | {sp['rs_gen_s']:.3f} s | {sp['peft_gen_s']:.3f} s | "
                f"{sp['gen_ratio']:.3f}× | ≤ 1.10× |",
                f"| forward + backward, shortcuts vs lora space ({sp['shortcuts_params']:,} vs {sp['params']:,} params) "
                f"| {sp['short_step_s']:.3f} s | — | {sp['shortcuts_vs_lora']:.3f}× | (reported) |"]
    elif speed:
        out += ["", f"Speed cell failed: {speed.get('failure')}"]
    return "\n".join(out)


def print_tables(cells, settings: dict, methods: list | None = None) -> None:
    """The protocol's paired tables (:func:`benchmarks.protocol.table.tables`: every method at its
    own tuned lr) and, under them, this benchmark's columns at each method's chosen lr. A file of
    the earlier flow (rows without ``task``: every method at tuned uniform's lr) gets
    :func:`render` alone."""
    rows = cells.rows
    if any("task" not in r for r in rows if r.get("method") != "speed"):
        print("\n" + render(rows, settings))
        return
    from benchmarks.protocol.table import tables

    from benchmarks.protocol.sweep import chosen_lr

    present = [m for m in METHODS if any(r.get("method") == m for r in rows)]
    print("\n" + tables(cells, settings, methods or present, defaults=False, labels=METHODS))
    sweep = (settings["lr_sweep"], settings["seeds"][0], settings.get("extend_sweep", 0))
    print("\n" + render(rows, settings, lr_of=lambda m: chosen_lr(cells, settings["tasks"][0], m, *sweep)))
