"""``python -m benchmarks.fold``: the measurement and its table. See :mod:`benchmarks.fold`."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from benchmarks.common.cells import REPO, provenance, read_rows

RESULTS = REPO / "benchmarks" / "results" / "fold.jsonl"


def measure(args) -> dict:
    import torch

    from rankscope.adapters.attach import attach
    from rankscope.allocation.budget import Budget
    from rankscope.allocators.uniform import uniform_allocation
    from rankscope.harness.data import batches
    from rankscope.harness.loop import evaluate_batches
    from rankscope.harness.objectives import CausalLM
    from rankscope.models.loading import load_model
    from rankscope.registry import SPACES
    from rankscope.tasks.causal.features import causal_collate, encode_prompts, load_causal_rows, tokenize_causal
    from rankscope.tasks.causal.generation import greedy_generate

    torch.manual_seed(0)
    model, tok = load_model(args.model, causal_lm=True)
    model.eval()
    rows = load_causal_rows("gsm8k", "train")[:max(args.rows, args.prompts)]
    feats, _ = tokenize_causal(rows[:args.rows], tok, args.max_len)
    feats.sort(key=lambda r: len(r["input_ids"]))  # by length, as the harness evaluates
    collate, objective = causal_collate(tok), CausalLM()
    prompts = encode_prompts(rows[:args.prompts], tok, args.max_len)
    space = SPACES.get("lora")(model, max_rank=64)
    allocation = uniform_allocation(space, Budget.parse(args.budget, space), "lora")
    handle = attach(model, space, allocation, seed=0)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # B as after training: nonzero, so folding changes the weights
        for a in handle.adapters.values():
            a.B.copy_(torch.randn(a.B.shape, generator=gen) * 1e-2)

    def evaluate():
        return evaluate_batches(model, objective, batches(feats, args.batch_size, collate, shuffle=False))["nll"]

    def decode():
        return greedy_generate(model, tok, prompts, max_new_tokens=args.new_tokens, batch_size=args.prompts,
                               stops=())

    def timed(fn):
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out

    def variant(name, fn):
        if name == "folded":
            with handle.folded():
                return timed(fn)
        if name == "base":
            handle._runtime.remove()  # no hooks at all: the bare model's cost
            try:
                return timed(fn)
            finally:
                handle._runtime.install()
        return timed(fn)

    times = {f"{v}_{w}": [] for v in ("hooked", "folded", "base") for w in ("eval", "decode")}
    nll, texts = {}, {}
    for _ in range(args.rounds):
        for v in ("hooked", "folded", "base"):
            s, nll[v] = variant(v, evaluate)
            times[f"{v}_eval"].append(s)
            s, texts[v] = variant(v, decode)
            times[f"{v}_decode"].append(s)
    med = {k: statistics.median(x) for k, x in times.items()}
    return {"model": args.model, "budget": args.budget, "params": allocation.params, "rows": args.rows,
            "batch_size": args.batch_size, "max_len": args.max_len, "prompts": args.prompts,
            "new_tokens": args.new_tokens, "rounds": args.rounds, **{f"{k}_s": v for k, v in med.items()},
            "eval_ratio": med["folded_eval"] / med["hooked_eval"],
            "decode_ratio": med["folded_decode"] / med["hooked_decode"],
            "hooked_vs_base_eval": med["hooked_eval"] / med["base_eval"],
            "hooked_vs_base_decode": med["hooked_decode"] / med["base_decode"],
            "nll_hooked": nll["hooked"], "nll_folded": nll["folded"],
            "max_nll_diff": abs(nll["folded"] - nll["hooked"]),
            "same_decoded_text": texts["folded"] == texts["hooked"], **provenance()}


def table(rows: list[dict]) -> str:
    lines = ["| commit | model, budget | eval: folded / hooked | decode: folded / hooked | hooked / no adapters "
             "(eval, decode) | dev NLL folded − hooked | same decoded text |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['commit']} | {r['model']}, {r['budget']} | {r['eval_ratio']:.2f}× "
                     f"({r['folded_eval_s']:.1f} / {r['hooked_eval_s']:.1f} s) | {r['decode_ratio']:.2f}× "
                     f"({r['folded_decode_s']:.1f} / {r['hooked_decode_s']:.1f} s) | "
                     f"{r['hooked_vs_base_eval']:.2f}×, {r['hooked_vs_base_decode']:.2f}× | "
                     f"{r['nll_folded'] - r['nll_hooked']:+.1e} | {'yes' if r['same_decoded_text'] else 'no'} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fold", description=__doc__)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--budget", default="r8", help="uniform LoRA over the lora space at this budget")
    ap.add_argument("--rows", type=int, default=48, help="GSM8K rows the evaluation reads")
    ap.add_argument("--batch-size", type=int, default=8, help="evaluation batch size (the causal default)")
    ap.add_argument("--max-len", type=int, default=512, help="the causal default")
    ap.add_argument("--prompts", type=int, default=8, help="GSM8K problems decoded in one batch (the CPU default)")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repeats; the medians are reported")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args(argv)
    if not args.table_only:
        row = measure(args)
        with open(args.results, "a") as f:
            f.write(json.dumps(row) + "\n")
    print(table(read_rows(args.results)))
