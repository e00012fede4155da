"""Influence domain (ID), SalientLoRA §2.4 steps 4–5.

On the acyclic dependency graph with slope weights S::

    I'(j) = 1                          if j is a sink (no out-edges)
    I'(i) = Σ_{i→j} S_ij · I'(j)       otherwise
          = Σ over all paths i ⇝ sink of the product of slopes along the path

    J_i  = I'(i) if i has out-edges, else 0      (sinks and isolated nodes report 0, as the code)
    ID_i = J_i / Σ_j J_j                          a GLOBAL normalisation over all N triplets

One pass in reverse topological order, in float64 (chains of slopes ≥ γ grow geometrically).
An empty graph gives ID ≡ 0 (the code divides 0 by 0 and gets NaN; documented handling, tested).

:func:`streamed_influence` (γ > 1, β > 0, the paper's setting) never forms the edge list, so it
needs O(N·W + block) memory even when most pairs are edges (trending λ series correlate
strongly). Every edge goes from a smaller to a strictly larger σ (σ_j ≥ γ σ_i), so nodes are
processed in descending σ in chunks whose σ spans less than a factor γ: no edge stays inside a
chunk, every child is final before its parents, and a chunk's propagation is one matmul::

    I'(chunk) = (1/σ_i) · (M ⊙ C ⊙ σ_j) @ I'(j)    over candidate columns σ_j ≥ γ · min σ_chunk
    where M_ij = [C_ij ≥ β and C_ij σ_j/σ_i ≥ γ]      (S_ij = C_ij σ_j / σ_i)

:func:`influence_domain` propagates over an explicit :class:`DependencyGraph` (needed for γ ≤ 1,
where de-cycling edits the edge list); both give the same ID (tested).
"""

from __future__ import annotations

import numpy as np
import torch

from rankscope.salience.dependency import BLOCK_ENTRIES, DependencyGraph, centred


def _reverse_topological(graph: DependencyGraph) -> np.ndarray:
    import networkx as nx

    g = nx.DiGraph()
    g.add_edges_from(zip(graph.src.tolist(), graph.dst.tolist()))
    return np.array(list(reversed(list(nx.topological_sort(g)))), dtype=np.int64)


def influence_domain(graph: DependencyGraph) -> np.ndarray:
    """ID of every node, float64 [N], summing to 1 (or all 0 for an empty graph)."""
    ident = np.zeros(graph.n)
    if graph.n_edges == 0:
        return ident
    order = np.argsort(graph.src, kind="stable")
    src, dst, w = graph.src[order], graph.dst[order], graph.weight[order]
    starts = np.searchsorted(src, np.arange(graph.n + 1))
    value = np.ones(graph.n)  # I', sinks stay 1
    has_out = starts[1:] > starts[:-1]
    for i in _reverse_topological(graph):
        a, b = starts[i], starts[i + 1]
        if b > a:
            value[i] = float(np.dot(w[a:b], value[dst[a:b]]))
    return _normalise(value, has_out)


def _normalise(value: np.ndarray, has_out: np.ndarray) -> np.ndarray:
    ident = np.zeros(value.shape[0])
    J = np.where(has_out, value, 0.0)
    total = J.sum()
    if not np.isfinite(total):
        # geometric blow-up beyond float64: rank by log-influence instead (order is what prunes)
        J = np.where(has_out, np.log1p(np.minimum(value, np.finfo(np.float64).max)), 0.0)
        total = J.sum()
    return J / total if total > 0 else ident


def streamed_influence(X: torch.Tensor, beta: float, gamma: float, *, block_entries: int = BLOCK_ENTRIES,
                       dtype: torch.dtype = torch.float32) -> tuple[np.ndarray, int]:
    """(ID [N] float64, number of dependency edges) for γ > 1 and β > 0, without an edge list.
    Correlations are computed in ``dtype`` blocks; the propagation accumulates in float64."""
    if not (gamma > 1 and beta > 0):
        raise ValueError("streamed_influence needs gamma > 1 and beta > 0 (an acyclic graph by σ)")
    n = X.shape[0]
    D, sigma, live = centred(X)
    order = torch.nonzero(live).flatten()
    order = order[torch.argsort(sigma[order], descending=True, stable=True)]
    m = order.numel()
    value = torch.ones(n, dtype=torch.float64)
    has_out = torch.zeros(n, dtype=torch.bool)
    if m < 2:
        return np.zeros(n), 0
    s = sigma[order]  # descending
    Z = (D[order] / s[:, None]).to(dtype)
    prop = torch.zeros(m, dtype=torch.float64)  # I'(j) in sorted order, filled as we go
    n_edges, lo = 0, 0
    while lo < m:
        # candidates of the chunk's largest-σ row: σ_j ≥ γ σ_lo → sorted positions [0, cand)
        cand = int(torch.searchsorted(-s, -gamma * s[lo], right=True).item())
        rows = max(1, block_entries // max(1, cand))
        # chunk: rows with γ σ_i > σ_lo (no edge inside), at most ``rows`` of them
        hi = int(torch.searchsorted(-s, -s[lo] / gamma, right=False).item())
        hi = min(max(hi, lo + 1), lo + rows, m)
        if cand == 0:
            prop[lo:hi] = 1.0  # sinks: I' = 1
            lo = hi
            continue
        # rows in the chunk have σ ≤ σ_lo, so their candidates are a superset-prefix: use the
        # chunk's smallest σ to bound the prefix
        cand = int(torch.searchsorted(-s, -gamma * s[hi - 1], right=True).item())
        # Cs_ij = C_ij σ_j; an edge needs C_ij ≥ β and S_ij = Cs_ij / σ_i ≥ γ. Everything is done
        # in place on the one block (the elementwise passes, not the matmul, bound the speed).
        Cs = Z[lo:hi] @ Z[:cand].T
        off = Cs < beta
        Cs.mul_(s[:cand].to(dtype)[None, :])
        off.logical_or_(Cs < (gamma * s[lo:hi]).to(dtype)[:, None])
        Cs.masked_fill_(off, 0.0)
        n_edges += off.numel() - int(torch.count_nonzero(off))  # (bool .sum() is 20× slower)
        del off
        # Σ_j S_ij I'(j) = (1/σ_i) Σ_j Cs_ij I'(j): a float32 matvec on I' rescaled to its max
        top = float(prop[:cand].max()) or 1.0
        contrib = (Cs @ (prop[:cand] / top).to(dtype)).to(torch.float64) * top
        del Cs
        out = contrib > 0  # every edge term is positive (C ≥ β > 0, I' ≥ 1 scaled)
        vals = torch.where(out, contrib / s[lo:hi], torch.ones_like(contrib))
        idx = order[lo:hi]
        value[idx] = vals
        has_out[idx] = out
        prop[lo:hi] = vals
        lo = hi
    return _normalise(value.numpy(), has_out.numpy()), n_edges
