"""LoRA form (Hu et al. 2021, eq. 3):  Δ(x) = (α/r) · B A x   (or α/√r with ``rslora``).

A: r × d_in, Kaiming-uniform(a=√5) as in ``nn.Linear`` and PEFT; B: d_out × r, zeros, so a fresh
adapter is exactly the identity change. Scale α/r uses the rank at attach time and stays fixed
when ranks are masked or compacted (as in PEFT, where ``r`` does not change during training).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rankscope.adapters.base import LowRankAdapter


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
