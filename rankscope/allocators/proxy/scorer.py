"""Scoring the edges of a live supernet with zero-cost proxies, through the trainer.

``proxy-static`` scores its supernet where training leaves it: after ``warmup_steps`` steps, or
untrained (``steps=0``). :class:`ScoreAtEnd` is the step hook that does it, so the supernet is
attached, (warmed up,) scored, detached and the head restored by the one trainer path::

    scorer = ScoreAtEnd(ctx, batches, proxies)
    ctx.trainer.train(supernet, scorer, steps=warmup_steps, evaluate=False)
    scorer.result        # ScoreResult: {proxy: {edge: score}}, seconds, NaN edges
"""

from __future__ import annotations

import time

from rankscope.harness.hooks import StepHook
from rankscope.scoring import ScoreResult, score_edges


def score_live(ctx, model, handle, batches: list, proxies: list) -> ScoreResult:
    """Score every edge attached by ``handle`` with ``proxies`` on ``batches`` (one pass)."""
    return score_edges(model, handle, ctx.trainer.objective, batches, proxies, seed=ctx.seed,
                       device=ctx.trainer.device)


class ScoreAtEnd(StepHook):
    """Score the supernet once its training ends (``steps=0``: before any step)."""

    def __init__(self, ctx, batches: list, proxies: list):
        self.ctx, self.batches, self.proxies = ctx, batches, proxies
        self.result: ScoreResult | None = None
        self.seconds = 0.0

    def on_train_end(self, state) -> None:
        t0 = time.perf_counter()
        self.result = score_live(self.ctx, state.model, state.handle, self.batches, self.proxies)
        self.seconds = time.perf_counter() - t0
