"""The classification objective: the task's metrics, plus the dev cross-entropy of the same logits."""

import numpy as np
import pytest
import torch

from rankscope.harness.objectives import SequenceClassification
from rankscope.tasks.base import TASKS


def test_dev_cross_entropy_is_torchs_and_leaves_the_task_metrics_as_they_were():
    spec = TASKS.get("cola")
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 2)) * 3
    labels = rng.integers(0, 2, size=50)
    out = SequenceClassification(spec).metrics(logits, labels)
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
    assert out["nll"] == pytest.approx(expected, rel=1e-12)
    assert {k: v for k, v in out.items() if k != "nll"} == spec.metrics(logits, labels)
    # large logits stay finite (logsumexp, not exp then log)
    assert np.isfinite(SequenceClassification(spec).metrics(logits * 1e3, labels)["nll"])


def test_regression_gets_no_cross_entropy():
    spec = TASKS.get("stsb")
    out = SequenceClassification(spec).metrics(np.linspace(0, 5, 10)[:, None], np.linspace(0, 5, 10))
    assert "nll" not in out and out["pearson"] == pytest.approx(1.0)
