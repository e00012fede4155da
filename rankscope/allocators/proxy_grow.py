"""``proxy-grow``: :mod:`.proxy_greedy`'s forward selection inside the one training run.

The in-training form of the same idea: edges are switched on one at a time during the run,
each chosen on the residual that the edges already training leave, and nothing restarts::

    attach every edge at the rank a round's share buys, masked off and frozen (B = 0)
    at steps 0, s, 2s, … (R rounds, s = ``round_steps``, default 5 % of the run):
        score every edge on the live model (the proxy, one pass on the K scoring batches)
        switch on the unchosen edge of best score per parameter: mask 1, trainable
    after the last round: slice the edges never chosen away (``compact``); the chosen ones
        train to the end of the schedule (the first for all of it, the last for T − (R−1)·s)

The allocation is final once chosen (no edge is switched off), so the run's allocation is
known after (R − 1)·s steps. Options as ``proxy-greedy``.
"""

from __future__ import annotations

import time

from ..allocation import Allocation
from ..errors import InputError
from ..harness.hooks import StepHook
from .base import Allocator
from .context import AllocationContext, Plan
from .proxy_greedy import GreedyOptions, choose, share_rank
from .proxy_report import ProxySection
from .proxy_scorer import score_live
from .proxy_select import describe_scores, scores_to_allocate, scoring_setup


class ProxyGrowAllocator(Allocator):
    name = "proxy-grow"
    report_section = ProxySection()

    options_class = GreedyOptions

    def propose(self, ctx: AllocationContext) -> Plan:
        o = self.opts
        length = o.round_length(ctx.trainer.total_steps)
        last = (o.rounds - 1) * length
        if last >= ctx.trainer.total_steps:
            raise InputError(f"proxy-grow's last round would come at step {last}, but the run has "
                             f"{ctx.trainer.total_steps} steps; lower rounds or round_steps")
        batches, proxies, rank_on = scoring_setup(o, ctx)
        share = ctx.budget.params / o.rounds
        net = Allocation(ctx.space, {e.id: share_rank(e, share) for e in ctx.space.edges})
        if net.params == 0:
            raise InputError(f"the budget ({ctx.budget.params:,}) split into {o.rounds} rounds buys no edge at "
                             f"rank 1; use fewer rounds")
        return Plan(net, GrowHook(ctx, o, batches, proxies, share, rank_on, length))


class GrowHook(StepHook):
    def __init__(self, ctx, opts: GreedyOptions, batches: list, proxies: list, share: float, rank_on: int,
                 length: int):
        self.ctx, self.o, self.batches, self.proxies, self.share, self.length = ctx, opts, batches, proxies, share, length
        self.rank_on, self.chosen, self.rounds, self.scoring_s = rank_on, {}, [], 0.0
        self.last, self.record, self.closed = None, {}, False

    def on_train_begin(self, state):
        for a in state.handle.adapters.values():
            a.mask.fill_(0.0)
            for p in a.parameters():
                p.requires_grad_(False)
        self._round(state, 0)

    def on_step_end(self, step, state):
        if not self.closed and step % max(1, self.length) == 0:
            self._round(state, step)

    def _round(self, state, step):
        t0 = time.perf_counter()
        result = score_live(self.ctx, state.model, state.handle, self.batches, self.proxies)
        scores, used = scores_to_allocate(result, self.o)
        pick = choose(self.ctx.space, {i: scores[i] for i in state.handle.adapters}, self.chosen, self.share)
        self.scoring_s += time.perf_counter() - t0
        if pick is not None:
            self.chosen[pick["edge"]] = pick["rank"]
            a = state.handle.adapters[pick["edge"]]
            a.mask.fill_(1.0)
            for p in a.parameters():
                p.requires_grad_(True)
        self.rounds.append({"step": step, **(pick or {"edge": None})})
        self.last = (result, used)
        if len(self.rounds) == self.o.rounds or pick is None:
            self.closed = True
            state.rebuild_optimizer(state.handle.compact())  # the edges never chosen are gone

    def on_train_end(self, state):
        result, used = self.last
        rec = describe_scores(result, self.o, used, self.rank_on, "edge", state.handle.allocation)
        self.record = {**rec, "rounds": self.rounds, "scoring_s": self.scoring_s}

    def describe(self) -> dict:
        return self.record
