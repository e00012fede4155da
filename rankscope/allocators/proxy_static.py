"""``proxy-static``: HeteroLoRA's static mode (specs/heterolora.md §4.1).

    attach every candidate edge at rank_on (the supernet)          no copy of the model
    [optional] train it ``warmup_steps`` steps through the harness
    score all edges with the proxies in one pass over K batches
    detach; project the scores to the budget (shared projection)
    → the harness trains the allocation from a fresh initialisation, as the paper does

Options: :mod:`.proxy_options`. Scores, timings and the proxy-vs-rank correlation go into
``result.json["extras"]["allocator"]``.
"""

from __future__ import annotations

import time

from ..allocation import Allocation
from ..attach import attach
from ..errors import InputError
from ..scoring import score_edges
from .base import AllocationContext, Allocator
from .proxy_options import ProxyOptions
from .proxy_select import (describe_scores, resolve_granularity, scores_to_allocate, scoring_setup, select,
                           supernet)


class ProxyStaticAllocator(Allocator):
    name = "proxy-static"

    def __init__(self, **options):
        self.opts = ProxyOptions.from_kwargs(**options)
        self._record: dict = {}

    def propose(self, ctx: AllocationContext) -> Allocation:
        opts, space = self.opts, ctx.space
        task, tcfg = ctx.harness.task, ctx.harness.cfg
        batches, proxies, rank_on = scoring_setup(opts, ctx)
        granularity = resolve_granularity(opts, proxies[0])
        handle = attach(ctx.model, space, supernet(space, rank_on), form="lora", seed=ctx.seed,
                        **ctx.attach_options)
        t0 = time.perf_counter()
        try:
            if opts.warmup_steps:
                ctx.harness.train(ctx.model, handle, total_steps=opts.warmup_steps, progress=False,
                                  desc="warm-up")
            warm_s = time.perf_counter() - t0
            result = score_edges(ctx.model, handle, task.objective, batches, proxies, seed=ctx.seed,
                                 device=tcfg.device)
        finally:
            handle.detach()
            if opts.warmup_steps:
                ctx.harness.restore_head(ctx.model)  # the warm-up's head served the scores only
        scores, used = scores_to_allocate(result, opts)
        alloc = select(space, ctx.budget, scores, granularity=granularity, rank_on=rank_on, mode=opts.mode,
                       normalize=opts.normalize, seed=ctx.seed)
        if alloc.params == 0:
            raise InputError(f"the budget ({ctx.budget.params:,}) is below one edge at rank_on={rank_on}; "
                             "lower rank_on or raise the budget")
        self._record = describe_scores(result, opts, used, rank_on, granularity, alloc)
        self._record["warmup_s"] = warm_s
        return alloc

    def describe(self) -> dict:
        return self._record
