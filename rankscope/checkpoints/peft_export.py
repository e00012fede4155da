"""Export a LoRA-only allocation to a plain PEFT adapter that is **serving-safe**: the same
update comes out of PEFT and out of a server that applies one global LoRA scale.

Why a fold is needed. PEFT scales module m by α_m / r_m (α_m / √r_m with ``use_rslora``), where
r_m and α_m come from ``rank_pattern`` and ``alpha_pattern``. vLLM and LoRAX read each module's
rank from its tensor shapes but apply a single scale, ``lora_alpha / r`` (``lora_alpha / √r``
with ``use_rslora``), taken from the top-level fields, and ignore the patterns (vLLM issue
#59799). A mixed-rank adapter whose modules have different scales then loads without error and
computes something else.

The fold. Let s_m be module m's own scale as trained: α/r₀ or α/√r₀ for the LoRA form, r₀ being
its rank at attach time (compaction keeps that scale); 1 for the SVD form, whose λ·scale goes
into B. The top-level fields are r = max_m r_m, α = ``lora_alpha`` (the training α when given,
else r) and ``use_rslora`` (the training scaling), so the one global scale is

    s = α / r            (α / √r with rsLoRA)

and every module is written as

    lora_A_m          = A_m                      (the kept ranks)
    lora_B_m          = B_m · s_m / s            so that  s · B'_m A_m = s_m · B_m A_m = ΔW_m
    rank_pattern[m]   = r_m                      PEFT builds the shapes from it
    alpha_pattern[m]  = α · r_m / r              PEFT: α_m / r_m  = α / r  = s
                      = α · √(r_m / r)  rsLoRA   PEFT: α_m / √r_m = α / √r = s

Under PEFT's pattern rules every module's scale is therefore s, the scale a global-scale loader
applies, and both compute s · B'_m A_m = ΔW_m, rankscope's update. What else goes where:

    target_modules    the full names of the modules with rank > 0 (PEFT rejects r = 0, so
                      rank-0 modules are simply absent)
    pattern keys      escaped full names (PEFT matches a key as ``(.*\\.)?KEY$``)
    SVD form          A ← Q[kept], B ← P[:, kept] · diag(λ · scale)[kept], s_m = 1: the same
                      ΔW = P·diag(Λ)·Q·scale, exactly
    task head         ``modules_to_save`` (classifier / score), weights included; vLLM refuses
                      adapters that have one. A causal LM has no trained head (its lm_head is
                      the base model's): ``task_type="CAUSAL_LM"``, nothing in modules_to_save

After writing, the export is loaded back with ``PeftModel.from_pretrained`` on a fresh base
model and checked: every targeted module has its r and the global scale s, the top-level
``lora_alpha`` and ``r`` give s, every pattern key matches exactly one module, and the outputs
on a probe batch are rankscope's. Shortcut edges read one point of the network and write into
another; a ``LoraConfig`` adapts a module's own input → output and cannot hold them, so an
allocation with shortcuts is refused unless ``drop_shortcuts`` (the PEFT model then lacks them,
its outputs differ, and it is checked against rankscope's with the shortcuts switched off); keep
such allocations in the rankscope format (:mod:`rankscope.checkpoints.native`). The same helpers serve
the merged-weights export (:mod:`rankscope.checkpoints.merged_export`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import torch

from rankscope.adapters.lora import DEFAULT_SCALING, check_scaling
from rankscope.errors import InputError
from rankscope.models.loading import head_modules

# the values vLLM accepts for --max-lora-rank (LoRAConfig.MaxLoRARanks; 1 and 320 are recent)
VLLM_MAX_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def module_weights(handle) -> dict[str, dict]:
    """``{module path: {"A", "B", "r", "scale"}}`` for the module edges of ``handle``: the kept
    ranks and each module's own scale s_m (so that ΔW = s_m · B A)."""
    out = {}
    for eid, a in handle.adapters.items():
        path, idx = handle.space.edge(eid).module, a.kept()
        if path is None or idx.numel() == 0:
            continue
        if handle.form == "svd":
            gate = (a.lam.detach() * a.scale)[idx]
            A, B, scale = a.Q.detach()[idx], a.P.detach()[:, idx] * gate, 1.0
        else:
            A, B, scale = a.A.detach()[idx], a.B.detach()[:, idx], float(a.scale)
        out[path] = {"A": A.clone(), "B": B.clone(), "r": int(idx.numel()), "scale": scale}
    return out


def global_scale(r: int, lora_alpha: float, use_rslora: bool) -> float:
    """The one scale a global-scale loader applies: ``lora_alpha / r`` (``/ √r`` with rsLoRA)."""
    return lora_alpha / (math.sqrt(r) if use_rslora else r)


def _tidy(x: float):
    """An integral float as an int (``lora_alpha`` is an int in most loaders), else the float."""
    return int(x) if float(x).is_integer() else float(x)


