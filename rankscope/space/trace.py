"""Record, in one forward pass, the order and width of every site a space refers to.

Validation needs three facts about the real model that a config cannot give reliably: that a
site's module exists, the width of the tensor there, and when in the forward pass it is
computed. One traced forward on a tiny dummy batch answers all three for every family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

import torch

from rankscope.errors import SpaceError
from rankscope.space.edge import parse_site

if TYPE_CHECKING:  # annotations only
    from torch import nn
    from torch.utils.hooks import RemovableHandle


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


def register_site_hooks(model: nn.Module, sites: Iterable[str],
                        make_pre_hook: Callable[[str], Callable], make_post_hook: Callable[[str], Callable],
                        ) -> list[RemovableHandle]:
    """Hook every site of ``sites`` on its module; return the handles (``.remove()`` each).

    An ``m:in`` site gets ``make_pre_hook("m:in")`` as a forward pre-hook with kwargs
    (``hook(module, args, kwargs)``), an ``m:out`` site ``make_post_hook("m:out")`` as a forward
    hook (``hook(module, args, output)``); what a hook returns replaces the module's input or
    output, as in torch. Modules are hooked in the order their sites first appear. Raises
    :class:`SpaceError` naming any site whose module path matches no module, before hooking any.
    This is the one place sites become hooks: :func:`run_with_site_hooks` reads the tensors, the
    adapter runtime (:class:`rankscope.adapters.runtime.SiteHooks`) changes them.
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
            handles.append(mod.register_forward_pre_hook(make_pre_hook(f"{path}:in"), with_kwargs=True))
        if "out" in sides:
            handles.append(mod.register_forward_hook(make_post_hook(f"{path}:out")))
    return handles


def run_with_site_hooks(model: nn.Module, sites: Iterable[str], inputs: dict,
                        on_site: Callable[[str, torch.Tensor | None], None]) -> None:
    """One no-grad eval forward on ``inputs`` calling ``on_site(site, tensor)`` at every site.

    ``on_site`` must return ``None`` (a hook's return value replaces the tensor). Raises
    :class:`SpaceError` naming any site whose module path matches no module.
    """
    handles = register_site_hooks(
        model, sites,
        lambda site: lambda m, a, k: on_site(site, first_tensor(a, k)),
        lambda site: lambda m, a, o: on_site(site, output_tensor(o)))
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
