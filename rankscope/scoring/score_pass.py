"""The one scoring pass shared by every proxy (see :mod:`.proxy` for the protocol).

:func:`scoring_batches` picks the K scoring batches: a seeded random sample of the train split
(the default), or the first K unshuffled batches (``"first"``, the HeteroLoRA code's protocol,
always the same examples). :func:`score_edges` runs the pass with every candidate edge attached,
then lets each proxy finish. Nothing is deep-copied; gradients are cleared afterwards and the
model's train/eval mode is restored.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from rankscope.errors import InputError
from rankscope.scoring.proxy import Proxy, ScoringContext
from rankscope.scoring.records import BatchRecords, EdgeRecorder

if TYPE_CHECKING:  # annotations only: no import edge at run time
    from rankscope.adapters.handle import AdapterHandle
    from rankscope.harness.objectives import Objective


def scoring_batches(task, k: int, batch_size: int, *, data: str = "sample", seed: int = 0) -> list:
    """K collated batches of ``batch_size`` from ``task.train``."""
    n = len(task.train)
    if k < 1:
        raise InputError(f"the number of scoring batches must be at least 1, got {k}")
    need = k * batch_size
    if need > n:
        raise InputError(f"{k} scoring batches of {batch_size} need {need} training examples, but the "
                         f"train split has {n}; use at most {max(1, n // batch_size)} batches "
                         f"(allocator option n_batches)")
    if data == "first":
        order = list(range(need))
    elif data == "sample":
        order = torch.randperm(n, generator=torch.Generator().manual_seed(7919 + seed))[:need].tolist()
    else:
        raise InputError(f"scoring data must be 'sample' (seeded random) or 'first' (first K batches), got {data!r}")
    return [task.collate([task.train[j] for j in order[i:i + batch_size]]) for i in range(0, need, batch_size)]


@dataclass
class ScoreResult:
    scores: dict  # {proxy name: {edge_id: float | [floats]}}
    seconds: dict = field(default_factory=dict)  # {"pass": s, proxy name: s of its finish}
    nan_edges: dict = field(default_factory=dict)  # {proxy name: [edge ids with NaN/inf]}
    batches: int = 0  # K: the batches scored

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())


def _clear_grads(model, objective):
    for p in model.parameters():
        p.grad = None
    if isinstance(objective, torch.nn.Module):
        for p in objective.parameters():
            p.grad = None


def _finite(v) -> bool:
    return all(math.isfinite(float(x)) for x in (v if isinstance(v, (list, tuple)) else [v]))


def score_edges(model: torch.nn.Module, handle: AdapterHandle, objective: Objective, batches: list,
                proxies: list[Proxy], *, seed: int = 0, device: str = "cpu") -> ScoreResult:
    """Score every attached edge with every proxy in one pass over ``batches``."""
    if not handle.adapters:
        raise InputError("no edges to score: the allocation attached no adapter")
    was_training = model.training
    model.eval()
    _clear_grads(model, objective)
    params = [(eid, n, p) for eid, a in handle.adapters.items() for n, p in a.named_parameters()]
    flags = {id(p): p.requires_grad for _, _, p in params}
    for _, _, p in params:
        p.requires_grad_(True)
    recorder = EdgeRecorder() if any(p.needs_records for p in proxies) else None
    t0 = time.perf_counter()
    try:
        for batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            if recorder is not None:
                with handle.observe(recorder):
                    loss = objective.forward(model, batch)[0]
            else:
                loss = objective.forward(model, batch)[0]
            loss.backward()
            if recorder is not None:
                records = BatchRecords(recorder, handle, batch["attention_mask"].shape[0])
                with torch.no_grad():
                    for p in proxies:
                        if p.needs_records:
                            p.on_batch(records)
                recorder.clear()
        grads = {}
        for eid, n, p in params:
            grads.setdefault(eid, {})[n] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
        _clear_grads(model, objective)
        seconds = {"pass": time.perf_counter() - t0}
        ctx = ScoringContext(model, handle, objective, [{k: v.to(device) for k, v in b.items()} for b in batches],
                             grads, torch.Generator().manual_seed(4243 + seed))
        out, nans = {}, {}
        for p in proxies:
            t1 = time.perf_counter()
            scores = p.finish(ctx)
            _clear_grads(model, objective)
            seconds[p.name] = time.perf_counter() - t1
            out[p.name] = {eid: ([float(v) for v in s] if isinstance(s, (list, tuple, torch.Tensor)) else float(s))
                           for eid, s in scores.items()}
            bad = [eid for eid, s in out[p.name].items() if not _finite(s)]
            if bad:
                nans[p.name] = bad
    finally:
        for _, _, p in params:
            p.requires_grad_(flags[id(p)])
        model.train(was_training)
    return ScoreResult(out, seconds, nans, len(batches))
