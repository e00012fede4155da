"""The dependency graph between singular values, SalientLoRA §2.4 steps 1–3.

Over a window, with D_i = λ_i − mean(λ_i) (the centred series of triplet i) and σ_i = ‖D_i‖::

    C_ij = ⟨D_i, D_j⟩ / (σ_i σ_j)        Pearson correlation over time
    S_ij = ⟨D_i, D_j⟩ / σ_i²              OLS slope of λ_j on λ_i   (Δλ_j ≈ S_ij Δλ_i)
    edge i → j with weight S_ij   iff   C_ij ≥ β  and  S_ij ≥ γ      (i ≠ j; signed C)

Memory O(N·W + E): no N × N matrix is formed. Because S_ij = C_ij · σ_j/σ_i and C_ij ≤ 1, an
edge needs σ_j ≥ (γ/C_ij)·σ_i ≥ γ·σ_i when β, γ > 0. Rows are sorted by σ and processed in
blocks; a block of rows is only correlated with the columns whose σ is at least γ × the block's
smallest σ (a suffix of the sorted order), and only the pairs that pass both thresholds are kept.
For γ ≤ 0 or β ≤ 0 every column is a candidate. Rows with zero variance (pruned triplets, or a
constant window) have no edges.

De-cycling (the paper's Algorithm 1) removes the minimum-weight edge of any directed cycle until
none is left. With γ > 1, σ grows by at least γ along every edge, so no cycle exists and the
step is skipped; it runs (with networkx) only for γ ≤ 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

BLOCK_ENTRIES = 1 << 24  # entries of one correlation block (64 MB in float32)


@dataclass
class DependencyGraph:
    """Edges ``src → dst`` with slope weights, plus each node's σ (float64 arrays)."""

    n: int
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    sigma: np.ndarray
    removed_for_cycles: int = 0

    @property
    def n_edges(self) -> int:
        return int(self.src.size)


def centred(X: torch.Tensor):
    """(D = X − row mean, σ = ‖D‖ per row, live = σ > 0) in float64."""
    X = X.to(torch.float64)
    D = X - X.mean(dim=1, keepdim=True)
    sigma = D.norm(dim=1)
    scale = sigma.abs().max().item() if X.shape[0] else 0.0
    return D, sigma, sigma > max(1e-12 * scale, 1e-300)


def dependency_graph(X: torch.Tensor, beta: float, gamma: float, *, block_entries: int = BLOCK_ENTRIES,
                     dtype: torch.dtype = torch.float32) -> DependencyGraph:
    """Thresholded dependency edges of the series X [N, T]. Correlations are computed in blocks in
    ``dtype`` (float32 by default: the thresholds are not sensitive to its rounding); the slopes of
    the kept edges are recomputed exactly in float64."""
    n = X.shape[0]
    D, sigma, live = centred(X)
    order = torch.nonzero(live).flatten()
    order = order[torch.argsort(sigma[order], stable=True)]
    empty = np.zeros(0, dtype=np.int64)
    if order.numel() < 2:
        return DependencyGraph(n, empty, empty, np.zeros(0), sigma.numpy())
    s_sorted = sigma[order]
    Z = (D[order] / s_sorted[:, None]).to(dtype)
    bounded = beta > 0 and gamma > 0
    m = order.numel()
    rows = max(1, block_entries // m)
    src, dst = [], []
    for lo in range(0, m, rows):
        hi = min(m, lo + rows)
        # first candidate column: σ_j ≥ γ · σ_lo (sorted ascending, so a suffix)
        start = int(torch.searchsorted(s_sorted, gamma * s_sorted[lo]).item()) if bounded else 0
        start = min(start, m)
        if start >= m:
            if bounded:
                break  # later blocks have larger σ: no candidates either
            continue
        C = Z[lo:hi] @ Z[start:].T  # [rows, m - start]
        ratio = (s_sorted[start:][None, :] / s_sorted[lo:hi, None]).to(dtype)
        ok = (C >= beta) & (C * ratio >= gamma)
        ii, jj = torch.nonzero(ok, as_tuple=True)
        ii, jj = ii + lo, jj + start
        keep = ii != jj
        src.append(ii[keep])
        dst.append(jj[keep])
    if not src:
        return DependencyGraph(n, empty, empty, np.zeros(0), sigma.numpy())
    si, dj = torch.cat(src), torch.cat(dst)
    gi, gj = order[si], order[dj]
    slope = (D[gi] * D[gj]).sum(dim=1) / sigma[gi] ** 2  # exact S_ij in float64
    graph = DependencyGraph(n, gi.numpy(), gj.numpy(), slope.numpy(), sigma.numpy())
    if gamma <= 1 and graph.n_edges:
        graph = decycle(graph)
    return graph


def decycle(graph: DependencyGraph) -> DependencyGraph:
    """Algorithm 1: while a directed cycle exists, delete its minimum-weight edge."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(graph.src.tolist(), graph.dst.tolist(), graph.weight.tolist()))
    removed = 0
    while True:
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            break
        u, v = min(((u, v) for u, v in cycle), key=lambda e: g.edges[e]["weight"])
        g.remove_edge(u, v)
        removed += 1
    if not removed:
        return graph
    edges = list(g.edges(data="weight"))
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    w = np.array([e[2] for e in edges], dtype=np.float64)
    return DependencyGraph(graph.n, src, dst, w, graph.sigma, removed)
