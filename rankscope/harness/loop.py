"""The one training loop. Every allocator — static, in-training, or outer search — trains here.

AdamW over the trainable parameters (adapters + task head), linear warm-up then linear decay,
gradient clipping, fixed seeds, dynamic padding, evaluation every ``eval_every`` steps, and the
per-optimizer-step hook protocol of :mod:`.hooks`. A NaN/inf loss stops the run with a
:class:`~rankscope.errors.TrainingError` that carries the partial history. Under
``torch.distributed`` each rank trains on its rows of every batch and gradients are summed over
ranks, so the run follows the single-process one step for step (:mod:`rankscope.distributed`).
"""

from __future__ import annotations

import logging
import math
import random
import time
from contextlib import nullcontext

import numpy as np
import torch
from tqdm.auto import tqdm

from rankscope import distributed
from rankscope.harness.data import PreparedTask, batches
from rankscope.harness.hooks import StepHook, TrainState
from rankscope.harness.objectives import to_numpy
from rankscope.harness.outcome import DivergedError, TrainOutcome
from rankscope.models.loading import head_modules

log = logging.getLogger(__name__)


#: intermediate evaluations (``--eval-every 0``) read at most this many dev rows per training row:
#: a forward pass costs about a third of a training step's forward and backward, so they stay
#: near a tenth of the training time
EVAL_ROWS_PER_TRAIN_ROW = 0.3
#: an intermediate evaluation on fewer rows than this says too little to be worth its time: a run
#: short enough to afford no more (under 27 steps of batch 8) reads dev once, at its end, where the
#: whole dev set already costs about two thirds of its training
MIN_EVAL_ROWS = 64
#: evaluations per run at most, the final one included
MAX_EVALS = 10


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def evaluate_batches(model, objective, batch_iter, device: str = "cpu") -> dict[str, float]:
    """The objective's metrics over ``batch_iter`` in eval mode, without gradients (the model's
    train/eval mode is restored). The harness evaluates dev with it; ALPHA-TEST its K batches."""
    was = model.training
    model.eval()
    preds, targets = [], []
    with torch.no_grad():
        for b in batch_iter:
            b = {k: v.to(device) for k, v in b.items()}
            _, p, t = objective.forward(model, b)
            preds.append(to_numpy(p))
            targets.append(to_numpy(t))
    model.train(was)
    return objective.metrics(np.concatenate(preds), np.concatenate(targets))


def _make_optimizer(params, cfg, lr: float):
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr)


def _adapter_param_keys(handle) -> dict[int, tuple[str, str]]:
    if handle is None:
        return {}
    return {id(p): (eid, n) for eid, a in handle.adapters.items() for n, p in a.named_parameters()}


def _carry_state(old_opt, new_opt, keys, kept, handle):
    """Move AdamW state to the new optimizer; slice moments of compacted adapters to the kept
    ranks along each parameter's rank dimension (``RANK_DIMS`` of the adapter class)."""
    live = {id(p) for g in new_opt.param_groups for p in g["params"]}
    for p_old, st in old_opt.state.items():
        key = keys.get(id(p_old))
        if key is None:
            if id(p_old) in live:
                new_opt.state[p_old] = st
            continue
        eid, name = key
        if eid not in handle.adapters:
            continue  # edge removed by compact
        p_new = getattr(handle.adapters[eid], name)
        if p_new is p_old:
            new_opt.state[p_new] = st
            continue
        dim, idx = handle.adapters[eid].RANK_DIMS[name], kept[eid]
        new_opt.state[p_new] = {k: (v.index_select(dim, idx.to(v.device)) if torch.is_tensor(v) and v.ndim > 0 else v)
                                for k, v in st.items()}


def head_parameters(model, objective) -> list:
    """The task head's parameters plus the objective's own (the planted task's bias)."""
    params = [p for m in head_modules(model).values() for p in m.parameters()]
    if isinstance(objective, torch.nn.Module):
        params += list(objective.parameters())
    return params


