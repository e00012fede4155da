"""Export an allocation as a plain transformers model with its module edges merged into the
weights: a directory that ``AutoModelForCausalLM`` (or ``AutoModelForSequenceClassification``,
or ``AutoModel`` for a bare backbone) loads with neither rankscope nor PEFT installed.

The fold. For every module m with a module edge (its own input → its output) of rank r_m > 0,

    W_m ← W_m + s_m · B_m A_m          ``nn.Linear``: W is d_out × d_in
    W_m ← W_m + (s_m · B_m A_m)ᵀ       GPT-2's ``Conv1D`` (fan_in_fan_out): W is d_in × d_out

where A_m, B_m are the kept ranks and s_m the module's own scale, as
:func:`rankscope.checkpoints.peft_export.module_weights` gives them: α/r₀ (α/√r₀ with rsLoRA) for the LoRA form;
for the SVD form A = Q, B = P·diag(λ·scale) and s_m = 1, so s_m·B A = P·diag(λ)·Q·scale exactly.
Masked ranks are not kept, so they add nothing. The sum is formed in float64 and rounded once to
the weight's dtype. Every other weight is the base model's; the task head of a classification run
is the trained one (loaded with the adapters). The model is written with ``save_pretrained``
(safetensors), with the tokenizer beside it.

Then the directory is loaded back with that Auto class and its outputs on a probe batch compared
with the adapted model's; a difference is refused. Shortcut edges read one point of the network
and write into another: no weight delta on one module holds them, so an allocation with shortcuts
is refused unless ``drop_shortcuts`` (the reference is then the adapted model with its shortcuts
switched off). A weight shared with another module (an lm_head tied to the embeddings) is refused:
merging into it would change both.
"""

from __future__ import annotations

from collections import Counter

import torch

from rankscope.checkpoints.peft_export import (
    _outputs,
    check_outputs,
    is_causal_lm,
    module_weights,
    reference_probe,
    refuse_shortcuts,
)
from rankscope.errors import InputError
from rankscope.models.cache import quiet_transformers


def auto_class(model):
    """The transformers Auto class that loads ``model``'s kind back from a directory."""
    import transformers
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES as SEQ,
    )

    if is_causal_lm(model):
        return transformers.AutoModelForCausalLM
    if type(model).__name__ in {n for v in SEQ.values() for n in ((v,) if isinstance(v, str) else v)}:
        return transformers.AutoModelForSequenceClassification
    return transformers.AutoModel


def fold_into_weights(model, weights: dict) -> None:
    """W ← W + s·B A for every ``{path: {"A", "B", "scale"}}`` of :func:`module_weights`, in place."""
    modules = dict(model.named_modules())
    uses = Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
    with torch.no_grad():
        for path, w in weights.items():
            weight = getattr(modules.get(path), "weight", None)
            if not isinstance(weight, torch.Tensor):
                raise InputError(f"cannot merge into {path}: it has no weight tensor")
            if uses[id(weight)] > 1:
                raise InputError(f"cannot merge into {path}: its weight is tied to another module (e.g. the "
                                 "embeddings), so merging would change both; export with --peft instead")
            delta = w["scale"] * (w["B"].double() @ w["A"].double())
            if type(modules[path]).__name__ == "Conv1D" and weight.shape == delta.T.shape:  # (d_in, d_out)
                delta = delta.T
            elif weight.shape != delta.shape:
                raise InputError(f"cannot merge into {path}: ΔW {tuple(delta.shape)} does not fit its weight "
                                 f"{tuple(weight.shape)}")
            weight.copy_((weight.double() + delta.to(weight.device)).to(weight.dtype))


def export_merged(model, handle, out_dir, *, tokenizer=None, drop_shortcuts: bool = False,
                  check: bool = True) -> dict:
    """Merge ``handle``'s module edges into ``model``'s weights and write the model (and
    ``tokenizer``) to ``out_dir`` with ``save_pretrained``; detaches ``handle``. With ``check``,
    load it back with its Auto class and refuse it unless its outputs on a probe batch are the
    adapted model's. Returns a summary."""
    dropped = refuse_shortcuts(handle, drop_shortcuts, "a merged model",
                               "that is not a weight delta on one module (a merged model holds only those: W + ΔW, "
                               "a module's own input to its output)")
    weights = module_weights(handle)
    if not weights:
        raise InputError("the allocation has no module edge with rank > 0: nothing to merge")
    probe = reference_probe(model, handle, dropped) if check else None  # before detaching
    handle.detach()
    fold_into_weights(model, weights)
    with quiet_transformers():  # no progress bars
        model.save_pretrained(str(out_dir))
        if tokenizer is not None:
            tokenizer.save_pretrained(str(out_dir))
    cls = auto_class(model)
    summary = {"modules": len(weights), "dropped_shortcuts": dropped, "auto_class": cls.__name__,
               "merged_params": sum(w["r"] * (w["A"].shape[1] + w["B"].shape[0]) for w in weights.values())}
    if probe is not None:
        param = next(model.parameters())
        with quiet_transformers():
            reloaded = cls.from_pretrained(str(out_dir)).to(device=param.device, dtype=param.dtype)
        check_outputs(_outputs(reloaded, probe[0]), probe[1], param.dtype, "merged")
        summary["round_trip"] = "ok"
    return summary
