"""Per-batch records of what every edge read and the gradient of what it wrote.

An observer for :meth:`AdapterHandle.observe`. For an edge e = (src → dst) on a batch of B
examples with T tokens::

    x_e = the tensor at src       [B·T, d_in]    (what the edge's ``down`` multiplies)
    g_e = ∂ℓ̄/∂y at dst           [B·T, d_out]   (gradient of the tensor the edge adds into)

so ∂ℓ̄/∂ΔW_e = g_eᵀ x_e, the gradient of a dense update at this edge — the quantity behind
SNIP-like products and the ``spectral`` proxy. Records are kept for one batch only.
"""

from __future__ import annotations

import torch


class EdgeRecorder:
    def __init__(self):
        self.inputs: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}

    # observer protocol ---------------------------------------------------------------
    def on_input(self, site, x):
        self.inputs[site] = x.detach()

    def on_output(self, site, y):
        if y.requires_grad:
            y.register_hook(lambda g, s=site: self.grads.__setitem__(s, g.detach()))

    def clear(self):
        self.inputs.clear()
        self.grads.clear()


class BatchRecords:
    """One batch's view: ``io(edge_id)`` → (x [N, d_in], g [N, d_out]); ``n_examples`` = B."""

    def __init__(self, recorder: EdgeRecorder, handle, n_examples: int):
        self._rec, self.handle, self.n_examples = recorder, handle, n_examples
        self.space = handle.space

    @property
    def edge_ids(self):
        return list(self.handle.adapters.keys())

    def io(self, edge_id: str):
        e = self.space.edge(edge_id)
        x = self._rec.inputs[e.src]
        g = self._rec.grads.get(e.dst)
        if g is None:  # the loss does not depend on this site (e.g. after the pooled token)
            g = torch.zeros(*x.shape[:-1], e.d_out, dtype=x.dtype, device=x.device)
        return x.reshape(-1, x.shape[-1]).float(), g.reshape(-1, g.shape[-1]).float()

    def bottleneck(self, edge_id: str, x: torch.Tensor) -> torch.Tensor:
        """The edge's r rank activations u = gate ⊙ (down · x): [N, r] (x as from :meth:`io`)."""
        a = self.handle.adapters[edge_id]
        return (x @ a.down.detach().float().T) * a.gate().detach().float()

    def per_example(self, t: torch.Tensor) -> torch.Tensor:
        """[N, d] → [B, N/B, d]: the token rows of each example (N = B·T in every family)."""
        return t.reshape(self.n_examples, -1, t.shape[-1])
