"""SPECTRAL (rankscope; not in the HeteroLoRA paper): a per-rank price from ∂𝓛/∂ΔW.

Let G_e = ∂𝓛/∂ΔW_e at the current weights (d_out × d_in), with 𝓛 summed over the K scoring
batches; G_e = Σ_tokens g xᵀ (see :mod:`rankscope.scoring.records`). For a first-order step
ΔW = −η·Σ_{i≤k} u_i v_iᵀ built from k unit rank-one directions, the loss decreases by
η·Σ_{i≤k} ⟨G, u_i v_iᵀ⟩ ≤ η·Σ_{i≤k} σ_i(G), with equality for the top-k singular pairs. So the
k-th rank of edge e is worth

    v_{e,k} = σ_k(G_e)        (k = 1 … max_rank)

and per-rank allocation follows from the shared projection (value per parameter). Unlike SNIP or
SynFlow it does not involve B, so it is non-zero at B = 0. Large G is never formed: a randomized
two-sided sketch is used (:class:`rankscope.scoring.GradientSpectrum`).
"""

from rankscope.scoring import GradientSpectrum, Proxy


class Spectral(Proxy):
    name = "spectral"
    per_rank = True
    needs_records = True

    def __init__(self, dense_limit: int = 1 << 22):
        self.dense_limit = dense_limit
        self._spectra = {}

    def on_batch(self, records):
        for eid in records.edge_ids:
            x, g = records.io(eid)
            self.add_block(records.space.edge(eid), g, x)

    def add_block(self, e, g, x) -> None:
        """Add the block gᵀx of edge ``e`` to its G (created on first use)."""
        import torch

        if e.id not in self._spectra:
            gen = torch.Generator().manual_seed(len(self._spectra))
            self._spectra[e.id] = GradientSpectrum(e.d_out, e.d_in, e.max_rank, dense_limit=self.dense_limit,
                                                   generator=gen)
        self._spectra[e.id].add(g, x)

    def spectra(self, ctx, right: dict | None = None) -> dict:
        """{edge: [σ_1 … σ_max_rank]} of G (of G·right[edge] when given), zero-padded; resets."""
        out = {}
        for eid in ctx.handle.adapters:
            e = ctx.handle.space.edge(eid)
            s = self._spectra[eid].singular_values(right=right[eid] if right else None).tolist()
            out[eid] = s + [0.0] * (e.max_rank - len(s))
        self._spectra = {}
        return out

    def finish(self, ctx):
        return self.spectra(ctx)
