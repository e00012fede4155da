"""Options of the proxy family: the table below is shared by ``proxy-static`` and ``proxy-dynamic``
(HeteroLoRA, docs/architecture.md, "HeteroLoRA"); ``proxy-greedy`` and ``proxy-grow`` add theirs
(:class:`GreedyOptions`, :class:`GrowOptions`).

============== ============ =====================================================================
option         default      meaning
============== ============ =====================================================================
proxy          grad_norm    the proxy that allocates (``rankscope ls proxies``)
also           []           more proxies computed in the same pass and recorded in the report
nan_fallback   false        if ``proxy`` gives NaN/inf on some edge, allocate with the first of
                            ``also`` that is finite everywhere (otherwise: an error naming the edge)
n_batches      auto         K scoring batches of the training batch size. ``auto``: a tenth of
                            the run's steps, 1 to 8 (a scoring batch costs about one training
                            step, so planning stays near 10 % of the training it plans; runs of
                            80 steps or more score 8 × 32 = 256 examples at batch 32, the code's
                            K = 32 batches × 8 examples, about 2 % of a 3-epoch MRPC run)
scoring_data   sample       ``sample``: a seeded random sample of the train split; ``first``: the
                            first K unshuffled batches (the HeteroLoRA code's protocol)
warmup_steps   0            train the supernet W steps before scoring (SNIP, SynFlow, Fisher are
                            identically 0 at B = 0); dynamic: first reallocation after W steps
granularity    auto         ``edge``: on/off at ``rank_on`` (the paper); ``rank``: per-rank values
                            (``spectral``'s σ_k; a scalar score s gives v_k = s/k, i.e. ranks
                            proportional to scores); ``auto``: ``rank`` for per-rank proxies
rank_on        4 × uniform  the on-rank: 4 × the uniform rank of the budget (r2 → 8, so about
                            25 % of equal-cost candidates fit: the paper's pairing)
mode           combined     ``combined``: one joint ranking; ``separated``: LoRA and shortcut
                            edges get the budget shares uniform would give them
normalize      none         ``type``: divide scores by their edge type's mean before ranking
                            (raw gradient norms differ across types by α/r and placement)
interval       0.2          ν, dynamic only: re-score every ν of an epoch (and at each epoch start)
============== ============ =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rankscope.allocators.options import AllocatorOptions, steps_option
from rankscope.errors import InputError

#: the most scoring batches ``n_batches=auto`` takes (the long-run default before it existed)
MAX_AUTO_BATCHES = 8


@dataclass
class ProxyOptions(AllocatorOptions):
    label = "proxy allocator"

    proxy: str = "grad_norm"
    also: list = field(default_factory=list)
    nan_fallback: bool = False
    n_batches: int | str = "auto"
    scoring_data: str = "sample"
    warmup_steps: int = 0
    granularity: str = "auto"
    rank_on: int | None = None
    mode: str = "combined"
    normalize: str = "none"
    interval: float = 0.2

    def __post_init__(self):
        from rankscope.scoring import PROXIES

        if isinstance(self.also, str):
            self.also = [s for s in self.also.split(",") if s]
        for name in [self.proxy, *self.also]:
            PROXIES.get(name)  # unknown names → InputError listing the valid ones
        super().__post_init__()
        if self.nan_fallback and not self.also:
            raise InputError("nan_fallback needs other proxies to fall back to: set also=[...]")

    def scoring_batch_count(self, total_steps: int, available: int) -> int:
        """K: ``n_batches``, or for ``auto`` a tenth of the run's ``total_steps`` (1 to
        :data:`MAX_AUTO_BATCHES`, and no more than the ``available`` batches of the train split).

        >>> ProxyOptions().scoring_batch_count(20, 100), ProxyOptions().scoring_batch_count(40, 100)
        (2, 4)
        >>> ProxyOptions().scoring_batch_count(800, 100), ProxyOptions().scoring_batch_count(800, 3)
        (8, 3)
        """
        if self.n_batches != "auto":
            return self.n_batches
        return max(1, min(MAX_AUTO_BATCHES, round(total_steps / 10), available))

    def checks(self):
        return [
            (self.granularity in ("auto", "edge", "rank"), "granularity must be auto, edge or rank"),
            (self.mode in ("combined", "separated"), "mode must be combined or separated"),
            (self.normalize in ("none", "type"), "normalize must be none or type"),
            (self.scoring_data in ("sample", "first"), "scoring_data must be sample or first"),
            (self.n_batches == "auto" or (isinstance(self.n_batches, int) and not isinstance(self.n_batches, bool)
                                          and self.n_batches >= 1), "n_batches (K) must be an integer >= 1 or auto"),
            (isinstance(self.warmup_steps, int) and self.warmup_steps >= 0, "warmup_steps must be an integer >= 0"),
            (self.rank_on is None or (isinstance(self.rank_on, int) and self.rank_on >= 1), "rank_on must be an integer >= 1"),
            (isinstance(self.interval, (int, float)) and self.interval > 0,
             f"interval (ν, the re-scoring period as a fraction of an epoch) must be > 0, got {self.interval!r}"),
        ]


@dataclass
class GreedyOptions(ProxyOptions):
    """``rounds`` (R, default 8: the budget goes to R edges) and ``round_steps`` (the chosen
    edges' training before each re-scoring: steps, or a fraction of the run; default 0.05, i.e.
    10 steps of the planted task's 200); the rest as ``proxy-static``, with ``proxy`` defaulting
    to ``spectral`` (the proxy that best predicts an edge's achievable fit). The defaults come
    from the planted task, seeds 0–2 (docs/results/planted.md, "Forward selection"): 4 rounds of
    10 % closed 0.49 of the gap on the mean, 8 rounds of 5 % closed 0.64."""

    label = "proxy-greedy"

    proxy: str = "spectral"
    rounds: int = 8
    round_steps: float | int = 0.05

    def checks(self):
        return super().checks() + [
            (isinstance(self.rounds, int) and self.rounds >= 1, f"rounds must be an integer >= 1, got {self.rounds!r}"),
        ]

    def round_length(self, total: int) -> int:
        """``round_steps`` in steps of a run of ``total`` steps."""
        return steps_option(self.round_steps, total, "round_steps")


@dataclass
class GrowOptions(GreedyOptions):
    """``proxy-greedy``'s options plus ``restart`` (default false: chosen edges keep training
    through the rounds; true: they restart from their initial state after every pick)."""

    label = "proxy-grow"

    restart: bool = False

    def checks(self):
        return super().checks() + [(isinstance(self.restart, bool), f"restart must be true or false, got {self.restart!r}")]
