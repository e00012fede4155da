"""Export a LoRA-only allocation to a plain PEFT adapter (``LoraConfig`` + ``save_pretrained``).

For every module edge with rank > 0 (PEFT rejects r = 0, so rank-0 modules are simply absent):

    target_modules   the full names of exactly those modules
    rank_pattern     {escaped full name: r_e}         (PEFT matches keys as (.*\\.)?KEY$)
    alpha_pattern    {escaped full name: α_e}, chosen so that PEFT's α_e / r_e equals the
                     adapter's own scale exactly
    LoRA form        A ← A[kept], B ← B[:, kept],       α_e = scale · r_e
    SVD form         A ← Q[kept], B ← P[:, kept] · diag(λ · scale)[kept],  α_e = r_e (scaling 1)
                     — the same ΔW = P·diag(Λ)·Q·scale, exactly
    task head        ``modules_to_save`` (classifier / score), weights included

After writing, the export is loaded back with ``PeftModel.from_pretrained`` on a fresh base
model and checked: every targeted module has its r and scaling, and every pattern key matches
exactly one module. Shortcut edges read one point of the network and write into another; a
``LoraConfig`` adapts a module's own input → output and cannot hold them, so an allocation with
shortcuts is refused unless ``drop_shortcuts`` (the PEFT model then lacks them and its outputs
differ); keep such allocations in the rankscope format (:mod:`rankscope.adapter_io`).
"""

from __future__ import annotations

import re

import torch

from .errors import InputError

def peft_weights(handle) -> dict[str, dict]:
    """``{module path: {"A", "B", "r", "alpha"}}`` for the module edges of ``handle``."""
    out = {}
    for eid, a in handle.adapters.items():
        path, idx = handle.space.edge(eid).module, a.kept()
        if path is None or idx.numel() == 0:
            continue
        r, scale = int(idx.numel()), float(a.scale)
        if handle.form == "svd":
            gate = (a.lam.detach() * a.scale)[idx]
            A, B, alpha = a.Q.detach()[idx], a.P.detach()[:, idx] * gate, float(r)
        else:
            A, B, alpha = a.A.detach()[idx], a.B.detach()[:, idx], scale * r
        out[path] = {"A": A.clone(), "B": B.clone(), "r": r, "alpha": alpha}
    return out


def shortcut_edges(handle) -> list[str]:
    return [eid for eid in handle.adapters if handle.space.edge(eid).module is None]


def lora_config(weights: dict, model, *, fan_in_fan_out: bool = False):
    from peft import LoraConfig

    if not weights:
        raise InputError("the allocation has no module edge with rank > 0: nothing to export to PEFT")
    from .harness.loop import head_modules

    heads = list(head_modules(model))
    return LoraConfig(r=max(w["r"] for w in weights.values()), lora_alpha=1.0, lora_dropout=0.0,
                      target_modules=sorted(weights), fan_in_fan_out=fan_in_fan_out,
                      rank_pattern={re.escape(p): w["r"] for p, w in weights.items()},
                      alpha_pattern={re.escape(p): w["alpha"] for p, w in weights.items()},
                      modules_to_save=heads or None)


def _is_conv1d(model) -> bool:
    return any(type(m).__name__ == "Conv1D" for m in model.modules())


def export_peft(model, handle, out_dir, *, drop_shortcuts: bool = False, fresh_model=None) -> dict:
    """Write ``handle``'s module edges (on ``model``) as a PEFT adapter in ``out_dir``; detaches
    ``handle``. With ``fresh_model`` (an untouched copy of the base model), the export is loaded
    back and checked. Returns ``(summary, the PeftModel built on model)``."""
    from peft import get_peft_model

    dropped = shortcut_edges(handle)
    if dropped and not drop_shortcuts:
        raise InputError(
            f"the allocation has {len(dropped)} shortcut edge(s) ({', '.join(dropped[:4])}"
            + (", ..." if len(dropped) > 4 else "") + "). A shortcut reads one point of the network and writes "
            "into another, and PEFT's LoraConfig can only adapt a module's own input to its output, so plain PEFT "
            "cannot hold them. Keep this allocation in the rankscope format (the run's adapter/ directory, "
            "rs.load_adapters), or pass --drop-shortcuts to export only the module edges (outputs will differ)")
    weights = peft_weights(handle)
    config = lora_config(weights, model, fan_in_fan_out=_is_conv1d(model))
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
        w["r"] * (w["A"].shape[1] + w["B"].shape[0]) for w in weights.values())}
    if fresh_model is not None:
        check_round_trip(fresh_model, out_dir, weights)
        summary["round_trip"] = "ok"
    return summary, pm


def check_round_trip(fresh_model, out_dir, weights: dict) -> None:
    """Load the export with PEFT; every targeted module must have its r and α/r, and every
    pattern key must match exactly one module."""
    from peft import PeftModel

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
            want = weights[path]
            if mod.r["default"] != want["r"] or abs(mod.scaling["default"] - want["alpha"] / want["r"]) > 1e-6 * max(
                    1.0, abs(want["alpha"] / want["r"])):
                raise InputError(f"PEFT export check: {path} loaded with r={mod.r['default']}, scaling "
                                 f"{mod.scaling['default']}; expected r={want['r']}, scaling {want['alpha'] / want['r']}")
            seen.add(path)
    if seen != set(weights):
        raise InputError(f"PEFT export check: {sorted(set(weights) - seen)[:4]} not adapted after reload")
