"""SYNFLOW: the HeteroLoRA variant (``synflow``, the paper's default) and the canonical
data-free form of Tanaka et al. 2020 (``synflow_canonical``).

Both replace every floating-point parameter and buffer of the model by its absolute value
(frozen weights, norms, embeddings and adapters alike), compute R, and score

    score_e = Σ_θ Σ_ij |θ ⊙ ∇_θ R|_ij       over the edge's factors

then restore the signs in place (no copy of the model; the sign bits are kept, one byte per
value, and -|θ| = θ restores them exactly).

* ``synflow`` (HeteroLoRA ``synflow.py``): ONE scoring batch, ``inputs_embeds`` = all ones
  [B, T, d_embed] with the batch's real attention mask and labels; R = the task loss.
* ``synflow_canonical``: a data-free all-ones input [1, T, d_embed] (T = the first batch's
  length), R = 1ᵀ f(1) = the sum of the model's output tensor, computed in float64 as Tanaka
  et al. do (products of |θ| overflow float32).

Both are identically 0 while B = 0 (|B| = 0 kills both factors' terms).
"""

import torch

from rankscope.scoring import Proxy, connection_sensitivity


class _AbsWeights:
    """Context: every float tensor of ``modules`` replaced by |θ|, signs restored on exit."""

    def __init__(self, *modules):
        seen, self.tensors = set(), []
        for m in modules:
            for t in list(m.parameters()) + list(m.buffers()):
                if t.is_floating_point() and id(t) not in seen:
                    seen.add(id(t))
                    self.tensors.append(t)

    def __enter__(self):
        with torch.no_grad():
            self.signs = [torch.signbit(t) for t in self.tensors]
            for t in self.tensors:
                t.abs_()
        return self

    def __exit__(self, *exc):
        with torch.no_grad():
            for t, neg in zip(self.tensors, self.signs):
                t[neg] = -t[neg]


def _embed_dim(model) -> int:
    return model.get_input_embeddings().embedding_dim


def _embed_dtype(model) -> torch.dtype:
    """The dtype the blocks expect their input in: the base's (``--dtype``), not the adapters'."""
    return model.get_input_embeddings().weight.dtype


class _Float64:
    """Context: the whole model in float64, every floating parameter and buffer put back in its
    own dtype on exit (a half-precision base keeps float32 adapters and head, which one
    ``model.to(dtype)`` would cast down)."""

    def __init__(self, model):
        self.model = model
        self.params = [(p, p.dtype) for p in model.parameters() if p.is_floating_point()]
        self.buffers = [(name, b.dtype) for name, b in model.named_buffers() if b.is_floating_point()]

    def __enter__(self):
        self.model.double()
        return self

    def __exit__(self, *exc):
        with torch.no_grad():
            for p, dtype in self.params:  # .double() keeps the Parameter objects, so identities hold
                p.data = p.data.to(dtype)
                if p.grad is not None:
                    p.grad = p.grad.to(dtype)
            for name, dtype in self.buffers:  # buffers are replaced: set them back by name
                path, _, leaf = name.rpartition(".")
                owner = self.model.get_submodule(path)
                setattr(owner, leaf, getattr(owner, leaf).to(dtype))


def _snip_on(ctx, tensors):
    """SNIP's formula on the gradients of this proxy's own backward pass."""
    return {eid: connection_sensitivity(a, {n: p.grad for n, p in a.named_parameters()})
            for eid, a in ctx.handle.adapters.items()}


class SynFlow(Proxy):
    name = "synflow"
    zero_at_init = True

    def finish(self, ctx):
        batch = dict(ctx.batches[0])
        ids = batch.pop("input_ids")
        batch["inputs_embeds"] = torch.ones(*ids.shape, _embed_dim(ctx.model), device=ids.device,
                                            dtype=_embed_dtype(ctx.model))
        tensors = [p for _, _, p in ctx.adapter_params()]
        with _AbsWeights(ctx.model, *([ctx.objective] if isinstance(ctx.objective, torch.nn.Module) else [])):
            ctx.loss(batch).backward()
            return _snip_on(ctx, tensors)


class CanonicalSynFlow(Proxy):
    name = "synflow_canonical"
    zero_at_init = True

    def finish(self, ctx):
        model = ctx.model
        t = ctx.batches[0]["input_ids"].shape[1]
        dev = next(model.parameters()).device
        tensors = [p for _, _, p in ctx.adapter_params()]
        with _Float64(model), _AbsWeights(model):
            ones = torch.ones(1, t, _embed_dim(model), dtype=torch.float64, device=dev)
            out = model(inputs_embeds=ones, attention_mask=torch.ones(1, t, dtype=torch.long, device=dev))
            first = out[0] if not torch.is_tensor(out) else out
            first.sum().backward()
            return _snip_on(ctx, tensors)
