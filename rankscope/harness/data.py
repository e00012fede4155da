"""Tokenised datasets and dynamic padding.

Examples are tokenised once, without padding; each batch is padded only to its own longest
sequence (``tokenizer.pad``), which matters on CPU: CoLA and SST-2 sentences are short.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch

if TYPE_CHECKING:  # annotations only
    from rankscope.harness.objectives import Objective


@dataclass
class PreparedTask:
    """Everything the training loop needs from a task.

    ``train``/``dev`` are lists of feature dicts; ``collate`` turns a list of them into a batch;
    ``objective`` computes the loss and the metrics (see :mod:`.objectives`).
    """

    name: str
    train: list
    dev: list
    collate: Callable
    objective: Objective
    head_params: int = 0

    def with_dev_subset(self, n: int | None) -> "PreparedTask":
        """This task with a fixed seeded subset of ``n`` dev rows (kept in dev order), when ``n`` is
        set and smaller than dev. The seed is fixed, so every run and training seed evaluates on
        the same rows and their dev metrics can be compared row for row."""
        if not n or n >= len(self.dev):
            return self
        keep = sorted(torch.randperm(len(self.dev), generator=torch.Generator().manual_seed(7919))[:n].tolist())
        return dataclasses.replace(self, dev=[self.dev[i] for i in keep])


def tokenize_examples(examples, tokenizer, max_len: int, regression: bool) -> list[dict]:
    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples]
    enc = tokenizer(texts, pairs if any(p is not None for p in pairs) else None,
                    truncation=True, max_length=max_len)
    feats = []
    for i, e in enumerate(examples):
        f = {k: enc[k][i] for k in enc.keys()}
        f["labels"] = float(e.label) if regression else int(e.label)
        feats.append(f)
    return feats


def padding_collate(tokenizer):
    """Pad token fields to the batch maximum; stack every other field as a tensor."""
    def collate(features):
        token_keys = [k for k in features[0] if k in ("input_ids", "attention_mask", "token_type_ids")]
        batch = tokenizer.pad([{k: f[k] for k in token_keys} for f in features], return_tensors="pt")
        for k in features[0]:
            if k not in token_keys:
                batch[k] = torch.as_tensor([f[k] for f in features]) if not torch.is_tensor(features[0][k]) \
                    else torch.stack([f[k] for f in features])
        return dict(batch)
    return collate


def batches(data: list, batch_size: int, collate, *, shuffle: bool, generator: torch.Generator | None = None):
    """Yield collated batches; a seeded permutation when shuffling."""
    order = torch.randperm(len(data), generator=generator).tolist() if shuffle else range(len(data))
    order = list(order)
    for i in range(0, len(order), batch_size):
        yield collate([data[j] for j in order[i:i + batch_size]])
