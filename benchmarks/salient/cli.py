"""SalientLoRA / AdaLoRA benchmark: speed, quality at equal budget, planted recovery, scale.

(a) ``speed``: wall time of the training steps (evaluation excluded) for plain LoRA at r₀,
    ``salient`` (compacting and not), ``adalora`` and PEFT's AdaLoRA, on MiniLM in the ``lora``
    space, an MRPC subset, the same number of steps, r₀ ∈ {8, 16, 32, 64}; ratios to plain LoRA
    measured in this run. PEFT trains through the same harness (its forward adds its own
    orthogonality penalty; ``update_and_allocate`` runs in a step hook).
(b) ``glue``: dev metric at equal budget (r2) over seeds on MRPC, RTE and CoLA: uniform LoRA,
    ``adalora`` and ``salient``, mean ± std.
(c) ``planted``: ``gap_closed`` and ``planted_recall`` of ``salient`` and ``adalora`` between the
    uniform floor and the oracle ceiling.
(d) ``scale``: salience computation time and peak memory against N ∈ {1k, 10k, 50k} on synthetic
    λ windows of T_f = 200 steps, each N in a fresh process; two generators: ``walk``
    (independent random walks, a sparse dependency graph) and ``trend`` (walks sharing a common
    trend, as λ's that all grow together: most pairs with σ_j ≥ 2σ_i become edges).
(e) ``compact``: what ``compact()`` saves where it acts, apart from the frozen backbone: forward
    and backward of one SVD-form adapter term, masked at r₀ (a quarter of the ranks kept) and
    then compacted to r₀/4, for a MiniLM-sized (384) and a LLaMA-7B-sized (4096) square matrix,
    beside the frozen dense layer of the same size (median of repeated timings)::

    python -m benchmarks.salient --parts scale,speed,planted,glue,compact [--json FILE]
    python -m benchmarks.salient --parts glue --tasks mrpc --seeds 0,1,2 --glue-steps 100

``--quick`` shrinks every part (tiny settings, minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.common.rows import (
    PeftAllocate,
    glue_rows,
    mean_std,
    planted_rows,
    repeat_seconds,
    train_row,
)
from rankscope.allocators.svd.triplets import steps_option
from rankscope.io import atomic_write_text

GLUE_METHODS = [("uniform", "uniform", {}), ("adalora", "adalora", {}), ("salient", "salient", {})]
ENCODER_MATRICES = r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"

SCALE_CHILD = r"""
import json, resource, sys, time, torch
from rankscope.salience import salience_scores
n, w, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
g = torch.Generator().manual_seed(0)
scale = torch.exp(torch.randn(n, generator=g))
walks = torch.randn(n, w, generator=g).cumsum(1)
if kind == "trend":
    walks = 0.6 * torch.randn(w, generator=g).cumsum(0) + 0.4 * walks
X = (scale[:, None] * walks).float()
R = torch.rand(w, generator=g) + 0.5
groups = torch.arange(n) // 16
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
res = salience_scores(X, R, groups)
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"n": n, "window": w, "series": kind, "seconds": dt, "edges": res.n_edges,
                  "peak_rss_mb": peak / 1024, "rss_before_mb": before / 1024}))
