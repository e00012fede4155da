"""The rankscope adapter format: save trained adapters, shortcut edges included, and rebuild them
on a freshly loaded base model. No pickle anywhere.

A saved directory holds::

    adapter.safetensors   one tensor per adapter parameter and buffer: "<edge id>/<name>"
                          (LoRA: A, B, mask, scale; SVD: Q, lam, P, mask, scale), active ranks
                          only, and the task head trained beside them: "head/classifier.weight"
    allocation.json       the allocation (ranks of the saved edges), as Allocation.to_json
    space.json            the search space (SearchSpace.to_dict: every edge, its sites and widths)
    adapter_config.json   format version, adapter form, and the base model it was trained on:
                          model type, widths, and a checksum of the weights the edges touch

Saving slices masked ranks away (as ``compact()``), so a directory is as small as the allocation
it describes and loading attaches exactly those ranks. The scale of each adapter is stored, so
an adapter compacted during training keeps the α/r₀ it trained with.

Loading checks, each failure an :class:`~rankscope.errors.InputError` that names what differs:
the files are complete and parse; the space rebuilds and matches the model (sites, widths,
forward order); the base model's type, widths and checksum match; every tensor has the expected
name, shape and dtype. A truncated or tampered safetensors file fails in ``safetensors`` and is
reported as corrupted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from rankscope.allocation.allocation import Allocation
from rankscope.errors import InputError, SpaceError
from rankscope.io import atomic_write_bytes, atomic_write_text, read_json
from rankscope.models.loading import head_modules
from rankscope.space.edge import parse_site

FORMAT = "rankscope-adapter"
VERSION = 1
FILES = ("adapter.safetensors", "allocation.json", "space.json", "adapter_config.json")


def _touched_modules(space) -> list[str]:
    return sorted({parse_site(s)[0] for e in space.edges for s in (e.src, e.dst)})


def base_model_record(model, space) -> dict:
    """What identifies the base model for these adapters: its type, widths and a checksum of the
    weights of every module an edge reads from or writes into (sums rounded to 6 significant
    digits, so the same checkpoint on another device or BLAS still matches)."""
    modules = dict(model.named_modules())
    digest = hashlib.sha256()
    for path in _touched_modules(space):
        w = getattr(modules.get(path), "weight", None)
        if isinstance(w, torch.Tensor):
            w64 = w.detach().double()
            digest.update(f"{path}:{float(w64.sum()):.6e}:{float(w64.abs().sum()):.6e};".encode())
    cfg = getattr(model, "config", None)
    return {"model_type": getattr(cfg, "model_type", None), "hidden_size": getattr(cfg, "hidden_size", None),
            "num_hidden_layers": getattr(cfg, "num_hidden_layers", None),
            "name_or_path": getattr(cfg, "_name_or_path", None), "checksum": digest.hexdigest()[:16]}


HEAD = "head"
def head_state(model) -> dict:
    """The task head's parameters (:func:`~rankscope.models.loading.head_modules`): trained with
    the adapters, so saved with them; a freshly loaded base model has a random head."""
    return {f"{n}.{pn}": p for n, child in head_modules(model).items() for pn, p in child.named_parameters()}


def save_adapters(handle, directory) -> Path:
    """Write ``handle``'s adapters (active ranks only) into ``directory``; returns it."""
    from safetensors.torch import save

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors, ranks = {}, {}
    for eid, a in handle.adapters.items():
        idx = a.kept()
        if idx.numel() == 0:
            continue
        ranks[eid] = int(idx.numel())
        for name, dim in a.RANK_DIMS.items():
            tensors[f"{eid}/{name}"] = getattr(a, name).detach().index_select(dim, idx).contiguous().cpu()
        tensors[f"{eid}/mask"] = torch.ones(int(idx.numel()), dtype=a.mask.dtype)
        tensors[f"{eid}/scale"] = a.scale.detach().clone().cpu()
    for name, param in head_state(handle.model).items():
        tensors[f"{HEAD}/{name}"] = param.detach().contiguous().cpu()
    alloc = Allocation(handle.space, ranks, handle.form)
    config = {"format": FORMAT, "version": VERSION, "form": handle.form,
              "base_model": base_model_record(handle.model, handle.space)}
    atomic_write_bytes(out / "adapter.safetensors", save(tensors, metadata={"format": FORMAT}))
    atomic_write_text(out / "allocation.json", alloc.to_json() + "\n")
    atomic_write_text(out / "space.json", json.dumps(handle.space.to_dict(), indent=1) + "\n")
    atomic_write_text(out / "adapter_config.json", json.dumps(config, indent=2) + "\n")
    return out


