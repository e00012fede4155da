"""Objectives: how a batch becomes a loss, predictions and targets, and how those become metrics.

* :class:`SequenceClassification` — GLUE and custom tasks: the model's own head and loss
  (cross-entropy, or MSE for regression), metrics from the task spec.
* :class:`CausalLM` — decoder tasks (GSM8K, prompt/response, chat, text): loss on target tokens
  only; dev NLL per target token (primary, lower is better) and perplexity.
* The planted-structure regression is :class:`rankscope.tasks.planted.task.PlantedRegression`.

:class:`Objective` is the protocol all of them satisfy: the harness trains through it, the
proxies score through it, and a Trainer callback supplies its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import torch

from rankscope.harness.target_head import next_token_targets, target_positions


class Objective(Protocol):
    """How a batch becomes a loss and predictions become metrics: the task's objective
    (:class:`~rankscope.harness.objectives.SequenceClassification`, ``CausalLM``, the planted
    regression, an ``nn.Module``) or any object with these four members (a Trainer callback's).

    ``forward`` returns ``(loss, predictions, targets)``: the loss with its graph, the others
    detached (``targets`` may be ``None`` where the batch has no labels). ``primary`` names the
    metric of :meth:`metrics` that ranks runs, higher better when ``greater_is_better``."""

    primary: str
    greater_is_better: bool

    def forward(self, model: torch.nn.Module, batch: Mapping[str, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]: ...

    def metrics(self, preds: np.ndarray, targets: np.ndarray) -> dict[str, float]: ...


class SequenceClassification:
    def __init__(self, spec):
        self.spec = spec
        self.primary = spec.primary_metric
        self.greater_is_better = True

    def forward(self, model, batch):
        """Return (loss, predictions, targets); predictions are logits (or scores)."""
        out = model(**batch)
        return out.loss, out.logits.detach(), batch["labels"]

    def metrics(self, preds: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """The task's metrics (:mod:`rankscope.tasks.metrics`), plus, for classification logits,
        the dev cross-entropy ``nll`` = mean over rows of logsumexp(z) − z_y (nats): a continuous
        reading of the same predictions, whose seed noise is far below that of accuracy or MCC
        (which move in steps of one row and can flip on a near-tie), so a paired comparison of
        it needs fewer seeds. It is reported, never the primary metric."""
        out = self.spec.metrics(preds, targets)
        logits = np.asarray(preds, dtype=np.float64)
        if not self.spec.is_regression and logits.ndim == 2 and logits.shape[1] == self.spec.num_labels:
            labels = np.asarray(targets, dtype=np.int64).reshape(-1)
            top = logits.max(axis=1)
            logsumexp = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
            out["nll"] = float(np.mean(logsumexp - logits[np.arange(len(labels)), labels]))
        return out


class CausalLM:
    """Next-token prediction on the target tokens only (``labels != -100``: responses, assistant
    turns, or every token of plain-text rows)::

        loss = mean over target tokens t of  −log p(x_t | x_<t)        (what AdamW minimises)
        nll  = Σ −log p / #targets over the whole dev set              (primary, lower is better)
        perplexity = exp(nll)

    Per batch, ``forward`` returns the loss and, as "predictions" and "targets", the batch's
    summed NLL and its target-token count, so dev metrics are exact token-weighted means however
    the dev set is batched. The output head runs on the target positions only
    (:mod:`rankscope.harness.target_head`): the same logits there, without the prompt's and the
    padding's."""

    primary = "nll"
    greater_is_better = False

    def forward(self, model, batch):
        labels = batch["labels"]
        keep = next_token_targets(labels)
        with target_positions(model, keep) as head:  # the head on target positions only: target_head.py
            # inputs_embeds: a proxy (synflow) may feed embeddings instead of token ids
            out = model(**{k: batch[k] for k in ("input_ids", "inputs_embeds", "attention_mask") if k in batch})
        if head["gathered"]:  # logits [1, N, V] for the N kept positions, in row-major order
            targets = labels[:, 1:][keep[:, :-1]].to(out.logits.device)
            nll = torch.nn.functional.cross_entropy(out.logits[0].float(), targets, reduction="sum")
            count = torch.tensor(targets.numel(), device=targets.device)
        else:
            nll, count = self.summed_nll(out.logits, labels)
        loss = nll / count.clamp_min(1)
        return loss, nll.detach().reshape(1), count.reshape(1)

    @staticmethod
    def summed_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Σ −log p(x_t | x_<t), #targets)`` over the target tokens: position t's logits
        predict token t + 1, so logits drop their last column and labels their first."""
        logits, targets = logits[:, :-1].float(), labels[:, 1:]
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                ignore_index=-100, reduction="sum")
        return nll, (targets != -100).sum()

    def metrics(self, preds: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        tokens = float(targets.sum())
        nll = float(preds.sum()) / tokens if tokens else float("nan")
        return {"nll": nll, "perplexity": float(np.exp(nll)) if np.isfinite(nll) else float("nan"),
                "target_tokens": tokens}


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()
