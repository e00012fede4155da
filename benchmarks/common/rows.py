"""Rows for the benchmarks (:mod:`benchmarks`): every allocator runs through one session
(:func:`rankscope.search.pipeline.run`), so all methods of a seed share the loaded model, task and schedule,
and planted rows are scored between the uniform floor and the oracle ceiling of that session
(trained once: the session caches identical trainings)."""

from __future__ import annotations

import statistics
import time

from rankscope.harness.hooks import StepHook
from rankscope.search.config import SearchConfig
from rankscope.search.pipeline import run
from rankscope.search.session import Session
from rankscope.search.validate import build_allocator


def train_row(session: Session, label: str, name: str, options: dict) -> dict:
    """Run allocator ``name`` with ``options`` in ``session``; one result row (with the allocation)."""
    allocator = build_allocator(SearchConfig(allocator=name, allocator_options=dict(options)))
    result = run(session, allocator)
    rec, timing, ok = result.extras["allocator"], result.timing, result.completed
    return {"method": label, "allocator": name, "options": options, "params": result.final.params,
            "final": result.metrics["final"] if ok else None, "best": result.metrics["best"] if ok else None,
            "failure": (result.failure or {}).get("reason"), "allocate_s": timing["allocate_s"],
            "train_s": timing["train_s"] if ok else None,
            "step_s": timing["train_s"] - timing["eval_s"] if ok else None,
            "scoring_s": rec.get("scoring_s"), "salience_s": rec.get("salience_s"), "allocation": result.final,
            "spearman_proxy_vs_rank": rec.get("rank_spearman_proxy_vs_alloc"), "record": rec,
            "planted": result.extras.get("planted")}


def planted_rows(methods, seeds, steps: int, log=print, **cfg) -> list[dict]:
    """``methods`` = [(label, allocator, options)] on the planted task, per seed: r2, gap_closed
    (0 = uniform, 1 = the oracle planted allocation), planted_recall, rank_spearman."""
    rows = []
    for seed in seeds:
        session = Session(SearchConfig(**{"space": "shortcuts", **cfg}, seed=seed, max_steps=steps).resolved(),
                          progress=False)
        for label, name, options in methods:
            row = train_row(session, label, name, options)
            row.pop("record"), row.pop("allocation")
            pm = row.pop("planted")
            row.update({k: pm[k] for k in ("r2", "r2_uniform", "r2_oracle", "gap_closed", "planted_recall",
                                           "rank_spearman")}, seed=seed)
            rows.append(row)
            log(f"  seed {seed} {label:30s} r2 {row['r2']:.4f}  gap_closed {fmt(row['gap_closed'])}  "
                f"recall {row['planted_recall']:.3f}  rank_spearman {fmt(row['rank_spearman'])}  "
                f"(uniform {row['r2_uniform']:.4f}, oracle {row['r2_oracle']:.4f})")
    return rows


def glue_rows(methods, tasks, spaces, seeds, log=print, **cfg) -> list[dict]:
    """``methods`` at the same budget on GLUE tasks: final and best dev metric per seed."""
    rows = []
    for task in tasks:
        for space in spaces:
            for seed in seeds:
                session = Session(SearchConfig(task=task, space=space, seed=seed, **cfg).resolved(), progress=False)
                for label, name, options in methods:
                    row = train_row(session, label, name, options)
                    row.pop("allocation"), row.pop("record"), row.pop("planted")
                    row.update(task=task, space=space, seed=seed, primary=session.objective.primary,
                               steps=session.total_steps)
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


class PeftAllocate(StepHook):
    """Step hook calling PEFT AdaLoRA's ``update_and_allocate`` once per optimizer step, after
    ``optimizer.step()`` and before ``zero_grad`` (where PEFT's docs call it), so PEFT's AdaLoRA
    trains through the one harness."""

    def __init__(self, peft_model):
        self.pm = peft_model

    def on_step_end(self, step, state):
        self.pm.base_model.update_and_allocate(step)


def repeat_seconds(fn, repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn``, after one untimed warm-up call (allocator
    caches, kernel choice, first-call dispatch): what the benchmarks' speed ratios take medians of."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def peft_params(pm, session) -> tuple[int, dict]:
    """Adapter parameters r·(d_in + d_out) summed over PEFT's modules (AdaLoRA: the ranks whose λ
    survived), and the mean rank per edge type."""
    by_path = {e.module: e for e in session.space.edges}
    total, per_type = 0, {}
    for name, mod in pm.named_modules():
        path = name.removeprefix("base_model.model.")
        if path not in by_path or not hasattr(mod, "lora_A") or "default" not in mod.lora_A:
            continue
        if hasattr(mod, "lora_E"):
            r = int((mod.lora_E["default"].detach() != 0).sum())
        else:
            r = mod.lora_A["default"].weight.shape[0]
        e = by_path[path]
        total += r * (e.d_in + e.d_out)
        per_type.setdefault(e.type, []).append(r)
    return total, {t: round(sum(v) / len(v), 2) for t, v in per_type.items()}