def _read_json(path: Path) -> dict:
    return read_json(path, "part of a rankscope adapter directory; it is corrupted or incomplete")


def load_adapters(model, directory, *, dropout: float = 0.0):
    """Rebuild the adapters saved in ``directory`` on ``model`` (a freshly loaded base model)
    and return the :class:`~rankscope.adapters.attach.AdapterHandle`. Outputs equal the saved model's."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from rankscope.adapters.attach import attach
    from rankscope.space.graph import SearchSpace

    d = Path(directory)
    missing = [f for f in FILES if not (d / f).is_file()]
    if missing:
        raise InputError(f"{d} is not a rankscope adapter directory: missing {', '.join(missing)} "
                         f"(expected {', '.join(FILES)})")
    config = _read_json(d / "adapter_config.json")
    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise InputError(f"{d}/adapter_config.json: format {config.get('format')!r} version "
                         f"{config.get('version')!r}; this rankscope reads {FORMAT!r} version {VERSION}")
    space = SearchSpace.from_dict(_read_json(d / "space.json"))
    try:
        space.validate(model)
    except (SpaceError, KeyError) as exc:
        raise InputError(f"the adapters in {d} were saved for space {space.name!r} on another base model: "
                         f"{exc}") from None
    want, have = config.get("base_model") or {}, base_model_record(model, space)
    diff = [f"{k} (saved: {want.get(k)!r}, this model: {have.get(k)!r})"
            for k in ("model_type", "hidden_size", "num_hidden_layers", "checksum") if want.get(k) != have.get(k)]
    if diff:
        raise InputError(f"the adapters in {d} were trained on another base model: " + "; ".join(diff))
    allocation = Allocation.from_json((d / "allocation.json").read_text(), space)
    try:
        tensors = load((d / "adapter.safetensors").read_bytes())
    except (SafetensorError, ValueError, OSError) as exc:
        raise InputError(f"{d}/adapter.safetensors is corrupted or truncated ({exc})") from None
    handle = attach(model, space, allocation, form=config["form"], dropout=dropout)
    expected = {f"{eid}/{n}": t for eid, a in handle.adapters.items()
                for n, t in [*((n, getattr(a, n)) for n in a.RANK_DIMS), ("mask", a.mask), ("scale", a.scale)]}
    expected.update({f"{HEAD}/{n}": p for n, p in head_state(model).items() if f"{HEAD}/{n}" in tensors})
    problems = sorted(set(expected) ^ set(tensors))
    problems += [f"{k}: shape {tuple(tensors[k].shape)} dtype {tensors[k].dtype}, expected "
                 f"{tuple(v.shape)} {v.dtype}" for k, v in expected.items()
                 if k in tensors and (tensors[k].shape != v.shape or tensors[k].dtype != v.dtype)]
    if problems:
        handle.detach()
        raise InputError(f"{d}/adapter.safetensors does not match its allocation.json: "
                         + "; ".join(map(str, problems[:5])) + (" ..." if len(problems) > 5 else ""))
    with torch.no_grad():
        for k, v in expected.items():
            v.copy_(tensors[k].to(v.device))
    return handle
