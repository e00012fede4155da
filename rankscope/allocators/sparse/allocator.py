"""``sparse``: a LoRA supernet trained with group-sparse proximal steps, then cut to the budget.

An in-training allocator in the spirit of SoRA (Ding et al., EMNLP 2023, "Sparse Low-rank
Adaptation of Pre-trained Language Models": a gate per rank, made sparse by proximal L1 steps)
and of group lasso (Yuan & Lin 2006). Every edge starts at r₀ in the LoRA form (A random, B = 0);
a rank i of edge e is the pair (column B_{:,i}, row A_{i,:}) and costs c_e = d_in + d_out. After
every optimizer step of the sparse phase (t_init < t ≤ t_end) the hook applies the proximal
operator of the cost-weighted group penalty Σ_i w_e ‖B_{:,i}‖₂ to each live column::

    B_{:,i} ← B_{:,i} · max(0, 1 − κ · η_t · √d_out · w_e / ‖B_{:,i}‖)      w_e = c_e / mean c

η_t is the step's learning rate, so κ is scale-free: under Adam an entry moves at most about η
per step, a column at most η·√d_out, and the penalty removes the fraction κ of that maximal
growth. A rank whose gradient is not consistent (noise, or an effect another edge already
explains) random-walks slower than the shrinkage and reaches exactly 0; ranks that keep reducing
the loss grow despite it. So redundant edges compete and the group penalty hands the shared
effect to the edges that explain it at the lowest parameter cost.

The budget follows AdaLoRA's cubic schedule B(t) from the supernet's size down to the budget at
t_end, cutting the ranks of lowest magnitude per parameter, m_i / c_e with m_i = ‖B_{:,i}‖·‖A_{i,:}‖
(the Frobenius norm of the rank's update without the α/r scale); at t_end the cut is exact, the
rank pattern is frozen in the masks and, with ``compact``, sliced away, so the final phase trains
the allocation. Options: :mod:`.sparse_options`.
"""

from __future__ import annotations

import torch

from rankscope.allocators.base import Allocator
from rankscope.allocators.context import AllocationContext, Plan
from rankscope.allocators.proxy.select import supernet
from rankscope.allocators.sparse.options import SparseOptions
from rankscope.allocators.svd.adalora import AdaLoRASchedule
from rankscope.allocators.svd.report import PruningSection
from rankscope.allocators.svd.triplets import PruneEvent, keep_within, steps_option
from rankscope.distributed import rank0_decides
from rankscope.errors import InputError, TrainingError
from rankscope.harness.hooks import StepHook
from rankscope.salience import require_pruning


class SparseAllocator(Allocator):
    name = "sparse"
    before_training = False  # its ranks come from the training (a step hook)
    report_section = PruningSection()

    options_class = SparseOptions

    def propose(self, ctx: AllocationContext) -> Plan:
        o, total = self.opts, ctx.trainer.total_steps
        r0 = o.init_rank or max(1, round(o.init_multiple * ctx.budget.params / ctx.space.uniform_cost(1)))
        net = supernet(ctx.space, r0)
        require_pruning(net.params, ctx.budget.params)
        # the schedule's "final phase length" is the run minus the sparse phase's end
        start, end = steps_option(o.sparse_start, total, "sparse_start"), steps_option(o.sparse_end, total, "sparse_end")
        if not 0 <= start < end <= total or end < 2:  # said in sparse's own words, before AdaLoRA's check
            raise InputError(f"the sparse phase does not fit the run: need sparse_start ({start}) < sparse_end "
                             f"({end}) <= total_steps ({total}), and sparse_end >= 2 steps")
        schedule = AdaLoRASchedule(total, start, total - end, 1)
        return Plan(net, SparseHook(ctx, o, schedule, r0, net.params))


class LoRARanks:
    """Flat view of every rank of a LoRA-form handle: B columns, A rows, costs, masks."""

    def __init__(self, handle):
        self.adapters = list(handle.adapters.values())
        self.ids = list(handle.adapters.keys())
        sizes = torch.tensor([a.rank for a in self.adapters])
        unit = torch.tensor([handle.space.edge(i).cost(1) for i in self.ids], dtype=torch.float64)
        self.costs = torch.repeat_interleave(unit, sizes)
        self.weights = unit / unit.mean()

    def magnitudes(self) -> torch.Tensor:
        """m_i = ‖B_{:,i}‖·‖A_{i,:}‖ of every live rank (0 once masked), float64 [N]."""
        return torch.cat([(a.B.detach().norm(dim=0) * a.A.detach().norm(dim=1) * a.mask).double().cpu()
                          for a in self.adapters])

    def alive(self) -> torch.Tensor:
        return torch.cat([(a.mask != 0).cpu() for a in self.adapters])

    def shrink(self, step_size: float, kappa: float) -> None:
        """The group-lasso proximal step on every B column (module docstring)."""
        with torch.no_grad():
            for a, w in zip(self.adapters, self.weights.tolist()):
                norms = a.B.norm(dim=0).clamp_min(1e-12)
                tau = kappa * step_size * a.B.shape[0] ** 0.5 * w
                a.B.mul_((1 - tau / norms).clamp_min(0.0))

    def set_masks(self, keep: torch.Tensor) -> None:
        with torch.no_grad():
            start = 0
            for a in self.adapters:
                kk = keep[start:start + a.rank].to(a.mask.device)
                a.mask.copy_(kk.to(a.mask.dtype))
                a.B.mul_(kk.to(a.B.dtype))  # a cut rank contributes nothing, even before compaction
                start += a.rank


class SparseHook(StepHook):
    def __init__(self, ctx: AllocationContext, opts: SparseOptions, schedule: AdaLoRASchedule, r0: int,
                 init_params: int):
        self.ctx, self.o, self.schedule, self.r0, self.init_params = ctx, opts, schedule, r0, init_params
        self.events, self.done, self.record = [], False, {}

    def on_train_begin(self, state):
        self.ranks = LoRARanks(state.handle)

    def on_step_end(self, step, state):
        s = self.schedule
        if step <= s.tinit or step > s.end:
            return
        self.ranks.shrink(state.scheduler.get_last_lr()[0], self.o.kappa)
        b, _ = s.budget(step, self.init_params, self.ctx.budget.params)
        if step < s.end and step % self.o.interval:
            return
        r = self.ranks
        # value per parameter, as every rankscope allocation ranks; decided on rank 0 under DDP
        keep = rank0_decides(lambda: keep_within(r.magnitudes() / r.costs, r.costs, b, r.alive()), (len(r.costs),))
        r.set_masks(keep)
        self.events.append(PruneEvent(step, int(b), int(round(float(r.costs[keep].sum()))), int(keep.sum())))
        if step == s.end:
            self.done = True
            if self.o.compact:
                state.rebuild_optimizer(state.handle.compact())
                self.ranks = LoRARanks(state.handle)

    def on_train_end(self, state):
        if not self.done:
            raise TrainingError(f"sparse never cut to the budget: training ended at step {state.step} before "
                                f"the sparse phase's end (step {self.schedule.end})")
        final, s = state.handle.allocation, self.schedule
        self.record = {"options": self.o.to_dict(), "init_rank": self.r0, "init_params": self.init_params,
                       "schedule": {"total": s.total, "sparse_start": s.tinit, "sparse_end": s.end},
                       "prune_events": [e.to_dict() for e in self.events[:: max(1, len(self.events) // 50)]],
                       "mask_events": len(self.events), "final_ranks": final.ranks}

    def describe(self) -> dict:
        return self.record
