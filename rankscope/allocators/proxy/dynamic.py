"""``proxy-dynamic``: HeteroLoRA's dynamic mode ("dyrealloc", docs/architecture.md, "HeteroLoRA").

The harness trains the supernet (every edge at ``rank_on``); this hook toggles edges on and off::

    T = optimizer steps per epoch,  N = ceil(ν · T)
    reallocate before training starts (step 0, or after ``warmup_steps``) and after every
    optimizer step s with (s mod T) mod N == 0 — at each epoch start and every N steps, as the
    code's ``batch_idx % N`` with ``batch_idx`` restarting each epoch; never after the last step
        turn every edge on; score all of them on the K fixed scoring batches (one pass)
        ON = project(scores) within the budget, on/off only (no partial ranks)
        edge on:  mask = 1, parameters trainable
        edge off: mask = 0, requires_grad = False → no gradient, so AdamW skips it: its
                  weights AND its moment estimates persist unchanged until it is re-enabled
                  (the code's behaviour: never reset)

The final allocation is read from the masks, so it is the last ON set. Combined and separated
modes and type-wise normalisation as in :mod:`.select`. Per-rank proxies (``spectral``)
toggle whole edges here: their edge score is Σ_{k ≤ rank_on} v_k.
"""

from __future__ import annotations

import math
import time

import torch

from rankscope.allocators.base import Allocator
from rankscope.allocators.context import AllocationContext, Plan
from rankscope.allocators.proxy.options import ProxyOptions
from rankscope.allocators.proxy.report import ProxySection
from rankscope.allocators.proxy.scorer import score_live
from rankscope.allocators.proxy.select import (
    describe_scores,
    scores_to_allocate,
    scoring_setup,
    select,
    supernet,
)
from rankscope.distributed import rank0_decides
from rankscope.errors import InputError
from rankscope.harness.hooks import StepHook


class ProxyDynamicAllocator(Allocator):
    name = "proxy-dynamic"
    before_training = False  # its ranks come from the training (a step hook)
    report_section = ProxySection()

    options_class = ProxyOptions

    def __init__(self, **options):
        super().__init__(**options)
        if self.opts.granularity == "rank":
            raise InputError("proxy-dynamic toggles whole edges: granularity must be edge or auto")

    def propose(self, ctx: AllocationContext) -> Plan:
        total = ctx.trainer.total_steps
        if self.opts.warmup_steps >= total:
            raise InputError(f"warmup_steps ({self.opts.warmup_steps}) must be below the run's "
                             f"{total} training steps")
        batches, proxies, rank_on = scoring_setup(self.opts, ctx)  # fails before training
        return Plan(supernet(ctx.space, rank_on), DynamicReallocation(ctx, self.opts, batches, proxies, rank_on))


class DynamicReallocation(StepHook):
    def __init__(self, ctx: AllocationContext, opts: ProxyOptions, batches: list, proxies: list, rank_on: int):
        self.ctx, self.opts, self.batches, self.proxies, self.rank_on = ctx, opts, batches, proxies, rank_on
        self.history, self.on_counts, self.scoring_s = [], {e.id: 0 for e in ctx.space.edges}, 0.0
        self.last, self.record = None, {}

    def on_train_begin(self, state):
        self.period = max(1, math.ceil(self.opts.interval * state.steps_per_epoch))
        if self.opts.warmup_steps == 0:
            self._reallocate(state, 0)

    def on_step_end(self, step, state):
        if step >= state.total_steps or step < self.opts.warmup_steps:
            return
        if step == self.opts.warmup_steps or (step % state.steps_per_epoch) % self.period == 0:
            self._reallocate(state, step)

    def _reallocate(self, state, step):
        ctx, handle = self.ctx, state.handle
        for a in handle.adapters.values():
            a.mask.fill_(1.0)
        t0 = time.perf_counter()
        result = score_live(ctx, state.model, handle, self.batches, self.proxies)
        scores, used = scores_to_allocate(result, self.opts)
        ids = list(handle.adapters)

        def decide():  # rank 0 only under torch.distributed: every rank toggles the same edges
            alloc = select(ctx.space, ctx.budget, scores, granularity="edge", rank_on=self.rank_on,
                           mode=self.opts.mode, normalize=self.opts.normalize,
                           seed=ctx.seed * 100_003 + len(self.history), fill=False)
            return torch.tensor([alloc.ranks.get(eid, 0) > 0 for eid in ids])
        flags = rank0_decides(decide, (len(ids),))
        turned_on = set()
        for eid, on in zip(ids, flags.tolist()):
            a = handle.adapters[eid]
            a.mask.fill_(1.0 if on else 0.0)
            for p in a.parameters():
                p.requires_grad_(on)
            self.on_counts[eid] += on
            if on:
                turned_on.add(eid)
        dt = time.perf_counter() - t0
        self.scoring_s += dt
        self.history.append({"step": step, "on": sorted(turned_on),
                             "scoring_s": dt, "used_proxy": used})
        self.last = (result, used)

    def on_train_end(self, state):
        if self.last is None:
            raise InputError(f"proxy-dynamic never reallocated: the run has {state.total_steps} steps but "
                             f"warmup_steps is {self.opts.warmup_steps}")
        result, used = self.last
        rec = describe_scores(result, self.opts, used, self.rank_on, "edge", state.handle.allocation)
        rec.update({"scoring_s": self.scoring_s, "reallocations": self.history,
                    "interval_steps": self.period, "on_counts": self.on_counts})
        self.record = rec

    def describe(self) -> dict:
        return self.record
