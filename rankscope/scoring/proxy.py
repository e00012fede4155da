"""The proxy contract: how a zero-cost proxy turns one scoring pass into per-edge scores.

A proxy is a small class (one file each in the ``proxies/`` folder, installed as
``rankscope.proxies``), registered in the
``rankscope.proxies`` entry-point group. :func:`~rankscope.scoring.score_edges` runs **one**
shared pass over the K scoring batches, with every candidate edge attached::

    for each scoring batch b:                       (model in eval mode: no dropout)
        forward, loss ℓ̄_b (the task's own objective), backward   → adapter .grad accumulate
        proxy.on_batch(records)     records: per edge, the input x it read and ∂ℓ̄_b/∂(its output)
    ctx.grads = the accumulated gradients ∇_θ 𝓛, 𝓛 = Σ_b ℓ̄_b   (then .grad is cleared)
    proxy.finish(ctx) → {edge_id: score}  or  {edge_id: [v₁, v₂, …]} when ``per_rank``

Proxies that need another input (SynFlow's all-ones embeddings, GraSP's Hessian-vector
product, ALPHA-TEST's ablations) run their own passes inside ``finish``; none deep-copies the
model. Higher scores mean "more useful edge".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from rankscope.registry import Registry

if TYPE_CHECKING:  # annotations only: no import edge at run time
    from rankscope.adapters.handle import AdapterHandle
    from rankscope.harness.objectives import Objective

PROXIES = Registry("rankscope.proxies", "proxy")


@dataclass
class ScoringContext:
    """What ``Proxy.finish`` sees.

    ``grads[edge_id][param_name]`` is ∇𝓛 accumulated over ``batches``; ``loss(batch)`` returns the
    objective's loss (with graph) for one batch; ``generator`` is seeded (random tie-breaks)."""

    model: torch.nn.Module
    handle: AdapterHandle
    objective: Objective
    batches: list[dict[str, torch.Tensor]]
    grads: dict[str, dict[str, torch.Tensor]]
    generator: torch.Generator
    extras: dict = field(default_factory=dict)

    def loss(self, batch):
        return self.objective.forward(self.model, batch)[0]

    def adapter_params(self):
        """[(edge_id, name, parameter)] of every attached adapter, in edge order."""
        return [(eid, n, p) for eid, a in self.handle.adapters.items() for n, p in a.named_parameters()]


class Proxy(ABC):
    """Base class. Override :meth:`finish` (and :meth:`on_batch` if you need per-batch data).

    ``per_rank``: scores are lists, v_k = the marginal value of the edge's k-th rank.
    ``zero_at_init``: identically 0 for every edge while B = 0 (fresh LoRA), so it should be
    used after warm-up steps (allocator option ``warmup_steps``).
    ``needs_records``: whether :meth:`on_batch` needs the per-edge x / ∂L/∂y records (they
    cost memory, so the pass only collects them when some proxy asks).
    """

    name: str = ""
    per_rank: bool = False
    zero_at_init: bool = False
    needs_records: bool = False

    def on_batch(self, records) -> None:
        """Called once per scoring batch, after its backward pass."""

    @abstractmethod
    def finish(self, ctx: ScoringContext) -> dict:
        """Return ``{edge_id: float}`` (or ``{edge_id: [floats]}`` when ``per_rank``)."""


def get_proxy(name: str) -> Proxy:
    """A fresh instance of the proxy registered under ``name`` (unknown names list the valid)."""
    return PROXIES.get(name)()


def connection_sensitivity(adapter, grads) -> float:
    """SNIP's score of one edge (Lee et al. 2019): Σ_θ Σ_ij |θ ⊙ g_θ|_ij over the adapter's
    parameters θ, for ``grads`` = {parameter name: gradient} (names without a gradient are
    skipped). SNIP sums the K batches' gradients first; SynFlow uses its one backward pass."""
    return sum(float((getattr(adapter, n).detach() * g).abs().sum()) for n, g in grads.items() if g is not None)
