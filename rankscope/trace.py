"""Record, in one forward pass, the order and width of every site a space refers to.

Validation needs three facts about the real model that a config cannot give reliably: that a
site's module exists, the width of the tensor there, and when in the forward pass it is
computed. One traced forward on a tiny dummy batch answers all three for every family.
"""

from __future__ import annotations

import torch

from .edge import parse_site
from .errors import SpaceError


def first_tensor(args, kwargs=None):
    """The tensor a site refers to: the first positional tensor, else ``hidden_states``."""
    for a in args:
        if torch.is_tensor(a):
            return a
    if kwargs:
        hs = kwargs.get("hidden_states")
        if torch.is_tensor(hs):
            return hs
        for v in kwargs.values():
            if torch.is_tensor(v) and v.is_floating_point():
                return v
    return None


def output_tensor(output):
    """The tensor of a module's output (the first element of a tuple or ModelOutput)."""
    if torch.is_tensor(output):
        return output
    if isinstance(output, (tuple, list)) and output and torch.is_tensor(output[0]):
        return output[0]
    if hasattr(output, "to_tuple"):
        return output.to_tuple()[0]
    return None


def dummy_inputs(model, seq_len: int = 8) -> dict:
    vocab = int(getattr(model.config, "vocab_size", 1000) or 1000)
    device = next(model.parameters()).device
    ids = (torch.arange(seq_len, device=device).unsqueeze(0) * 7 + 5) % max(vocab - 1, 2) + 1
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def run_with_site_hooks(model, sites, inputs: dict, on_site) -> None:
    """One no-grad eval forward on ``inputs`` calling ``on_site(site, tensor)`` at every site.

    Raises :class:`SpaceError` naming any site whose module path matches no module.
    """
    modules = dict(model.named_modules())
    wanted: dict[str, set[str]] = {}
    for s in sites:
        path, side = parse_site(s)
        if path not in modules:
            raise SpaceError(f"site {s!r}: module path {path!r} matches no module of the model")
        wanted.setdefault(path, set()).add(side)
    handles = []
    for path, sides in wanted.items():
        mod = modules[path]
        if "in" in sides:
            handles.append(mod.register_forward_pre_hook(
                lambda m, a, k, p=path: on_site(f"{p}:in", first_tensor(a, k)), with_kwargs=True))
        if "out" in sides:
            handles.append(mod.register_forward_hook(
                lambda m, a, o, p=path: on_site(f"{p}:out", output_tensor(o))))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(**inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


def trace_sites(model, sites: set[str]) -> dict[str, tuple[int, int]]:
    """Return ``{site: (event_index, width)}`` for every site seen in one dummy forward."""
    seen: dict[str, tuple[int, int]] = {}
    counter = [0]

    def record(name, tensor):
        if name not in seen and tensor is not None:
            seen[name] = (counter[0], int(tensor.shape[-1]))
        counter[0] += 1

    run_with_site_hooks(model, sites, dummy_inputs(model), record)
    missing = sorted(set(sites) - set(seen))
    if missing:
        raise SpaceError(f"sites never computed in a forward pass: {missing}")
    return seen


def capture_sites(model, sites, inputs: dict) -> dict[str, torch.Tensor]:
    """The tensors at ``sites`` (first occurrence) in one forward pass on ``inputs``."""
    found: dict[str, torch.Tensor] = {}

    def keep(name, tensor):  # must return None: a hook's return value replaces the tensor
        if tensor is not None and name not in found:
            found[name] = tensor.detach()

    run_with_site_hooks(model, sites, inputs, keep)
    return found
