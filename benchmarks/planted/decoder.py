"""Planted-task step cost against a causal-LM step on the same decoder, batch and length.

One optimizer step of each, with the same adapters (uniform at the planted budget on the same
space), the same AdamW and clipping::

    planted   forward with every hidden state → normalised streams → projections → MSE, backward
    causal    forward → logits over the vocabulary → next-token cross-entropy, backward

The rows are the planted task's own inputs (random token sequences of ``seq_len`` tokens plus the
tokenizer's special tokens); the causal step uses them as labels. It prints the median step time
of each and their ratio, then the time a planted evaluation row costs::

    OMP_NUM_THREADS=2 python -m benchmarks.planted.decoder --model smollm2 --steps 3 --batch-size 32
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks.common.rows import repeat_seconds
from rankscope.adapters.attach import attach
from rankscope.allocation.budget import Budget
from rankscope.allocators.uniform import uniform_allocation
from rankscope.harness.loop import evaluate_batches
from rankscope.harness.objectives import CausalLM
from rankscope.models.loading import load_model
from rankscope.registry import SPACES
from rankscope.search.config import SearchConfig
from rankscope.search.session import Session


def timed_steps(model, params, loss_fn, batch, steps: int) -> list[float]:
    """Wall seconds of ``steps`` optimizer steps (after one untimed warm-up step)."""
    opt = torch.optim.AdamW(params, lr=1e-4)

    def step():
        loss_fn(model, batch).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return repeat_seconds(step, steps)


def main(argv: list[str] | None = None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.planted.decoder", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--space", default="shortcuts")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=None, help="planted seq_len (default: the task's)")
    args = ap.parse_args(argv)
    planted = {"n_train": args.batch_size, "n_dev": args.batch_size, "n_plants": 3}
    if args.seq_len:
        planted["seq_len"] = args.seq_len
    cfg = SearchConfig(model=args.model, space=args.space, max_steps=args.steps, batch_size=args.batch_size,
                       planted=planted).resolved()
    t0 = time.perf_counter()
    session = Session(cfg, progress=False)
    prep = time.perf_counter() - t0
    batch = session.task.collate(session.task.train[:args.batch_size])
    alloc = session.uniform()
    objective = session.task.objective
    handle = attach(session.model, session.space, alloc, seed=0, **cfg.attach_options())
    params = [p for p in session.model.parameters() if p.requires_grad] + list(objective.parameters())
    session.model.train()
    planted_s = timed_steps(session.model, params, lambda m, b: objective.forward(m, b)[0], batch, args.steps)
    t0 = time.perf_counter()
    evaluate_batches(session.model, objective, [batch])
    eval_row_s = (time.perf_counter() - t0) / args.batch_size
    handle.detach()
    del session

    lm, _ = load_model(args.model, causal_lm=True)
    lm_space = SPACES.get(args.space)(lm, max_rank=cfg.max_rank)
    lm_alloc = uniform_allocation(lm_space, Budget(alloc.params, "planted"), "lora")
    lm_handle = attach(lm, lm_space, lm_alloc, seed=0, **cfg.attach_options())
    lm.train()
    lm_batch = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                "labels": batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)}
    causal_s = timed_steps(lm, [p for p in lm.parameters() if p.requires_grad],
                           lambda m, b: CausalLM().forward(m, b)[0], lm_batch, args.steps)
    lm_handle.detach()
    p, c = statistics.median(planted_s), statistics.median(causal_s)
    tokens = int(batch["attention_mask"].sum())
    print(f"model {args.model}, space {args.space}, batch {args.batch_size} × {batch['input_ids'].shape[1]} tokens "
          f"({tokens} real), {args.steps} timed steps each, torch threads {torch.get_num_threads()}")
    print(f"{'step':<10}{'median s':>10}{'per 1k tokens s':>18}")
    print(f"{'planted':<10}{p:>10.2f}{1000 * p / tokens:>18.2f}")
    print(f"{'causal':<10}{c:>10.2f}{1000 * c / tokens:>18.2f}")
    print(f"ratio planted/causal {p / c:.2f} (target ≤ 3); planted eval {eval_row_s:.3f} s/row; "
          f"task preparation {prep:.1f} s")


if __name__ == "__main__":
    main()