"""


def part_scale(args):
    rows = []
    for kind in ("walk", "trend"):
        for n in args.scale_n:
            out = subprocess.run([sys.executable, "-c", SCALE_CHILD, str(n), str(args.window), kind],
                                 capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"scale {kind:5s} N={n:6d}: {row['seconds']:.2f} s, {row['edges']:,} edges, "
                  f"peak RSS {row['peak_rss_mb']:.0f} MB (before the call {row['rss_before_mb']:.0f} MB)", flush=True)
    return rows


def peft_adalora_seconds(search, r0, tinit, tfinal, steps):
    import peft

    from rankscope.harness.loop import Harness
    from rankscope.models.loading import load_model

    model, _ = load_model(search.cfg.model, search.task.objective.spec.num_labels)
    cfg = peft.AdaLoraConfig(init_r=r0, target_r=2, tinit=tinit, tfinal=tfinal, deltaT=1, total_step=steps,
                             lora_alpha=32, orth_reg_weight=search.cfg.orth_reg, target_modules=ENCODER_MATRICES,
                             task_type="SEQ_CLS")
    pm = peft.get_peft_model(model, cfg)
    return Harness(search.task, search.cfg).train(pm, None, PeftAllocate(pm), progress=False).step_s


def part_speed(args):
    from rankscope import Allocation
    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session

    rows = []
    search = Session(SearchConfig(task="mrpc", space="lora", model=args.model, data_dir=args.data_dir, budget="r2",
                                 max_steps=args.speed_steps, eval_every=args.speed_steps,
                                 max_train_samples=args.speed_steps * 32).resolved(), progress=False)
    total = search.total_steps
    tinit, tfinal = steps_option(0.1, total, "tinit"), steps_option(0.4, total, "tfinal")  # adalora's defaults
    for r0 in args.r0:
        plain = search.train(Allocation.uniform(search.space, r0), desc="lora").step_s
        times = {"plain LoRA": plain}
        for label, name, opts in [("salient", "salient", {"init_rank": r0}),
                                  ("salient (no compact)", "salient", {"init_rank": r0, "compact": False}),
                                  ("adalora", "adalora", {"init_rank": r0})]:
            times[label] = train_row(search, label, name, opts)["step_s"]
        times["PEFT AdaLoRA"] = peft_adalora_seconds(search, r0, tinit, tfinal, total)
        for label, t in times.items():
            rows.append({"r0": r0, "method": label, "step_s": t, "ratio": t / plain, "steps": total})
        print(f"speed r0={r0}: " + "  ".join(f"{k} {v:.1f} s ({v / plain:.2f}×)" for k, v in times.items()), flush=True)
    return rows


def _median_seconds(fn, repeats: int) -> float:
    import statistics

    return statistics.median(repeat_seconds(fn, repeats))


def part_compact(args):
    import torch

    from rankscope.adapters.svd import SVDAdapter

    torch.manual_seed(0)
    rows = []
    tokens = 8 * 64  # a batch of 8 sequences of 64 tokens
    for d in (384, 4096):
        x = torch.randn(tokens, d, requires_grad=True)
        w = torch.randn(d, d) / d ** 0.5  # the frozen layer: forward, and the input gradient only

        def frozen():
            (x @ w.T).sum().backward()
        dense_s = _median_seconds(frozen, 10)
        for r0 in args.r0:
            a = SVDAdapter(d, d, r0, alpha=32.0)
            with torch.no_grad():
                a.lam.normal_()
            kept = torch.arange(0, r0, 4)
            a.mask.zero_()
            a.mask[kept] = 1.0

            def term():  # the adapter's share of a step: Δ(x) = P · diag(gate) · Q · x, then backward
                (((x @ a.down.T) * a.gate()) @ a.up.T).sum().backward()
                a.zero_grad(set_to_none=True)
            masked_s = _median_seconds(term, 20)
            a.keep(kept)
            compact_s = _median_seconds(term, 20)
            rows.append({"d": d, "r0": r0, "rank_after": len(kept), "tokens": tokens, "dense_s": dense_s,
                         "masked_s": masked_s, "compact_s": compact_s, "speedup": masked_s / compact_s})
            print(f"compact d={d} r0={r0}: masked {masked_s * 1e3:.2f} ms, compacted (r={len(kept)}) "
                  f"{compact_s * 1e3:.2f} ms ({masked_s / compact_s:.2f}×); frozen dense layer {dense_s * 1e3:.2f} ms",
                  flush=True)
    return rows


def part_planted(args):
    methods = [("salient", "salient", {}), ("adalora", "adalora", {})]
    return planted_rows(methods, args.seeds, args.planted_steps, log=lambda m: print(m, flush=True), model=args.model,
                        svd_alpha=args.svd_alpha)


def part_glue(args):
    """Uniform LoRA at ``--lr``; the SVD-form methods at ``--svd-lr`` (default ``--lr``) and
    ``--svd-alpha``: a setting that suits one form can stall the other."""
    common = dict(model=args.model, data_dir=args.data_dir, budget="r2", epochs=args.epochs, max_steps=args.glue_steps,
                  max_train_samples=args.max_train_samples, eval_every=args.eval_every)
    log = lambda m: print(m, flush=True)
    svd_lr = args.svd_lr or args.lr
    rows = glue_rows(GLUE_METHODS[:1], args.tasks, ["lora"], args.seeds, log=log, lr=args.lr, **common)
    for r in rows:
        r["lr"] = args.lr
    svd = glue_rows(GLUE_METHODS[1:], args.tasks, ["lora"], args.seeds, log=log, lr=svd_lr,
                    svd_alpha=args.svd_alpha, **common)
    for r in svd:
        r.update(lr=svd_lr, svd_alpha=args.svd_alpha)
    return rows + svd


def print_tables(res):
    if res.get("speed"):
        print("\n## (a) Training-step wall time, ratio to plain LoRA at the same r0")
        methods = list(dict.fromkeys(r["method"] for r in res["speed"]))
        print("| r0 | " + " | ".join(methods) + " |\n|---|" + "---|" * len(methods))
        for r0 in dict.fromkeys(r["r0"] for r in res["speed"]):
            cells = {r["method"]: r for r in res["speed"] if r["r0"] == r0}
            print(f"| {r0} | " + " | ".join(f"{cells[m]['step_s']:.1f} s ({cells[m]['ratio']:.2f}×)" for m in methods) + " |")
    if res.get("glue"):
        print("\n## (b) Dev metric at equal budget (final / best), mean ± std over seeds")
        print("| task | method | params | final | best |\n|---|---|---|---|---|")
        for key in dict.fromkeys((r["task"], r["method"]) for r in res["glue"]):
            rs_ = [r for r in res["glue"] if (r["task"], r["method"]) == key]
            p = rs_[0]["primary"]
            print(f"| {key[0]} ({p}) | {key[1]} | {rs_[0]['params']:,} | {mean_std([r['final'][p] for r in rs_])} | "
                  f"{mean_std([r['best'][p] for r in rs_])} |")
    if res.get("planted"):
        print("\n## (c) Planted task (shortcuts): floor = uniform, ceiling = oracle")
        print("| method | r2 | gap_closed | planted_recall | rank_spearman |\n|---|---|---|---|---|")
        for label in dict.fromkeys(r["method"] for r in res["planted"]):
            rs_ = [r for r in res["planted"] if r["method"] == label]
            print(f"| {label} | {mean_std([r['r2'] for r in rs_])} | {mean_std([r['gap_closed'] for r in rs_])} | "
                  f"{mean_std([r['planted_recall'] for r in rs_])} | {mean_std([r['rank_spearman'] for r in rs_])} |")
    if res.get("compact"):
        print("\n## (e) One adapter term, forward + backward: masked at r0 vs compacted to r0/4 (median)")
        print("| d | r0 | masked ms | compacted ms | speed-up | frozen dense layer ms |\n|---|---|---|---|---|---|")
        for r in res["compact"]:
            print(f"| {r['d']} | {r['r0']} | {r['masked_s'] * 1e3:.2f} | {r['compact_s'] * 1e3:.2f} | "
                  f"{r['speedup']:.2f}× | {r['dense_s'] * 1e3:.2f} |")
    if res.get("scale"):
        print("\n## (d) Salience computation against N (window 200)")
        print("| series | N | seconds | dependency edges | peak RSS MB |\n|---|---|---|---|---|")
        for r in res["scale"]:
            print(f"| {r['series']} | {r['n']:,} | {r['seconds']:.2f} | {r['edges']:,} | {r['peak_rss_mb']:.0f} |")


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.salient", description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="scale,speed,planted,glue",
                    help="comma-separated: scale, speed, planted, glue, compact")
    ap.add_argument("--quick", action="store_true", help="tiny settings for a smoke run")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--seeds", default=None, help="comma-separated (default 0,1,2; quick 0)")
    ap.add_argument("--r0", default=None, help="initial ranks for (a) and (e) (default 8,16,32,64)")
    ap.add_argument("--speed-steps", type=int, default=None, help="(a) optimizer steps (default 30)")
    ap.add_argument("--planted-steps", type=int, default=None, help="(c) steps (default 200)")
    ap.add_argument("--tasks", default="mrpc,rte,cola", help="(b) tasks")
    ap.add_argument("--epochs", type=float, default=None, help="(b) epochs (default 3)")
    ap.add_argument("--glue-steps", type=int, default=None, help="(b) optimizer steps (overrides epochs)")
    ap.add_argument("--max-train-samples", type=int, default=None, help="(b) train subset")
    ap.add_argument("--lr", type=float, default=None, help="GLUE peak learning rate (default: the task default)")
    ap.add_argument("--svd-lr", type=float, default=None,
                    help="(b) learning rate of adalora and salient (default: --lr, else each one's own)")
    ap.add_argument("--svd-alpha", type=float, default=None,
                    help="(b, c) alpha of the SVD-form adapters (adalora, salient); default: each "
                         "one's own on the task (GLUE 256, planted 32: the paper's)")
    ap.add_argument("--eval-every", type=int, default=0, help="GLUE: evaluate every N steps (0 = ten times per run)")
    ap.add_argument("--scale-n", default=None, help="(d) N values (default 1000,10000,50000)")
    ap.add_argument("--window", type=int, default=200, help="(d) window length")
    ap.add_argument("--data-dir", default=os.environ.get("RANKSCOPE_GLUE_DIR", "../shared/data/glue"))
    ap.add_argument("--json", help="write every row to this file")
    args = ap.parse_args(argv)
    q = args.quick
    parts = args.parts.split(",")
    bad = sorted(set(parts) - {"scale", "speed", "planted", "glue", "compact"})
    if bad:
        ap.error(f"unknown part(s) {bad}; valid: scale, speed, planted, glue, compact")
    args.seeds = [int(s) for s in (args.seeds or ("0" if q else "0,1,2")).split(",")]
    args.r0 = [int(r) for r in (args.r0 or ("8,16" if q else "8,16,32,64")).split(",")]
    args.speed_steps = args.speed_steps or (12 if q else 30)
    args.planted_steps = args.planted_steps or (30 if q else 200)
    args.tasks = args.tasks.split(",") if not q else ["mrpc"]
    args.scale_n = [int(n) for n in (args.scale_n or ("1000,10000" if q else "1000,10000,50000")).split(",")]
    if q:
        args.glue_steps, args.max_train_samples = args.glue_steps or 12, args.max_train_samples or 384
    if args.glue_steps is None and args.epochs is None:
        args.epochs = 3.0
    t0 = time.perf_counter()
    res = {}
    for part in parts:
        res[part] = globals()[f"part_{part}"](args)
    print_tables(res)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    if args.json:
        atomic_write_text(args.json, json.dumps({"args": vars(args), **res}, indent=2, default=str))
