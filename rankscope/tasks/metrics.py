"""The official GLUE metrics, computed with scikit-learn and SciPy.

Each GLUE task is scored as in the GLUE paper (Wang et al., *GLUE: A Multi-Task Benchmark and
Analysis Platform for Natural Language Understanding*, ICLR 2019, arXiv:1804.07461, Table 1):

=========================  ==============================================================
task                       metrics (primary first)
=========================  ==============================================================
CoLA                       ``mcc``: Matthews correlation (Matthews 1975), as in Warstadt et
                           al. 2019, because the classes are unbalanced (70 % acceptable)
SST-2, QNLI, RTE, MNLI     ``accuracy`` (MNLI: on the matched dev set)
MRPC, QQP                  ``accuracy`` and ``f1`` (F1 of the positive class, 1 =
                           paraphrase / duplicate)
STS-B                      ``pearson`` and ``spearman`` correlation with the gold 0–5 score
=========================  ==============================================================

Custom classification tasks use ``accuracy`` and ``f1``, where ``f1`` is the positive-class F1
for two classes and the macro-average F1 over the classes present otherwise.

Degenerate inputs give 0.0 rather than NaN, so a search can always rank a trial:

* ``mcc``: scikit-learn already returns 0.0 when a confusion-matrix margin is empty (e.g. a
  model that predicts one class for everything);
* ``f1``: 0.0 when there are no positive predictions and no positive labels;
* ``pearson`` / ``spearman``: undefined (NaN) when either side is constant, e.g. a regression
  head that collapsed to one value, or when there are fewer than two examples; 0.0 ("no
  correlation") is returned instead, as it is for NaN/inf predictions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from rankscope.errors import InputError

if TYPE_CHECKING:
    from rankscope.tasks.base import TaskSpec


def _mcc(y_true, y_pred, num_labels: int) -> float:
    return float(matthews_corrcoef(y_true, y_pred))


def _accuracy(y_true, y_pred, num_labels: int) -> float:
    return float(accuracy_score(y_true, y_pred))


def _f1(y_true, y_pred, num_labels: int) -> float:
    average = "binary" if num_labels == 2 else "macro"
    return float(f1_score(y_true, y_pred, average=average, zero_division=0.0))


def _correlation(fn):
    def metric(y_true, y_pred, num_labels: int) -> float:
        y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
        if len(y_true) < 2 or np.all(y_true == y_true[0]) or np.all(y_pred == y_pred[0]):
            return 0.0  # undefined: see the module docstring
        value = float(fn(y_true, y_pred)[0])
        return value if math.isfinite(value) else 0.0
    return metric


#: metric name -> ``f(y_true, y_pred, num_labels) -> float``; a TaskSpec names its metrics here.
METRICS = {
    "mcc": _mcc,
    "accuracy": _accuracy,
    "f1": _f1,
    "pearson": _correlation(pearsonr),
    "spearman": _correlation(spearmanr),
}


def predictions(spec: TaskSpec, preds) -> np.ndarray:
    """Model outputs as one prediction per example.

    Classification: logits/probabilities of shape (N, num_labels) become their argmax; a 1-D
    array is taken as class ids already. Regression: shape (N,) or (N, 1) become a float vector.
    """
    preds = np.asarray(preds)
    if spec.is_regression:
        if preds.ndim == 2 and preds.shape[1] == 1:
            preds = preds[:, 0]
        if preds.ndim != 1:
            raise InputError(f"task {spec.name!r} is regression: predictions must have shape "
                             f"(N,) or (N, 1), got {preds.shape}")
        return preds.astype(float)
    if preds.ndim == 2 and preds.shape[1] == spec.num_labels:
        return preds.argmax(axis=1)
    if preds.ndim == 1:
        return preds.astype(int)
    raise InputError(f"task {spec.name!r} has {spec.num_labels} classes: predictions must be "
                     f"logits of shape (N, {spec.num_labels}) or class ids (N,), got {preds.shape}")


def compute_metrics(spec: TaskSpec, preds, labels) -> dict[str, float]:
    """``{metric name: value}`` for every metric of ``spec``, as python floats."""
    y_pred = predictions(spec, preds)
    y_true = np.asarray(labels, dtype=float if spec.is_regression else int).reshape(-1)
    if len(y_pred) != len(y_true) or len(y_true) == 0:
        raise InputError(f"task {spec.name!r}: got {len(y_pred)} predictions for "
                         f"{len(y_true)} labels; need the same positive number")
    return {name: METRICS[name](y_true, y_pred, spec.num_labels) for name in spec.metric_names}
