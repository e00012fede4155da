"""``adalora``: AdaLoRA (Zhang et al., ICLR 2023) as PEFT implements it (specs/salientlora.md §7).

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

PEFT budgets in triplets (target_r × #matrices); rankscope in parameters (:mod:`.svd_triplets`).
With equal-size edges both keep the same top-b set: the parity test against PEFT checks the masks
at every allocation step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..distributed import rank0_decides
from ..errors import InputError, TrainingError
from ..harness.hooks import StepHook
from .base import AllocationContext, Allocator
from .options import AllocatorOptions
from .svd_triplets import PruneEvent, Triplets, keep_within, steps_option, svd_supernet


@dataclass
class AdaLoRAOptions(AllocatorOptions):
    """``init_rank`` (r₀, default 4 × uniform), ``tinit`` (warm-up; steps or fraction, default 0.1),
    ``tfinal`` (the final phase's LENGTH, as PEFT; default 0.4), ``deltaT`` (mask interval, 1),
    ``beta1``/``beta2`` (EMA factors, 0.85), ``compact`` (slice the final pattern, default off as
    PEFT). The defaults match ``salient``'s phases (10 % warm-up, 50 % allocation)."""

    label = "adalora"

    init_rank: int | None = None
    tinit: float | int = 0.1
    tfinal: float | int = 0.4
    deltaT: int = 1
    beta1: float = 0.85
    beta2: float = 0.85
    compact: bool = False

    def checks(self):
        return [
            (isinstance(self.deltaT, int) and self.deltaT >= 1, f"deltaT must be an integer >= 1, got {self.deltaT!r}"),
            (self.init_rank is None or (isinstance(self.init_rank, int) and self.init_rank >= 1),
             f"init_rank must be an integer >= 1, got {self.init_rank!r}"),
            (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0,
             f"beta1 and beta2 must be in [0, 1), got {self.beta1}, {self.beta2}"),
        ]


class AdaLoRAAllocator(Allocator):
    name = "adalora"
    form = "svd"

    def __init__(self, **options):
        self.opts = AdaLoRAOptions.from_kwargs(**options)
        self._record: dict = {}

    def propose(self, ctx: AllocationContext):
        o, total = self.opts, ctx.harness.total_steps()
        self.tinit = steps_option(o.tinit, total, "tinit")
        self.tfinal = steps_option(o.tfinal, total, "tfinal")
        end = total - self.tfinal
        if self.tinit >= end or end < 2:  # the final mask at step `end` needs ≥ 1 scored step before it
            raise InputError(f"the AdaLoRA schedule does not fit the run: tinit ({self.tinit}) must be below "
                             f"total_steps − tfinal ({total} − {self.tfinal} = {end}), which must be at least 2 "
                             f"(one scored step before the final mask); no budgeting phase is left")
        self.r0, net = svd_supernet(ctx, o.init_rank)
        self.init_params = net.params
        return net

    def step_hook(self, ctx: AllocationContext):
        return AdaLoRAHook(self, ctx)

    def describe(self) -> dict:
        return self._record


class AdaLoRAHook(StepHook):
    def __init__(self, allocator: AdaLoRAAllocator, ctx: AllocationContext):
        self.a, self.ctx, self.o = allocator, ctx, allocator.opts
        self.ema_ipt, self.ema_unc = {}, {}
        self.events, self.final_keep = [], None

    def on_train_begin(self, state):
        self.triplets = Triplets(state.handle)
        self.total = state.total_steps

    # ------------------------------------------------------------ schedule (PEFT budget_schedule)
    def budget(self, step: int) -> tuple[float, bool]:
        tinit, tfinal, total = self.a.tinit, self.a.tfinal, self.total
        b0, bt = self.a.init_params, self.ctx.budget.params
        if step <= tinit:
            return b0, False
        if step > total - tfinal:
            return bt, True
        mul = 1 - (step - tinit) / (total - tfinal - tinit)
        return (b0 - bt) * mul ** 3 + bt, step % self.o.deltaT == 0

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
        end = self.total - self.a.tfinal
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
                                f"{state.step} before step T − tfinal = {self.total - self.a.tfinal}")
        final = state.handle.allocation
        self.a._record = {
            "options": self.o.to_dict(), "init_rank": self.a.r0, "init_params": self.a.init_params,
            "schedule": {"total": self.total, "tinit": self.a.tinit, "tfinal": self.a.tfinal,
                         "deltaT": self.o.deltaT},
            "mask_events": len(self.events),
            "prune_events": [e.to_dict() for e in self.events[:: max(1, len(self.events) // 50)]],  # sampled
            "final_ranks": final.ranks,
        }
