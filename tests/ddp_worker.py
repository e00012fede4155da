"""One process of tests/test_distributed.py: train the in-training allocators on the tiny planted
task through ``rankscope.search.pipeline`` and write, per optimizer step, the masks this rank applied.

    python tests/ddp_worker.py OUT_DIR [--disagree]

Under torchrun-style variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) it joins a gloo
group. ``--disagree`` makes every rank but 0 compute reversed scores, as ranks scoring on their
own data shards would: the masks must still be identical, because rank 0 decides.
"""

import json
import os
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dataclasses import replace  # noqa: E402

from rankscope import distributed  # noqa: E402
from rankscope.allocators.proxy import dynamic as proxy_dynamic  # noqa: E402
from rankscope.allocators.svd import adalora, salient
from rankscope.harness.hooks import StepHook  # noqa: E402
from rankscope.search.config import SearchConfig  # noqa: E402
from rankscope.search.pipeline import run  # noqa: E402
from rankscope.search.session import Session  # noqa: E402
from rankscope.search.validate import validate  # noqa: E402
from rankscope.testing import SMALL_RUN  # noqa: E402

RUNS = {
    "salient": {"init_steps": 1, "allocation_steps": 8, "T_i": 2, "T_f": 6},
    "adalora": {"tinit": 2, "tfinal": 4},
    "proxy-dynamic": {"proxy": "grad_norm", "n_batches": 2, "interval": 0.25},
}


class Recorder(StepHook):
    """Delegates to the allocator's hook; records the masks (and AdaLoRA's zeroed λ) each step."""

    def __init__(self, inner):
        self.inner, self.steps, self.losses = inner, [], []

    def on_train_begin(self, state):
        self.inner.on_train_begin(state)

    def on_step_end(self, step, state):
        self.inner.on_step_end(step, state)
        signature = [[int(m != 0) for m in a.mask.tolist()] for a in state.handle.adapters.values()]
        if state.handle.form == "svd":
            signature += [[int(x == 0) for x in a.lam.detach().tolist()] for a in state.handle.adapters.values()]
        self.steps.append(signature)
        self.losses.append(state.loss)

    def on_train_end(self, state):
        self.inner.on_train_end(state)


def disagree():
    """Reverse the scores every decision is made from, on this rank only."""
    real_salience = salient.salience_scores

    def reversed_salience(*a, **kw):
        res = real_salience(*a, **kw)
        res.salience = -res.salience
        return res
    salient.salience_scores = reversed_salience
    real_triplets = adalora.AdaLoRAHook.triplet_scores
    adalora.AdaLoRAHook.triplet_scores = lambda self: -real_triplets(self)
    real_scores = proxy_dynamic.scores_to_allocate

    def reversed_scores(*a, **kw):
        scores, used = real_scores(*a, **kw)
        return {e: -float(v) if not isinstance(v, list) else [-x for x in v] for e, v in scores.items()}, used
    proxy_dynamic.scores_to_allocate = reversed_scores


def main(out: Path, disagreeing: bool):
    distributed.init_from_env("cpu")
    if disagreeing and distributed.rank() != 0:
        disagree()
    record = {"rank": distributed.rank(), "world": distributed.world_size()}
    for name, options in RUNS.items():
        # 64 examples in batches of 21: every 4th batch has ONE row, so rank 1 gets an empty shard
        cfg = SearchConfig(allocator=name, allocator_options=options,
                           **{**SMALL_RUN, "max_steps": 16, "batch_size": 21}).resolved()
        session = Session(cfg, progress=False)
        for m in session.model.modules():  # dropout draws per row: off, so sharded = full-batch exactly
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        allocator = validate(cfg)
        recorders = []
        inner_propose = allocator.propose

        def recorded(ctx, inner_propose=inner_propose):  # wrap the plan's hook to record every step
            plan = inner_propose(ctx)
            recorders.append(Recorder(plan.hook))
            return replace(plan, hook=recorders[-1])
        allocator.propose = recorded
        result = run(session, allocator)
        assert result.completed, result.failure
        record[name] = {"masks": recorders[0].steps, "losses": recorders[0].losses,
                        "final": result.final.ranks, "dev": result.metrics["final"]}
    (out / f"rank{distributed.rank()}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]), "--disagree" in sys.argv)
