"""The task head of a model: what trains beside the adapters and stays float32 on a
half-precision base (:mod:`rankscope.models.memory`)."""

from __future__ import annotations


def head_modules(model) -> dict:
    """The task head, ``{name: module}``: top-level ``classifier``/``score`` (and DeBERTa's
    freshly initialised ``pooler``) of a sequence-classification model. It trains beside the
    adapters, is saved with them, and goes to PEFT as ``modules_to_save``."""
    deberta = getattr(getattr(model, "config", None), "model_type", None) == "deberta-v2"
    return {name: child for name, child in model.named_children()
            if name in ("classifier", "score") or (name == "pooler" and deberta)}
