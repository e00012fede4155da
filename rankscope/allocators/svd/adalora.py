"""``adalora``: AdaLoRA (Zhang et al., ICLR 2023) as PEFT implements it
(docs/architecture.md, "SalientLoRA and AdaLoRA").

The harness trains the SVD-form supernet (every edge at r₀, loss + c_orth·R); this hook runs once
per optimizer step, after ``optimizer.step()`` and before ``zero_grad()`` (PEFT's
``update_and_allocate`` order), with B(t) the parameter budget::

    t < T − t_final:  for every P, λ, Q entry p:  I = |p ⊙ ∇p|
                          Ī ← β₁ Ī + (1 − β₁) I                 sensitivity EMA
                          Ū ← β₂ Ū + (1 − β₂) |I − Ī|           uncertainty EMA (fresh Ī)
                      triplet score  S_i = s(λ_i) + mean_j s(Q_ij) + mean_j s(P_ji),  s = Ī ⊙ Ū
    B(t) = B₀                                             t ≤ t_init
         = B_T + (B₀ − B_T) · (1 − (t − t_init)/(T − t_final − t_init))³      (cubic)
         = B_T                                            t > T − t_final
    mask when t mod ΔT = 0 (t_init < t < T − t_final): λ of the triplets outside the best-scoring
         set that fits B(t) is zeroed IN PLACE — reversible: P, Q, λ keep training and a triplet
         can regrow and be re-selected
    t = T − t_final: the final mask to B_T (no score update), frozen as the rank pattern (the
         mask buffer), so the final phase trains the pattern; ``compact`` optionally slices it

PEFT budgets in triplets (target_r × #matrices); rankscope in parameters (:mod:`.triplets`).
With equal-size edges both keep the same top-b set: the parity test against PEFT checks the masks
at every allocation step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rankscope.allocators.base import Allocator
from rankscope.allocators.context import AllocationContext, Plan
from rankscope.allocators.svd.options import AdaLoRAOptions
from rankscope.allocators.svd.report import PruningSection
from rankscope.allocators.svd.triplets import (
    PruneEvent,
    Triplets,
    keep_within,
    steps_option,
    svd_supernet,
)
from rankscope.distributed import rank0_decides
from rankscope.errors import InputError, TrainingError
from rankscope.harness.hooks import StepHook


class AdaLoRAAllocator(Allocator):
    name = "adalora"
    before_training = False  # its ranks come from the training (a step hook)
    report_section = PruningSection()
    form = "svd"

    options_class = AdaLoRAOptions

    def propose(self, ctx: AllocationContext) -> Plan:
        o, total = self.opts, ctx.trainer.total_steps
        schedule = AdaLoRASchedule(total, steps_option(o.tinit, total, "tinit"), steps_option(o.tfinal, total, "tfinal"),
                                   o.deltaT)
        r0, net = svd_supernet(ctx, o.init_rank)
        return Plan(net, AdaLoRAHook(ctx, o, schedule, r0, net.params))


@dataclass(frozen=True)
class AdaLoRASchedule:
    """PEFT's ``budget_schedule``: B(t) from the supernet's B₀ down to the budget B_T (cubic)."""

    total: int
    tinit: int
    tfinal: int
    deltaT: int

    def __post_init__(self):
        end = self.total - self.tfinal
        if self.tinit >= end or end < 2:  # the final mask at step `end` needs ≥ 1 scored step before it
            raise InputError(f"the AdaLoRA schedule does not fit the run: tinit ({self.tinit}) must be below "
                             f"total_steps − tfinal ({self.total} − {self.tfinal} = {end}), which must be at least 2 "
                             f"(one scored step before the final mask); no budgeting phase is left")

    @property
    def end(self) -> int:
        """T − t_final: the step of the final mask."""
        return self.total - self.tfinal

    def budget(self, step: int, b0: float, bt: float) -> tuple[float, bool]:
        """(B(step), whether to mask at this step)."""
        if step <= self.tinit:
            return b0, False
        if step > self.end:
            return bt, True
        mul = 1 - (step - self.tinit) / (self.end - self.tinit)
        return (b0 - bt) * mul ** 3 + bt, step % self.deltaT == 0


class AdaLoRAHook(StepHook):
    def __init__(self, ctx: AllocationContext, opts: AdaLoRAOptions, schedule: AdaLoRASchedule, r0: int,
                 init_params: int):
        self.ctx, self.o, self.schedule, self.r0, self.init_params = ctx, opts, schedule, r0, init_params
        self.ema_ipt, self.ema_unc = {}, {}
        self.events, self.final_keep, self.record = [], None, {}

    def on_train_begin(self, state):
        self.triplets = Triplets(state.handle)

    def budget(self, step: int) -> tuple[float, bool]:
        return self.schedule.budget(step, self.init_params, self.ctx.budget.params)

    # ------------------------------------------------------------ scores (PEFT update_ipt)
    def update_scores(self) -> None:
        b1, b2 = self.o.beta1, self.o.beta2
        with torch.no_grad():
            for a in self.triplets.adapters:
                for name in ("P", "lam", "Q"):
                    p = getattr(a, name)
                    if p.grad is None:
                        raise TrainingError("adalora needs this step's gradients: the hook must run before "
                                            "zero_grad() (every adapter parameter must have a .grad)")
                    ipt = (p * p.grad).abs()
                    key = (id(a), name)
                    avg = self.ema_ipt.get(key, torch.zeros_like(p))
                    unc = self.ema_unc.get(key, torch.zeros_like(p))
                    avg = b1 * avg + (1 - b1) * ipt
                    self.ema_ipt[key] = avg
                    self.ema_unc[key] = b2 * unc + (1 - b2) * (ipt - avg).abs()

    def triplet_scores(self) -> torch.Tensor:
        out = []
        for a in self.triplets.adapters:
            s = {n: self.ema_ipt[(id(a), n)] * self.ema_unc[(id(a), n)] for n in ("P", "lam", "Q")}
            out.append(s["lam"] + s["Q"].mean(dim=1) + s["P"].mean(dim=0))
        return torch.cat(out).double().cpu()

    # ------------------------------------------------------------ the hook
    def on_step_end(self, step, state):
        end = self.schedule.end
        if step < end:
            self.update_scores()
        if step > end:
            return  # the frozen pattern lives in the mask buffers
        b, mask_now = self.budget(step)
        if not (mask_now or step == end):
            return
        tri = self.triplets
        # decided on rank 0 under torch.distributed: every rank zeroes and masks the same triplets
        keep = rank0_decides(lambda: keep_within(self.triplet_scores(), tri.costs, b), (tri.n,))
        tri.zero_lam(keep)
        self.events.append(PruneEvent(step, int(b), tri.params(keep), int(keep.sum())))
        if step == end:
            tri.set_masks(keep)
            self.final_keep = keep
            self.ema_ipt, self.ema_unc = {}, {}  # PEFT's reset_ipt: free the buffers
            if self.o.compact:
                self.triplets = self.triplets.compact(state)

    def on_train_end(self, state):
        if self.final_keep is None:
            raise TrainingError(f"adalora never fixed its final rank pattern: training ended at step "
                                f"{state.step} before step T − tfinal = {self.schedule.end}")
        final, sched = state.handle.allocation, self.schedule
        self.record = {
            "options": self.o.to_dict(), "init_rank": self.r0, "init_params": self.init_params,
            "schedule": {"total": sched.total, "tinit": sched.tinit, "tfinal": sched.tfinal, "deltaT": sched.deltaT},
            "mask_events": len(self.events),
            "prune_events": [e.to_dict() for e in self.events[:: max(1, len(self.events) // 50)]],  # sampled
            "final_ranks": final.ranks,
        }

    def describe(self) -> dict:
        return self.record
