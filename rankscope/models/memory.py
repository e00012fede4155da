"""Bigger bases: a half-precision frozen base and gradient checkpointing, the two switches that
shrink a run's memory without changing what trains.

Which tensor lives in which dtype::

    frozen base   embeddings, attention, FFN, norms, lm_head     --dtype: float32 | bfloat16 | float16
    task head     classifier / score (head_modules)              float32, trainable; its input cast up
    adapters      A, B (LoRA form), P, λ, Q (SVD form)           float32 (rankscope.adapters.attach)
    AdamW state   two moments per trainable parameter            float32 (they follow the parameters)

An edge reads the base's tensor cast up to float32 and adds its update cast back to the base's
dtype (:mod:`rankscope.adapters.runtime`), so only the frozen weights and the activations they
produce are half precision. Every trained number, its gradient and its optimizer state keep
float32's 24-bit mantissa: a bfloat16 adapter would round away updates below 2⁻⁸ of a weight.

**Gradient checkpointing** (:func:`enable_checkpointing`) keeps only each block's input in the
forward pass and recomputes the block in the backward pass: the stored activations shrink from
every intermediate tensor of every block to one tensor per block plus one block's worth, for
about one more forward pass of compute per step. It uses PyTorch's non-reentrant checkpoint,
which needs no input that requires grad (the base is frozen) and replays rankscope's forward
hooks, shortcut edges included (the runtime keeps a forward's edge inputs until the backward
pass has recomputed the blocks that read them).

>>> import rankscope as rs
>>> model, _ = rs.load_model("tiny-llama", 2, dtype="bfloat16")
>>> model.model.layers[0].mlp.up_proj.weight.dtype, model.score.weight.dtype
(torch.bfloat16, torch.float32)
>>> _ = enable_checkpointing(model)
"""

from __future__ import annotations

import torch

from rankscope.errors import InputError
from rankscope.models.heads import head_modules

#: the frozen base's dtypes, by the name ``--dtype`` takes
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_FLAG = "_rankscope_float32_input"  # a head module's input-cast hook, registered once


def torch_dtype(dtype) -> torch.dtype:
    """``"bfloat16"`` (or ``torch.bfloat16``) → ``torch.bfloat16``; anything else outside
    :data:`DTYPES` is an :class:`~rankscope.errors.InputError` naming the valid ones."""
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")


def check_dtype(dtype, device: str) -> None:
    """A valid ``--dtype`` for ``device``.

    float16 is refused on the CPU: its CPU kernels are partial and slower than float32, and
    bfloat16 saves the same memory with float32's exponent range, where float16 overflows above
    65,504 (decoders' massive activations reach that) and needs loss scaling below 6·10⁻⁸. On
    CUDA it is allowed, for cards without bfloat16."""
    torch_dtype(dtype)
    if dtype == "float16" and not str(device).startswith("cuda"):
        raise InputError(f"--dtype float16 runs on cuda only (on {device}, --dtype bfloat16 saves the same memory "
                         "with float32's range); valid on cpu: float32, bfloat16")


def _inputs_to_head_dtype(module, args, kwargs):
    """Cast a head's floating inputs to its weights' dtype: float32, or float64 while SynFlow's
    canonical form runs the whole model in float64."""
    dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), None)
    if dtype is None:
        return None
    cast = lambda t: t.to(dtype) if torch.is_tensor(t) and t.is_floating_point() else t  # noqa: E731
    return tuple(cast(a) for a in args), {k: cast(v) for k, v in kwargs.items()}


def keep_head_float32(model) -> None:
    """Cast the task head (:func:`~rankscope.models.heads.head_modules`) to float32 and cast
    its input up to float32, so a half-precision base feeds a float32 classifier whose logits,
    loss and updates are float32. Idempotent."""
    for module in head_modules(model).values():
        module.float()
        if getattr(module, _FLAG, None) is None:
            setattr(module, _FLAG, module.register_forward_pre_hook(_inputs_to_head_dtype, with_kwargs=True))


def cast_base(model, dtype="float32"):
    """Cast the floating parameters of ``model`` to ``dtype``, except the task head, which
    becomes float32 (:func:`keep_head_float32`); returns ``model``.

    Parameters only, as ``from_pretrained(dtype=...)`` loads them: buffers such as the rotary
    frequencies stay float32. A no-op on a base already in ``dtype``. Adapters already attached
    would be cast too: attach after casting (the session and the Trainer callback do)."""
    dtype = torch_dtype(dtype)
    head = {id(p) for m in head_modules(model).values() for p in m.parameters()}
    with torch.no_grad():
        for p in model.parameters():  # tied weights (embeddings = lm_head) are one parameter
            if p.is_floating_point() and p.dtype != dtype and id(p) not in head:
                p.data = p.data.to(dtype)
    if dtype != torch.float32:
        keep_head_float32(model)
    else:  # a float32 base feeds the head float32 already: no input cast
        for module in head_modules(model).values():
            module.float()
    return model


def enable_checkpointing(model):
    """Turn on gradient checkpointing of every block (non-reentrant, see the module docstring);
    returns ``model``. Only a model in training mode checkpoints, so evaluation and the proxies'
    scoring passes (eval mode) run as before. A model without support is an InputError."""
    kwargs = {"use_reentrant": False}
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise InputError(f"{type(model).__name__} does not support gradient checkpointing; run without "
                         "--gradient-checkpointing")
    if hasattr(model, "activation_checkpointing_enable"):  # transformers ≥ 5: the new name
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if getattr(model.config, "use_cache", None):  # a KV cache cannot be replayed; decoding asks for it itself
        model.config.use_cache = False
    return model


def reentrant_checkpointing(model) -> bool:
    """Whether ``model`` checkpoints its blocks with the *reentrant* checkpoint (transformers
    before 5 defaulted to it). That form runs a block's forward without a graph: with a frozen
    base, adapters inside the block get no gradient, and a shortcut reading an earlier block's
    edge input gets a wrong one, silently. :func:`enable_checkpointing` never uses it."""
    for module in model.modules():
        if getattr(module, "gradient_checkpointing", False) is True:
            func = getattr(module, "_gradient_checkpointing_func", None)
            return (getattr(func, "keywords", None) or {}).get("use_reentrant", True) is not False
    return False


def prepare_base(model, dtype="float32", gradient_checkpointing: bool = False):
    """The frozen base of a run: :func:`cast_base` to ``dtype``, then, if asked,
    :func:`enable_checkpointing`. Returns ``model``."""
    cast_base(model, dtype)
    if gradient_checkpointing:
        enable_checkpointing(model)
    return model
