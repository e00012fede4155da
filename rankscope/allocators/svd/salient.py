"""``salient``: SalientLoRA (Ke et al., NeurIPS 2024) on SVD-form edges
(docs/architecture.md, "SalientLoRA and AdaLoRA").

The harness trains the supernet (every edge at r₀, P·diag(λ)·Q, loss + c_orth·R); this hook runs
once per optimizer step::

    n_i < t ≤ n_i + n_f:  record λ(t) ⊙ mask (signed, [N]) and R(t) (this step's orthogonality
                          value: exactly one of each per step, eval forwards excluded — A9)
    at a window close (:class:`~rankscope.salience.WindowSchedule`):
        salience = mix(OAM, ID) over the window                   (:mod:`rankscope.salience`)
        prune the lowest-salience live triplets until the adapter parameters fit B(t)
        (mask ← 0: irreversible; P, Q of pruned triplets stay under the orth penalty — A10)
    t = n_i + n_f (final_prune): prune to exactly the budget; with ``compact`` slice the pruned
        ranks away, so the final phase trains smaller matrices (AdamW moments carried over)

No gradients are read: the salience is gradient-free. Shortcut edges are SVD-form units like any
other edge. The schedule prunes to a PARAMETER budget (SalientLoRA counts triplets; see
:mod:`.triplets`): with mixed edge sizes the two differ, and only the parameter form matches
the budget every rankscope allocator is held to.
"""

from __future__ import annotations

import time

import torch

from rankscope.allocators.base import Allocator
from rankscope.allocators.context import AllocationContext, Plan
from rankscope.allocators.svd.options import SalientOptions
from rankscope.allocators.svd.report import PruningSection
from rankscope.allocators.svd.triplets import (
    PruneEvent,
    Triplets,
    keep_within,
    steps_option,
    svd_supernet,
)
from rankscope.distributed import rank0_decides
from rankscope.errors import TrainingError
from rankscope.harness.hooks import StepHook
from rankscope.salience import WindowSchedule, salience_scores


class SalientAllocator(Allocator):
    name = "salient"
    before_training = False  # its ranks come from the training (a step hook)
    report_section = PruningSection()
    form = "svd"

    options_class = SalientOptions

    def propose(self, ctx: AllocationContext) -> Plan:
        o, total = self.opts, ctx.trainer.total_steps
        r0, net = svd_supernet(ctx, o.init_rank)
        # validates the schedule before any training
        schedule = WindowSchedule(total, steps_option(o.init_steps, total, "init_steps"),
                                  steps_option(o.allocation_steps, total, "allocation_steps"),
                                  o.T_i, o.T_f, net.params, ctx.budget.params, o.schedule, o.final_prune)
        return Plan(net, SalienceHook(ctx, o, schedule, r0))


class SalienceHook(StepHook):
    def __init__(self, ctx: AllocationContext, opts: SalientOptions, schedule: WindowSchedule, r0: int):
        self.ctx, self.opts, self.sched, self.r0 = ctx, opts, schedule, r0
        self.lam_buf, self.orth_buf, self.events = [], [], []
        self.salience_s, self.compacted_at, self.record = 0.0, None, {}

    def on_train_begin(self, state):
        self.triplets = Triplets(state.handle)

    def on_step_end(self, step, state):
        if not self.sched.recording(step):
            return
        self.lam_buf.append(self.triplets.lam())
        orth = state.orth
        if orth is None:  # orth_reg = 0: the harness did not compute R; measure it (no grad)
            with torch.no_grad():
                orth = float(state.handle.orth_penalty())
        self.orth_buf.append(orth)
        target = self.sched.step(step)
        if target is not None:
            self._prune(step, target)
        if step == self.sched.end and self.opts.compact and self.events:
            self.triplets = self.triplets.compact(state)
            self.compacted_at = step

    def _prune(self, step, target):
        t0 = time.perf_counter()
        tri, found = self.triplets, {"n_edges": 0}

        def decide():  # rank 0 only under torch.distributed; the others receive its mask
            X = torch.stack(self.lam_buf, dim=1)  # N × W
            R = torch.tensor(self.orth_buf, dtype=torch.float64)
            res = salience_scores(X, R, tri.groups, beta=self.opts.beta, gamma=self.opts.gamma,
                                  mix_lambda=self.opts.mix_lambda, mix=self.opts.salience_mix,
                                  oam_scope=self.opts.oam_scope)
            found["n_edges"] = res.n_edges
            return keep_within(torch.from_numpy(res.salience), tri.costs, target, tri.alive())
        keep = rank0_decides(decide, (tri.n,))
        tri.set_masks(keep)
        dt = time.perf_counter() - t0
        self.salience_s += dt
        self.events.append(PruneEvent(step, int(target), tri.params(keep), int(keep.sum()), len(self.lam_buf), dt,
                                      found["n_edges"]))
        self.lam_buf, self.orth_buf = [], []

    def on_train_end(self, state):
        final = state.handle.allocation
        if not self.events:
            raise TrainingError(f"salient never pruned: the run ended at step {state.total_steps} before the "
                                f"first window closed (init_steps {self.sched.n_i}, T_i {self.sched.T_i})")
        if final.params > self.ctx.budget.params:
            raise TrainingError(
                f"salient ended with {final.params:,} adapter parameters, above the budget of "
                f"{self.ctx.budget.params:,}: schedule={self.opts.schedule!r} with final_prune="
                f"{self.opts.final_prune} stops short of the target (the released code's quirk A7); "
                f"use the default schedule or final_prune=true")
        s = self.sched
        self.record = {
            "options": self.opts.to_dict(), "init_rank": self.r0, "init_params": s.budget_init,
            "schedule": {"total": s.total, "n_i": s.n_i, "n_f": s.n_f, "final_phase": s.total - s.end,
                         "T_i": s.T_i, "T_f": s.T_f, "variant": s.variant},
            "prune_events": [e.to_dict() for e in self.events], "salience_s": self.salience_s,
            "compacted_at": self.compacted_at, "final_ranks": final.ranks,
        }

    def describe(self) -> dict:
        return self.record