def fold(weights: dict, *, scaling: str = DEFAULT_SCALING, alpha: float | None = None) -> dict:
    """The serving-safe form of ``weights`` (:func:`module_weights`): ``{"r", "lora_alpha",
    "use_rslora", "scale", "modules": {path: {"A", "B", "r", "alpha"}}}`` with B folded and
    α_m chosen as in the module docstring."""
    check_scaling(scaling)
    if not weights:
        raise InputError("the allocation has no module edge with rank > 0: nothing to export to PEFT")
    rslora = scaling == "rslora"
    r = max(w["r"] for w in weights.values())
    lora_alpha = _tidy(r if alpha is None else alpha)
    if not lora_alpha > 0:
        raise InputError(f"lora_alpha must be positive, got {alpha}")
    s = global_scale(r, lora_alpha, rslora)
    modules = {}
    for path, w in weights.items():
        ratio = w["r"] / r
        modules[path] = {"A": w["A"], "B": w["B"] * (w["scale"] / s), "r": w["r"],
                         "alpha": _tidy(lora_alpha * (math.sqrt(ratio) if rslora else ratio))}
    return {"r": r, "lora_alpha": lora_alpha, "use_rslora": rslora, "scale": s, "modules": modules}


def shortcut_edges(handle) -> list[str]:
    return [eid for eid in handle.adapters if handle.space.edge(eid).module is None]


def refuse_shortcuts(handle, drop_shortcuts: bool, what: str, why: str) -> list[str]:
    """The shortcut edges of ``handle`` (to be dropped); refused unless ``drop_shortcuts``.
    ``what``: the export format (``plain PEFT``); ``why``: what it can hold instead."""
    dropped = shortcut_edges(handle)
    if dropped and not drop_shortcuts:
        raise InputError(
            f"the allocation has {len(dropped)} shortcut edge(s) ({', '.join(dropped[:4])}"
            + (", ..." if len(dropped) > 4 else "") + f"). A shortcut reads one point of the network and writes "
            f"into another, and {why}, so {what} cannot hold them. Keep this allocation in the rankscope format "
            "(the run's adapter/ directory, rs.load_adapters), or pass --drop-shortcuts to export only the module "
            "edges (outputs will differ)")
    return dropped


def is_causal_lm(model) -> bool:
    """Whether ``model`` is a transformers causal LM (``*ForCausalLM``, ``GPT2LMHeadModel``, ...)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES as CAUSAL,
    )

    names = {n for v in CAUSAL.values() for n in ((v,) if isinstance(v, str) else v)}
    return type(model).__name__ in names


def lora_config(folded: dict, model, *, fan_in_fan_out: bool = False):
    from peft import LoraConfig

    mods, heads = folded["modules"], list(head_modules(model))
    causal = {"task_type": "CAUSAL_LM"} if is_causal_lm(model) else {}  # no trained head to save
    return LoraConfig(r=folded["r"], lora_alpha=folded["lora_alpha"], use_rslora=folded["use_rslora"],
                      lora_dropout=0.0, target_modules=sorted(mods), fan_in_fan_out=fan_in_fan_out,
                      rank_pattern={re.escape(p): w["r"] for p, w in mods.items()},
                      alpha_pattern={re.escape(p): w["alpha"] for p, w in mods.items()},
                      modules_to_save=None if causal else heads or None, **causal)


def vllm_max_lora_rank(r: int) -> int | None:
    """The smallest value vLLM accepts for ``--max-lora-rank`` that holds rank ``r``."""
    return next((v for v in VLLM_MAX_LORA_RANKS if v >= r), None)


def _is_conv1d(model) -> bool:
    return any(type(m).__name__ == "Conv1D" for m in model.modules())


def _outputs(model, ids) -> torch.Tensor:
    """The model's logits (or first output, e.g. ``last_hidden_state``) on ``ids``, in eval mode."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(input_ids=ids)
    finally:
        model.train(was)
    logits = getattr(out, "logits", None)
    return (logits if logits is not None else out[0]).float()


def _probe_ids(model):
    """One fixed sequence of 8 token ids (batch 1: models without a pad token accept it)."""
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    if not vocab:
        return None
    device = next(model.parameters()).device
    return torch.randint(0, int(vocab), (1, 8), generator=torch.Generator().manual_seed(0)).to(device)


def reference_probe(model, handle, dropped=()):
    """``(probe ids, rankscope's outputs on them)`` with the edges ``dropped`` switched off (their
    masks zeroed, then restored): what an export without them must compute; None without a vocab."""
    if (ids := _probe_ids(model)) is None:
        return None
    masks = {eid: handle.adapters[eid].mask.detach().clone() for eid in dropped}
    try:
        with torch.no_grad():
            for eid in dropped:
                handle.adapters[eid].mask.zero_()
        return ids, _outputs(model, ids)
    finally:
        with torch.no_grad():
            for eid, m in masks.items():
                handle.adapters[eid].mask.copy_(m)


