"""``proxy-static``: HeteroLoRA's static mode (docs/architecture.md, "HeteroLoRA").

    the trainer attaches every candidate edge at rank_on (the supernet; no copy of the model),
    [optional] trains it ``warmup_steps`` steps, and the ScoreAtEnd hook scores all edges with
    the proxies in one pass over K batches; detach, head restored
    project the scores to the budget (shared projection)
    → the harness trains the allocation from a fresh initialisation, as the paper does

Options: :mod:`.options`. Scores, timings and the proxy-vs-rank correlation go into
``result.json["extras"]["allocator"]``.
"""

from __future__ import annotations

import time

from rankscope.allocators.base import Allocator
from rankscope.allocators.context import AllocationContext, Plan
from rankscope.allocators.proxy.options import ProxyOptions
from rankscope.allocators.proxy.report import ProxySection
from rankscope.allocators.proxy.scorer import ScoreAtEnd
from rankscope.allocators.proxy.select import (
    describe_scores,
    resolve_granularity,
    scores_to_allocate,
    scoring_setup,
    select,
    supernet,
)
from rankscope.errors import InputError


class ProxyStaticAllocator(Allocator):
    name = "proxy-static"
    before_training = True
    report_section = ProxySection()

    options_class = ProxyOptions

    def propose(self, ctx: AllocationContext) -> Plan:
        opts, space = self.opts, ctx.space
        batches, proxies, rank_on = scoring_setup(opts, ctx)
        granularity = resolve_granularity(opts, proxies[0])
        scorer = ScoreAtEnd(ctx, batches, proxies)
        t0 = time.perf_counter()
        # the warm-up's head serves the scores only: the trainer restores it afterwards
        ctx.trainer.train(supernet(space, rank_on), scorer, steps=opts.warmup_steps, evaluate=False,
                          progress=False, desc="warm-up")
        warm_s = time.perf_counter() - t0 - scorer.seconds
        scores, used = scores_to_allocate(scorer.result, opts)
        alloc = select(space, ctx.budget, scores, granularity=granularity, rank_on=rank_on, mode=opts.mode,
                       normalize=opts.normalize, seed=ctx.seed)
        if alloc.params == 0:
            raise InputError(f"the budget ({ctx.budget.params:,}) is below one edge at rank_on={rank_on}; "
                             "lower rank_on or raise the budget")
        record = describe_scores(scorer.result, opts, used, rank_on, granularity, alloc)
        return Plan(alloc, record={**record, "warmup_s": warm_s if opts.warmup_steps else 0.0})
