"""LoRA form (Hu et al. 2021, eq. 3):  Δ(x) = s · B A x,  s = α/√r (``rslora``) or α/r (``lora``).

A: r × d_in, Kaiming-uniform(a=√5) as in ``nn.Linear`` and PEFT; B: d_out × r, zeros, so a fresh
adapter is exactly the identity change. The scale uses the rank at attach time and stays fixed
when ranks are masked or compacted (as in PEFT, where ``r`` does not change during training).

**The scaling rule.** Under Adam each entry of B moves about lr per step whatever the rank, so
‖B A‖ grows like √r and ‖ΔW‖ like s·√r: under α/r (PEFT's default) a rank-r module moves its
weights 1/√r as far, while its first-order progress on the loss stays the same; under α/√r
(rsLoRA, Kalajdzievski 2023, arXiv 2312.03732; PEFT's ``use_rslora``) every rank moves equally
and a larger rank wants a smaller lr. docs/results/rank-stability.md measures both;
:data:`DEFAULT_SCALING` is the default of the library and of every task kind
(docs/architecture.md, "Rank-stable scaling").
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rankscope.adapters.base import LowRankAdapter
from rankscope.errors import InputError

#: the LoRA form's scaling rules: name -> the factor s as a function of α and r
SCALING_RULES = {"rslora": "alpha/sqrt(r)", "lora": "alpha/r"}
#: the rule ``attach``, the trainer callback and every task kind use unless told otherwise
DEFAULT_SCALING = "rslora"


def check_scaling(scaling: str) -> None:
    """An :class:`~rankscope.errors.InputError` naming the valid rules, unless ``scaling`` is one."""
    if scaling not in SCALING_RULES:
        raise InputError(f"unknown scaling {scaling!r}; valid: "
                         + ", ".join(f"{k} ({v})" for k, v in SCALING_RULES.items()))


class LoRAAdapter(LowRankAdapter):
    form = "lora"
    RANK_DIMS = {"A": 0, "B": 1}

    def __init__(self, d_in, d_out, rank, alpha: float, generator: torch.Generator | None = None,
                 rslora: bool = False):
        # rsLoRA (Kalajdzievski 2023) scales by α/√r so the update size does not shrink with rank
        super().__init__(d_in, d_out, rank, scale=alpha / (rank ** 0.5 if rslora else rank))
        self.A = nn.Parameter(torch.empty(rank, d_in))
        self.B = nn.Parameter(torch.zeros(d_out, rank))
        # kaiming_uniform_(a=√5) on an (r × d_in) weight is U(-1/√d_in, 1/√d_in)
        bound = 1.0 / math.sqrt(d_in)
        with torch.no_grad():
            self.A.uniform_(-bound, bound, generator=generator)

    @property
    def down(self):
        return self.A

    @property
    def up(self):
        return self.B

    def gate(self):
        return self.mask * self.scale

    def _slice(self, idx):
        self.A = nn.Parameter(self.A.detach()[idx].clone())
        self.B = nn.Parameter(self.B.detach()[:, idx].clone())
