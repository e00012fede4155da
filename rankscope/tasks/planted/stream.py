"""The planted task on pre-LN (pre-norm) models: read and scale the residual stream robustly.

In a post-LN encoder (BERT) every block's output is a LayerNorm output, so hidden states have
comparable sizes in every block and every token. In a pre-LN decoder (LLaMA, SmolLM2, GPT-2) the
hidden state of block ℓ is the raw residual stream ``h_ℓ = h_0 + Σ_{j≤ℓ} (attn_j + ffn_j)``:

- its norm grows with depth, and a few tokens (the first one, the attention sink) carry *massive
  activations*: on SmolLM2-135M the first token's stream has RMS ≈ 980 in blocks 5–28 against
  ≈ 10 elsewhere (max |x| ≈ 27 600 in two dimensions);
- a block reads it only through its RMSNorm, ``n(h) = h / RMS(h)`` (times a gain), so those
  magnitudes are not what the next block sees.

Three consequences for the task, applied when the model's site-map family is ``norm="pre"``
(:func:`is_pre_ln`, a structural property, never a model name):

1. **Features** are every block's stream as a norm reads it, ``h / RMS(h)`` per token
   (:func:`rms_normalise`), not the raw stream, whose mean squares the outlier tokens dominate.
2. **Plant scale** is relative to the stream a plant writes into: a delta on a projection whose
   output is added to the residual (``attn_out``, ``ffn_out`` and every shortcut into them) gets
   ``RMS(Δ) = scale · RMS(h_in)`` of its block's input stream, so the teacher's change stays
   visible after normalisation (scaled to the projection's own output, as on post-LN models, it
   moved SmolLM2's normalised features by well under 1 % of their spread, and any student step
   outweighed it). Every RMS here is :func:`robust_rms`, the median over tokens of the per-token
   RMS, which the massive tokens cannot inflate.
3. **Principal directions** of a plant's input are computed on :func:`inlier_rows`, the tokens whose
   RMS is within ``k`` × the median, so the top direction is not "is this the sink token".
"""

from __future__ import annotations

import torch

from rankscope.errors import UnsupportedModelError
from rankscope.space.sitemap import site_map


def is_pre_ln(model) -> bool:
    """True when ``model``'s family normalises before each sublayer (``Family.norm == "pre"``)."""
    try:
        return site_map(model).family.norm == "pre"
    except UnsupportedModelError:
        return False


def rms_normalise(h: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``h / sqrt(mean(h², last dim) + eps)``: RMSNorm without its gain, per token."""
    return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)


def token_rms(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-token RMS over the last dimension of the real (unpadded) tokens: x [b, t, d] → [n]."""
    return x[mask.bool()].pow(2).mean(-1).sqrt()


def robust_rms(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The median over real tokens of the per-token RMS (a scalar), unmoved by a few huge tokens."""
    return token_rms(x, mask).median()


def inlier_rows(x: torch.Tensor, mask: torch.Tensor, k: float = 4.0) -> torch.Tensor:
    """The real tokens' rows of ``x`` [b, t, d] whose RMS is at most ``k`` × the median: [n', d]."""
    rows, r = x[mask.bool()], token_rms(x, mask)
    return rows[r <= k * r.median()]


def stream_sites(model, space, edge_ids) -> dict[str, str | None]:
    """For each edge id, the residual-stream site its delta lands in: the input of the block whose
    ``attn_out`` or ``ffn_out`` projection is the edge's target, else ``None`` (q, k, v, gate,
    ffn_in targets feed a sublayer, not the stream)."""
    writes = {}
    for blk in site_map(model).blocks:
        for typ in ("attn_out", "ffn_out"):
            writes[f"{blk.modules[typ]}:out"] = f"{blk.path}:in"
    return {eid: writes.get(space.edge(eid).dst) for eid in edge_ids}
