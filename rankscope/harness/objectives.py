"""Objectives: how a batch becomes a loss, predictions and targets, and how those become metrics.

* :class:`SequenceClassification` — GLUE and custom tasks: the model's own head and loss
  (cross-entropy, or MSE for regression), metrics from the task spec.
* The planted-structure regression is :class:`rankscope.planted.task.PlantedRegression`.
"""

from __future__ import annotations

import numpy as np
import torch


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
        return self.spec.metrics(preds, targets)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()