class Harness:
    """Train one attached model on one prepared task with one config.

    Every run starts from the same task head: the head's initial weights are snapshotted on the
    first run and restored before each later one, so baselines and allocators trained on one
    model instance are compared from identical starting points. :meth:`restore_head` puts them
    back after a run, so scoring between runs sees the untrained head too.
    """

    def __init__(self, task: PreparedTask, config):
        self.task, self.cfg = task, config  # a resolved SearchConfig
        self._head_init = None

    def _reset_head(self, model) -> list:
        head = head_parameters(model, self.task.objective)
        if self._head_init is None:
            self._head_init = [p.detach().clone() for p in head]
        self.restore_head(model)
        for p in head:
            p.requires_grad_(True)
        return head

    def restore_head(self, model) -> None:
        """Put the task head back to its initial weights (after a run: a proxy scored next must
        see the same head as a proxy scored before any training)."""
        if self._head_init is None:
            return
        with torch.no_grad():
            for p, init in zip(head_parameters(model, self.task.objective), self._head_init):
                p.copy_(init)

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.task.train) // self.cfg.batch_size)

    def total_steps(self) -> int:
        """``max_steps`` when set, else ``epochs`` × steps per epoch (at least 1)."""
        if self.cfg.max_steps is not None:
            return int(self.cfg.max_steps)
        return max(1, int(round(self.cfg.epochs * self.steps_per_epoch)))

    def eval_rows(self, k: int | None = None) -> list:
        """The dev rows of intermediate evaluations: a fixed seeded subset of ``k`` rows (default
        ``eval_subset``; in dev order), or all of dev when it is 0 or at least the dev size. The
        last evaluation of a run always uses all of dev."""
        n, k = len(self.task.dev), self.cfg.eval_subset if k is None else k
        if not k or k >= n:
            return self.task.dev
        keep = sorted(torch.randperm(n, generator=torch.Generator().manual_seed(104_729))[:k].tolist())
        return [self.task.dev[i] for i in keep]

    def eval_schedule(self, total: int, eval_every: int | None = None) -> tuple[int, list]:
        """``(every, rows)``: evaluate every ``every`` steps, on ``rows`` before the last step.

        Given ``eval_every`` (or ``--eval-every``), that and the ``eval_subset`` rows. Otherwise
        the evaluations are scaled to the run: the intermediate ones together read at most
        :data:`EVAL_ROWS_PER_TRAIN_ROW` dev rows per training row (``total × batch_size``), up
        to nine of them on ``eval_subset`` rows; a run too short for one such evaluation gets one
        on a smaller subset (at least :data:`MIN_EVAL_ROWS` rows), or none. The final evaluation
        always reads all of dev. For 20 steps of batch 8 that is none (48 rows would be too few);
        for 40 steps, one of 96 rows; for GSM8K's epoch (887 steps), nine of 256 rows."""
        every = eval_every or self.cfg.eval_every
        if every:
            return every, self.eval_rows()
        rows = self.eval_rows()
        budget = int(EVAL_ROWS_PER_TRAIN_ROW * total * self.cfg.batch_size)
        n = min(MAX_EVALS - 1, budget // max(1, len(rows)))
        if n == 0 and budget >= MIN_EVAL_ROWS:
            rows, n = self.eval_rows(budget), 1
        return max(1, -(-total // (n + 1))), rows

    def evaluate(self, model, rows: list | None = None) -> dict[str, float]:
        """The objective's metrics on ``rows`` (default: all of dev). Token rows are batched in
        order of length, so each batch pads little (the metrics are sums over rows, and do not
        depend on the order)."""
        rows = self.task.dev if rows is None else rows
        if rows and isinstance(rows[0], dict) and "input_ids" in rows[0]:
            rows = sorted(rows, key=lambda r: len(r["input_ids"]))
        dev = batches(rows, self.cfg.eval_batch_size, self.task.collate, shuffle=False)
        return evaluate_batches(model, self.task.objective, dev, self.cfg.device)

    def train(self, model, handle, hook: StepHook | None = None, *, total_steps: int | None = None,
              eval_every: int | None = None, evaluate: bool = True, report=None, progress: bool = True,
              desc: str = "train", lr: float | None = None) -> TrainOutcome:
        """Train ``model`` (with ``handle``'s adapters attached) and evaluate on dev.

        ``total_steps=0`` runs the hook's begin and end only. ``evaluate=False`` skips dev
        evaluation (a warm-up before scoring). ``report(step, metrics)`` is called after each
        evaluation (Optuna pruning uses it). ``lr``: the peak learning rate, if not ``cfg.lr``
        (a baseline trains at ``cfg.baseline_lr``).
        """
        cfg, hook = self.cfg, hook or StepHook()
        seed_everything(cfg.seed)
        total = self.total_steps() if total_steps is None else total_steps
        every, subset = self.eval_schedule(total, eval_every)
        model.to(cfg.device).train()
        if isinstance(self.task.objective, torch.nn.Module):
            self.task.objective.to(cfg.device)
        head = self._reset_head(model)
        extra = [p for p in head if not any(p is q for q in model.parameters())]

        def trainable():
            return [p for p in model.parameters() if p.requires_grad] + extra

        params = trainable()
        peak = cfg.lr if lr is None else lr
        opt = _make_optimizer(params, cfg, peak)
        warmup = int(cfg.warmup_ratio * total)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: (s + 1) / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
        state = TrainState(model, handle, opt, sched, total, self.steps_per_epoch)

        keys = _adapter_param_keys(handle)

        def rebuild_optimizer(kept=None):
            """Call after ``handle.compact()``: new AdamW over the live parameters, moments kept."""
            nonlocal opt, params, keys
            params = trainable()
            new = _make_optimizer(params, cfg, peak)
            _carry_state(opt, new, keys, kept or {}, handle)
            for g_new, g_old in zip(new.param_groups, opt.param_groups):
                g_new["lr"] = g_old["lr"]
            sched.optimizer = new
            opt = state.optimizer = new
            keys = _adapter_param_keys(handle)
        state.rebuild_optimizer = rebuild_optimizer

        gen = torch.Generator().manual_seed(cfg.seed)
        data_iter = iter(())
        history, best, final = [], None, {}
        primary = self.task.objective.primary
        sign = 1 if self.task.objective.greater_is_better else -1
        t0, eval_s = time.perf_counter(), 0.0
        hook.on_train_begin(state)
        world = distributed.world_size()
        bar = tqdm(range(1, total + 1), desc=desc, disable=not progress or not distributed.is_main(), leave=False,
                   dynamic_ncols=True)
        for step in bar:
            try:
                batch = next(data_iter)
            except StopIteration:
                data_iter = batches(self.task.train, cfg.batch_size, self.task.collate, shuffle=True, generator=gen)
                batch = next(data_iter)
            batch, n_here, n_all = distributed.shard(batch)  # data-parallel: this rank's rows
            batch = {k: v.to(cfg.device) for k, v in batch.items()}
            loss = torch.zeros((), device=cfg.device)
            if n_here:
                loss = self.task.objective.forward(model, batch)[0] * (n_here / n_all)
            orth = None
            if handle is not None and handle.form == "svd" and cfg.orth_reg > 0 and len(handle.adapters):
                orth_t = handle.orth_penalty()
                loss = loss + cfg.orth_reg * orth_t / world
                orth = float(orth_t.detach())
            if loss.requires_grad:
                loss.backward()
            loss_value = loss.detach().clone()
            distributed.all_reduce_sum_([loss_value])  # every rank sees the same (global) loss
            if not torch.isfinite(loss_value):
                bar.close()
                raise DivergedError(f"loss became {float(loss_value)} at step {step}", history)
            distributed.reduce_gradients(params)
            if cfg.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            opt.step()
            sched.step()
            state.step, state.loss, state.orth = step, float(loss_value), orth
            hook.on_step_end(step, state)
            opt.zero_grad(set_to_none=True)
            if evaluate and (step % every == 0 or step == total):
                t_eval = time.perf_counter()
                rows = self.task.dev if step == total else subset
                with handle.folded() if handle is not None else nullcontext():  # LoRA edges in the weights' matmuls
                    metrics = self.evaluate(model, rows)
                eval_s += time.perf_counter() - t_eval
                final = dict(metrics)
                entry = {"step": step, "train_loss": state.loss, "lr": sched.get_last_lr()[0], "dev": metrics,
                         "dev_rows": len(rows)}
                history.append(entry)
                value = metrics.get(primary, float("nan"))
                if best is None or (not math.isnan(value) and sign * value > sign * best[primary]):
                    best = {**metrics, "step": step, "dev_rows": len(rows)}
                bar.set_postfix({primary: f"{value:.4f}", "loss": f"{state.loss:.4f}"})
                log.debug("step %d loss %.4f %s", step, state.loss, metrics)
                if report is not None:
                    report(step, metrics)
        bar.close()
        hook.on_train_end(state)
        return TrainOutcome(final=final, best=best or {}, history=history, train_s=time.perf_counter() - t0,
                            steps=total, eval_s=eval_s, allocation=handle.allocation if handle is not None else None)
