"""GSM8K test accuracy: greedy decoding of a seeded subset of test problems, scored by exact match.

The reported score of a ``--task gsm8k`` run (dev NLL selects and compares during training; the
test problems are touched only here, after training)::

    test.jsonl (1319) ──seeded subset of n──► prompts ──greedy_generate──► answers
                                                        exact_match(answer, gold) ──► accuracy

**The subset** is ``n`` problems drawn with ``numpy.random.default_rng(SUBSET_SEED)`` and kept in
file order. Its seed is fixed, not the run's ``--seed``, so every run and every training seed is
scored on the same problems and per-problem results can be paired. ``n = -1`` (or ``n`` ≥ 1319)
is the whole test file; ``n`` larger than the file is an error.

**Cost.** Decoding dominates: up to ``max_new_tokens`` forward passes per batch of prompts. On 2
CPU cores SmolLM2-135M decodes about the figure docs/results/decoders.md gives, so the
CPU default is a small subset and a GPU run takes the full file (``--exact-match -1``).
"""

from __future__ import annotations

import numpy as np

from rankscope.errors import InputError
from rankscope.tasks.causal.gsm8k import exact_match, load_gsm8k

SUBSET_SEED = 0


def subset_indices(total: int, n: int) -> list[int]:
    """The sorted indices of the scored problems: all when ``n`` is -1 or ``total``."""
    if n == -1 or n == total:
        return list(range(total))
    if not 0 < n <= total:
        raise InputError(f"--exact-match {n}: the GSM8K test file holds {total} problems; give a count from 1 "
                         f"to {total}, -1 for all of them, or 0 to skip exact match")
    return sorted(np.random.default_rng(SUBSET_SEED).choice(total, n, replace=False).tolist())


def test_size(data_dir=None) -> int:
    """How many problems the GSM8K test file holds (for checking ``--exact-match`` early)."""
    from rankscope.tasks.causal.gsm8k import read_gsm8k

    return len(read_gsm8k("test", data_dir))


class GSM8KExactMatch:
    """Score a model on ``n`` GSM8K test problems: ``scorer(model)`` → metrics.

    Metrics: ``test_exact_match`` (the share correct), ``test_problems`` (n); ``scorer.last``
    keeps the per-problem ``{"index", "prediction", "correct"}`` records and the decoding cost
    (``generated_tokens``, ``generate_s``) of the last call.
    """

    def __init__(self, tokenizer, n: int, *, data_dir=None, max_len: int = 512, max_new_tokens: int = 256,
                 batch_size: int = 16, device: str = "cpu"):
        from rankscope.tasks.causal.features import encode_prompts

        rows = load_gsm8k("test", data_dir)
        self.indices = subset_indices(len(rows), n)
        self.rows = [rows[i] for i in self.indices]
        self.prompts = encode_prompts(self.rows, tokenizer, max_len)
        self.tokenizer, self.max_new_tokens, self.batch_size, self.device = tokenizer, max_new_tokens, batch_size, device
        self.last: dict = {}

    def __call__(self, model, progress: bool = False) -> dict[str, float]:
        from rankscope.tasks.causal.generation import greedy_generate

        stats: dict = {}
        texts = greedy_generate(model, self.tokenizer, self.prompts, max_new_tokens=self.max_new_tokens,
                                batch_size=self.batch_size, device=self.device, progress=progress, stats=stats)
        correct = [exact_match(text, row.response) for text, row in zip(texts, self.rows)]
        self.last = {**stats, "problems": [{"index": i, "prediction": t, "correct": c}
                                           for i, t, c in zip(self.indices, texts, correct)]}
        return {"test_exact_match": float(np.mean(correct)), "test_problems": float(len(correct))}
