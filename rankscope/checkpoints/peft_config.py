"""A PEFT ``LoraConfig`` from an allocation: the plan, handed to the trainer a user already runs.

``rankscope plan`` (before training) and ``rankscope export RUN --peft-config`` (a finished run's
final ranks) write ``adapter_config.json``, which ``LoraConfig.from_pretrained(DIR)`` loads and
from which ``get_peft_model`` builds exactly the planned ranks, freshly initialised (A Kaiming-
uniform, B = 0: the initialisation rankscope itself trains from, :mod:`rankscope.adapters.lora`)::

    target_modules    the full names of the modules with rank > 0 (PEFT rejects r = 0, so a
                      module the plan gives no rank is simply absent)
    r                 the largest planned rank
    rank_pattern[m]   r_m for every targeted module (keys: escaped full names, which PEFT
                      matches as ``(.*\\.)?KEY$``: exactly one module each)
    lora_alpha        α, the LoRA form's α (16 unless ``--alpha``)
    alpha_pattern[m]  α for every module (written out so that no loader falls back to another α)
    use_rslora        true under rankscope's default rule α/√r (``--scaling rslora``), so PEFT
                      scales module m by α/√r_m: every rank learns at the same speed
                      (docs/architecture.md, "Rank-stable scaling"); false under ``--scaling lora``
    task_type         ``CAUSAL_LM`` for a causal LM; otherwise the task head (``classifier`` /
                      ``score``) is in ``modules_to_save``, as rankscope trains it

**Scale at serving time.** The patterns give each module its own scale α/√r_m, what rankscope
trains. A loader that reads the patterns (PEFT, transformers' ``load_adapter``) applies them; a
server that applies one global scale, ``lora_alpha/√r`` from the top-level fields (vLLM, LoRAX),
would scale every module whose rank is below ``r`` too much. A single global scale at training
time instead would train every module at α/√r_max, which is not rank-stable, so the plan keeps the
patterns; for such a server, merge the trained adapter (PEFT's ``merge_and_unload``), or train the
plan in rankscope and export it with each module's scale folded into ``lora_B``
(``rankscope export --peft``, :mod:`rankscope.checkpoints.peft_export`).

Shortcut edges read one point of the network and write into another; a ``LoraConfig`` adapts a
module's own input → output, so an allocation with shortcuts is refused here with that reason
(the rankscope format, ``allocation.json``, keeps them).
"""

from __future__ import annotations

import copy
import warnings

from rankscope.adapters.attach import DEFAULT_ALPHA
from rankscope.adapters.lora import DEFAULT_SCALING, check_scaling
from rankscope.checkpoints.peft_export import _is_conv1d, global_scale, lora_config
from rankscope.errors import InputError

WHY_NO_SHORTCUTS = ("a shortcut edge reads one point of the network and writes into another, and PEFT's "
                    "LoraConfig can only adapt a module's own input to its output")


def planned_ranks(allocation) -> dict[str, int]:
    """``{module path: rank}`` of the allocation's module edges with rank > 0; an allocation with
    active shortcut edges is refused (:data:`WHY_NO_SHORTCUTS`)."""
    space, active = allocation.space, allocation.active
    shortcuts = [eid for eid in active if space.edge(eid).module is None]
    if shortcuts:
        raise InputError(f"the allocation gives rank to {len(shortcuts)} shortcut edge(s) ("
                         + ", ".join(shortcuts[:3]) + (", ..." if len(shortcuts) > 3 else "")
                         + f"); {WHY_NO_SHORTCUTS}, so no PEFT config can hold it. allocation.json keeps it in "
                         "the rankscope format; an allocation in --space lora always has a PEFT config")
    ranks = {space.edge(eid).module: int(r) for eid, r in active.items()}
    if not ranks:
        raise InputError("the allocation has no module edge with rank > 0: no PEFT config to write")
    return ranks


def planned_lora_config(allocation, model, *, alpha: float | None = None, scaling: str | None = None):
    """The ``LoraConfig`` that trains ``allocation`` on ``model`` as rankscope would (module
    docstring). ``alpha``: the LoRA form's α (default 16); ``scaling``: ``rslora`` (default) or
    ``lora``."""
    scaling = scaling or DEFAULT_SCALING
    check_scaling(scaling)
    alpha = DEFAULT_ALPHA["lora"]["lora"] if alpha is None else float(alpha)
    if not alpha > 0:
        raise InputError(f"lora_alpha must be positive, got {alpha}")
    ranks = planned_ranks(allocation)
    alpha = int(alpha) if float(alpha).is_integer() else alpha
    modules = {path: {"r": r, "alpha": alpha} for path, r in ranks.items()}
    return lora_config({"r": max(ranks.values()), "lora_alpha": alpha, "use_rslora": scaling == "rslora",
                        "modules": modules}, model, fan_in_fan_out=_is_conv1d(model))


def check_builds(config, model, ranks: dict[str, int]) -> int:
    """Build ``get_peft_model`` on a copy of ``model`` and check it holds exactly ``ranks``, each
    module at its own scale; returns the adapter parameter count PEFT built."""
    from peft import get_peft_model

    with warnings.catch_warnings():  # PEFT calls a transformers property that warns it is deprecated
        warnings.simplefilter("ignore", FutureWarning)
        pm = get_peft_model(copy.deepcopy(model), copy.deepcopy(config))
    built, params = {}, 0
    for name, mod in pm.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "r", {}):
            path = name.removeprefix("base_model.model.")
            r, s = mod.r["default"], mod.scaling["default"]
            want = global_scale(r, config.lora_alpha, config.use_rslora)  # PEFT's α/√r (α/r) at this r
            if abs(s - want) > 1e-6 * want:
                raise InputError(f"PEFT config check: {path} scaled {s}, expected {want}")
            built[path] = r
            params += sum(p.numel() for p in mod.lora_A["default"].parameters())
            params += sum(p.numel() for p in mod.lora_B["default"].parameters())
    if built != ranks:
        wrong = sorted(set(built.items()) ^ set(ranks.items()))[:4]
        raise InputError(f"PEFT config check: get_peft_model built other ranks than planned (first: {wrong})")
    return params

