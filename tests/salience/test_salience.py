"""SalientLoRA's salience measure and window schedule against the spec (specs/salientlora.md)."""

import networkx as nx
import numpy as np
import pytest
import torch

from rankscope.allocators.svd.triplets import keep_within
from rankscope.errors import InputError, TrainingError
from rankscope.salience import (
    WindowSchedule,
    dependency_graph,
    influence_domain,
    orthogonality_aware_magnitude,
    orthogonality_weights,
    salience_scores,
    streamed_influence,
)


def series(n, w, seed=0, common=0.6):
    """λ-like windows: scaled random walks sharing a common trend (dense dependency graphs)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(w, generator=g, dtype=torch.float64).cumsum(0)
    scale = torch.exp(torch.randn(n, generator=g, dtype=torch.float64))
    return scale[:, None] * (common * base + (1 - common) * torch.randn(n, w, generator=g, dtype=torch.float64).cumsum(1))


def dense_reference(X, beta, gamma):
    """The spec's formulas with full N × N matrices: edges, then I' = (I − A)⁻¹ 1_sink."""
    D = X - X.mean(1, keepdim=True)
    G = D @ D.T
    v = torch.diag(G)
    C = G / torch.sqrt(torch.outer(v, v))
    S = G / v[:, None]
    A = torch.where((C >= beta) & (S >= gamma), S, torch.zeros_like(S))
    A.fill_diagonal_(0)
    sink = (A != 0).sum(1) == 0
    ip = torch.linalg.solve(torch.eye(len(X), dtype=X.dtype) - A, sink.double())
    J = torch.where(sink, torch.zeros_like(ip), ip)
    return A, (J / J.sum()).numpy()


def test_orthogonality_weights_follow_the_formula():
    R = torch.tensor([1.0, 2.0, 4.0, 0.5])
    w = R.sum() / R
    expect = (w - w.min()) / (w.max() - w.min())
    assert torch.allclose(orthogonality_weights(R), expect.double())
    assert orthogonality_weights(R)[R.argmax()] == 0  # the least orthogonal step weighs nothing


def test_constant_orthogonality_series_gives_equal_weights_not_nan():
    w = orthogonality_weights(torch.full((7,), 0.3))
    assert torch.equal(w, torch.ones(7, dtype=torch.float64))


def test_oam_sums_to_one_per_matrix_and_is_zero_for_dead_triplets():
    X = series(12, 9)
    X[3] = 0  # a pruned triplet
    groups = torch.tensor([0] * 5 + [1] * 4 + [2] * 3)
    oam = orthogonality_aware_magnitude(X, torch.rand(9) + 0.5, groups)
    for g in range(3):
        assert oam[groups == g].sum().item() == pytest.approx(1.0)
    assert oam[3] == 0


def test_global_oam_compares_matrices_by_magnitude_on_the_papers_scale():
    # matrix 0's λ are ten times matrix 1's: per matrix both look alike, globally matrix 0 wins
    X = torch.cat([10 * series(4, 9, seed=2), series(4, 9, seed=2)])
    groups = torch.tensor([0] * 4 + [1] * 4)
    R = torch.rand(9) + 0.5
    per_matrix = orthogonality_aware_magnitude(X, R, groups)
    assert torch.allclose(per_matrix[:4], per_matrix[4:])
    glob = orthogonality_aware_magnitude(X, R, groups, scope="global")
    assert glob.sum().item() == pytest.approx(2.0)  # M = 2 matrices: the per-matrix total
    assert torch.allclose(glob[:4], 10 * glob[4:])
    with pytest.raises(ValueError, match="matrix, global"):
        orthogonality_aware_magnitude(X, R, groups, scope="edge")


@pytest.mark.parametrize("beta,gamma", [(0.9, 2.0), (0.5, 1.5), (0.95, 3.0)])
def test_dependency_edges_and_influence_match_the_dense_formulas(beta, gamma):
    X = series(150, 30, seed=1)
    A, ref_id = dense_reference(X, beta, gamma)
    graph = dependency_graph(X, beta, gamma, block_entries=997)  # many blocks
    ours = {(int(i), int(j)) for i, j in zip(graph.src, graph.dst)}
    dense = {(int(i), int(j)) for i, j in torch.nonzero(A).tolist()}
    assert ours == dense and len(dense) > 50
    assert np.allclose(influence_domain(graph), ref_id, atol=1e-10)
    streamed, n_edges = streamed_influence(X, beta, gamma, block_entries=997)
    assert n_edges == len(dense)
    assert np.allclose(streamed, ref_id, atol=1e-6)


def test_sinks_and_isolated_nodes_report_zero_influence():
    X = series(80, 20, seed=2)
    graph = dependency_graph(X, 0.9, 2.0)
    ident = influence_domain(graph)
    has_out = np.zeros(80, bool)
    has_out[graph.src] = True
    assert (ident[~has_out] == 0).all() and ident.sum() == pytest.approx(1.0)


def test_gamma_above_one_needs_no_decycling_and_gamma_below_one_is_decycled():
    X = series(60, 20, seed=3)
    assert dependency_graph(X, 0.9, 2.0).removed_for_cycles == 0
    g = dependency_graph(X, 0.5, 0.5)  # slopes ≥ 0.5 both ways: cycles exist
    assert g.removed_for_cycles > 0
    dg = nx.DiGraph(list(zip(g.src.tolist(), g.dst.tolist())))
    assert nx.is_directed_acyclic_graph(dg)
    res = salience_scores(X, torch.rand(20) + 0.5, torch.arange(60) // 6, beta=0.5, gamma=0.5)
    assert np.isfinite(res.salience).all() and res.removed_for_cycles == g.removed_for_cycles


def test_constant_window_has_no_edges_and_finite_salience():
    X = torch.ones(20, 10) * torch.arange(20)[:, None]  # zero variance in every row
    res = salience_scores(X, torch.rand(10), torch.arange(20) // 5)
    assert res.n_edges == 0 and (res.influence == 0).all()
    assert np.isfinite(res.salience).all()
    assert np.allclose(res.salience, 0.7 * res.oam)  # empty graph: ranks by OAM alone


def test_nan_lambda_is_a_clear_training_error():
    X = series(10, 5)
    X[4, 2] = float("nan")
    with pytest.raises(TrainingError, match="NaN"):
        salience_scores(X, torch.rand(5), torch.arange(10) // 5)


def test_paper_mix_scales_id_to_oam_and_code_mix_is_the_plain_sum():
    X, R, groups = series(40, 15, seed=4), torch.rand(15) + 0.5, torch.arange(40) // 8
    paper = salience_scores(X, R, groups, mix_lambda=0.7)
    code = salience_scores(X, R, groups, mix="code")
    assert np.allclose(paper.salience, 0.7 * paper.oam + 0.3 * 5 * paper.influence)
    assert np.allclose(code.salience, code.oam + code.influence)
    assert (5 * paper.influence).sum() == pytest.approx(paper.oam.sum())  # both sum to M


# the spec's simulation table (§3.2): R₀ = 1080, R_t = 144, T_i = 10, T_f = 200
@pytest.mark.parametrize("n_i,n_f,code_events,code_last,fixed_events,fixed_last", [
    (800, 2000, 23, (2675, 193, 176), 20, None),
    (600, 1000, 13, (1540, 187, 204), 10, (1442, 199, 148)),
    (600, 1500, 18, (2091, 195, 167), 15, (2008, 200, 144)),
    (800, 2500, 28, (3252, 197, 158), 24, (3125, 200, 144)),
])
def test_window_schedule_reproduces_the_spec_simulation(n_i, n_f, code_events, code_last, fixed_events, fixed_last):
    def run(variant, final_prune):
        s = WindowSchedule(n_i + n_f + 500, n_i, n_f, 10, 200, 1080, 144, variant, final_prune)
        return [(t, s.countdown, b) for t in range(1, s.total + 1) if (b := s.step(t)) is not None]

    code = run("code", False)
    assert len(code) == code_events and code[-1] == code_last
    assert code[-1][2] > 144  # the code's schedule never reaches the target (quirk A7)
    fixed = run("corrected", False)
    assert len(fixed) == fixed_events and (fixed_last is None or fixed[-1] == fixed_last)
    forced = run("corrected", True)
    assert forced[-1][0] == n_i + n_f and forced[-1][2] == 144  # the default: exactly the target
    assert [b for _, _, b in forced] == sorted((b for _, _, b in forced), reverse=True)


def test_schedule_that_does_not_fit_the_run_is_refused():
    with pytest.raises(InputError, match="does not fit the run"):
        WindowSchedule(100, 30, 70, budget_init=10, budget_target=5)
    with pytest.raises(InputError, match="at or above the initial"):
        WindowSchedule(100, 10, 50, budget_init=10, budget_target=10)


def test_keep_within_prunes_lowest_first_to_the_parameter_limit():
    scores = torch.tensor([5.0, 1.0, 3.0, 3.0, 9.0, 2.0])
    costs = torch.tensor([10.0, 10.0, 10.0, 10.0, 30.0, 10.0])
    alive = torch.tensor([True, True, True, True, True, False])
    keep = keep_within(scores, costs, 45, alive)
    assert keep.tolist() == [True, False, False, False, True, False]  # 9 (30) + 5 (10) = 40; a 3 would make 50
    keep = keep_within(scores, costs, 55, alive)
    assert keep.tolist() == [True, False, True, False, True, False]  # tie 3/3: exactly one kept (index order)
    assert not keep_within(torch.ones(3), torch.ones(3), 10, torch.tensor([False, True, True]))[0]
