"""The tables of ``benchmarks/causal.py``, as Markdown (the README holds them as printed).

Per method: mean ± std over seeds (per-seed values below), dev NLL's difference from tuned uniform
paired by seed (negative: better than uniform), exact match, step time over PEFT LoRA's in the
same seed, and the peak RSS of the method's process.
"""

from __future__ import annotations

import statistics

from causal_cells import METHODS


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


def print_tables(rows: list[dict], settings: dict) -> None:
    seeds = settings["seeds"]
    tuned = {s: chosen(rows, s) for s in seeds}
    lrs = {s: tuned[s]["lr"] if tuned[s] else None for s in seeds}

    def cell(method, seed):
        if method == "uniform":
            return tuned[seed]
        return next((r for r in rows if r["method"] == method and r["seed"] == seed and r.get("lr") == lrs[seed]),
                    None)

    print(f"\nGSM8K, {settings['model']}, budget {settings['budget']}, {settings['steps']} steps of batch "
          f"{settings['batch_size']} (max_len {settings['max_len']}), dev rows {settings['max_dev_samples'] or 'all'}, "
          f"exact match on {settings['exact_match'] if settings['exact_match'] != -1 else 'all'} test problems, "
          f"seeds {seeds}; lr tuned for uniform over {settings['lr_sweep']}: "
          + ", ".join(f"seed {s} → {lrs[s]:g}" for s in seeds if lrs[s]) + "\n")
    print("| method | params | dev NLL | Δ NLL vs tuned uniform | exact match | step time / PEFT LoRA | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    per_seed = []
    for method, label in METHODS.items():
        got = [(s, cell(method, s)) for s in seeds]
        got = [(s, r) for s, r in got if r is not None]
        if not got:
            continue
        failed = [r.get("failure") for _, r in got if r.get("failure")]
        if failed:
            print(f"| {label} | failed: {failed[0][:80]} | | | | | |")
            continue
        delta = [r["dev_nll"] - tuned[s]["dev_nll"] for s, r in got]
        peft = {s: cell("peft-lora", s) for s, _ in got}
        ratio = [r["step_s"] / peft[s]["step_s"] for s, r in got if peft[s] and peft[s].get("step_s")]
        print(f"| {label} | {mean_std([r['params'] for _, r in got], ',.0f')} | "
              f"{mean_std([r['dev_nll'] for _, r in got])} | {mean_std(delta, '+.4f')} | "
              f"{mean_std([r['exact_match'] for _, r in got], '.3f')} | {mean_std(ratio, '.2f')} | "
              f"{mean_std([r['peak_rss_mb'] for _, r in got], '.0f')} |")
        per_seed += [f"- {label}, seed {s}: NLL {r['dev_nll']:.4f}, EM {r['exact_match']:.3f} "
                     f"({int(r['test_problems'] or 0)} problems), params {r['params']:,}, step {r['step_s']:.2f} s, "
                     f"ranks {r.get('ranks')}" for s, r in got]
    print("\nPer seed:\n" + "\n".join(per_seed))
    sweep = sorted((r for r in rows if r["method"] == "uniform" and r.get("dev_nll") is not None),
                   key=lambda r: (r["seed"], r["lr"]))
    print("\nuniform LoRA lr sweep (dev NLL): " + ", ".join(f"seed {r['seed']} lr {r['lr']:g}: {r['dev_nll']:.4f}"
                                                        for r in sweep))
    speed = next((r for r in rows if r["method"] == "speed"), None)
    if speed and speed.get("speed"):
        sp = speed["speed"]
        print(f"\nSpeed ({sp['repeats']} interleaved repeats, medians; batch of {sp['batch_tokens']} tokens; "
              f"{sp['gen_prompts']} prompts × {sp['gen_tokens']} new tokens):\n")
        print("| measurement | rankscope | PEFT | ratio | target |")
        print("|---|---:|---:|---:|---:|")
        print(f"| forward + backward, LoRA edges at the same ranks | {sp['rs_step_s']:.3f} s | {sp['peft_step_s']:.3f} s "
              f"| {sp['step_ratio']:.3f}× | ≤ 1.05× |")
        print(f"| greedy generation, KV cache | {sp['rs_gen_s']:.3f} s | {sp['peft_gen_s']:.3f} s | "
              f"{sp['gen_ratio']:.3f}× | ≤ 1.10× |")
        print(f"| forward + backward, shortcuts vs lora space ({sp['shortcuts_params']:,} vs {sp['params']:,} params) "
              f"| {sp['short_step_s']:.3f} s | — | {sp['shortcuts_vs_lora']:.3f}× | (reported) |")
    elif speed:
        print(f"\nSpeed cell failed: {speed.get('failure')}")