def check_outputs(got: torch.Tensor, want: torch.Tensor, dtype, what: str) -> None:
    """Refuse an export whose outputs on the probe differ from rankscope's."""
    tol = 1e-4 if dtype in (torch.float32, torch.float64) else 2e-2  # bf16, fp16
    err = float((got.float() - want.float()).abs().max())
    if not err <= tol * (1.0 + float(want.abs().max())):
        raise InputError(f"{what} export check: the outputs differ from rankscope's by {err:.3g}")


def export_peft(model, handle, out_dir, *, drop_shortcuts: bool = False, fresh_model=None,
                scaling: str = DEFAULT_SCALING, alpha: float | None = None) -> tuple:
    """Write ``handle``'s module edges (on ``model``) as a serving-safe PEFT adapter in
    ``out_dir``; detaches ``handle``. ``scaling`` (``"rslora"`` or ``"lora"``) and ``alpha`` set
    the top-level ``use_rslora`` and ``lora_alpha`` (default: the largest rank); pass the
    training ones to keep B unchanged on full-rank modules. Any choice gives the same function.
    With ``fresh_model`` (an untouched copy of the base model), the export is loaded back and
    checked. Returns ``(summary, the PeftModel built on model)``."""
    from peft import get_peft_model

    dropped = refuse_shortcuts(handle, drop_shortcuts, "plain PEFT",
                               "PEFT's LoraConfig can only adapt a module's own input to its output")
    folded = fold(module_weights(handle), scaling=scaling, alpha=alpha)
    weights = folded["modules"]
    config = lora_config(folded, model, fan_in_fan_out=_is_conv1d(model))
    # rankscope's outputs (without the dropped shortcuts), before detaching
    probe = reference_probe(model, handle, dropped) if fresh_model is not None else None
    handle.detach()
    pm = get_peft_model(model, config)
    placed = set()
    with torch.no_grad():
        for name, mod in pm.named_modules():
            path = name.removeprefix("base_model.model.")
            if path in weights and hasattr(mod, "lora_A") and "default" in mod.lora_A:
                mod.lora_A["default"].weight.copy_(weights[path]["A"])
                mod.lora_B["default"].weight.copy_(weights[path]["B"])
                placed.add(path)
    if placed != set(weights):
        raise InputError(f"PEFT did not adapt {sorted(set(weights) - placed)[:4]}: unsupported module type")
    pm.save_pretrained(str(out_dir))
    summary = {"modules": len(weights), "dropped_shortcuts": dropped, "params": sum(
        w["r"] * (w["A"].shape[1] + w["B"].shape[0]) for w in weights.values()),
        "max_rank": folded["r"], "min_rank": min(w["r"] for w in weights.values()),
        "lora_alpha": folded["lora_alpha"], "use_rslora": folded["use_rslora"], "scale": folded["scale"],
        "vllm_max_lora_rank": vllm_max_lora_rank(folded["r"]), "modules_to_save": config.modules_to_save or [],
        "task_type": config.task_type}
    if fresh_model is not None:
        check_round_trip(fresh_model, out_dir, folded, probe)
        summary["round_trip"] = "ok"
    return summary, pm


def check_round_trip(fresh_model, out_dir, folded: dict, probe=None) -> None:
    """Load the export with PEFT and check it is serving-safe and faithful: the top-level
    ``lora_alpha``/``r`` give the global scale s; every targeted module has its r and scaling
    s; every pattern key matches exactly one module; on ``probe = (ids, rankscope's outputs)``
    the outputs agree."""
    from peft import PeftModel

    weights, s = folded["modules"], folded["scale"]
    written = json.loads((Path(out_dir) / "adapter_config.json").read_text())
    s_written = global_scale(written["r"], written["lora_alpha"], bool(written.get("use_rslora")))
    if abs(s_written - s) > 1e-6 * s:
        raise InputError(f"PEFT export check: top-level lora_alpha/r give scale {s_written}, expected {s}")
    pm = PeftModel.from_pretrained(fresh_model, str(out_dir))
    cfg = pm.peft_config["default"]
    names = [n.removeprefix("base_model.model.") for n, _ in pm.named_modules()]
    for pattern in (cfg.rank_pattern or {}):
        hits = [n for n in names if re.match(rf"(.*\.)?({pattern})$", n)]
        if len(hits) != 1:
            raise InputError(f"PEFT export check: pattern key {pattern!r} matches {len(hits)} modules")
    seen = set()
    for name, mod in pm.named_modules():
        path = name.removeprefix("base_model.model.")
        if path in weights and hasattr(mod, "r") and "default" in getattr(mod, "r", {}):
            r, scaling = mod.r["default"], mod.scaling["default"]
            if r != weights[path]["r"] or abs(scaling - s) > 1e-6 * s:
                raise InputError(f"PEFT export check: {path} loaded with r={r}, scaling {scaling}; "
                                 f"expected r={weights[path]['r']}, scaling {s} (the global scale)")
            seen.add(path)
    if seen != set(weights):
        raise InputError(f"PEFT export check: {sorted(set(weights) - seen)[:4]} not adapted after reload")
    if probe is not None:
        ids, want = probe
        param = next(pm.parameters())
        check_outputs(_outputs(pm, ids.to(param.device)), want, param.dtype, "PEFT")
