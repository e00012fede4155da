"""The projection helper: never over budget, ≥ 95 % used when the space allows (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rankscope as rs
from rankscope.space.edge import Edge


def make_space(dims, max_ranks):
    edges = [Edge(id=f"e{i}", kind="lora", src=f"m{i}:in", dst=f"m{i}:out", d_in=a, d_out=b,
                  max_rank=r, layer=i, type="t") for i, ((a, b), r) in enumerate(zip(dims, max_ranks))]
    return rs.SearchSpace("synthetic", edges)


space_st = st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.lists(st.tuples(st.integers(1, 64), st.integers(1, 64)), min_size=n, max_size=n),
    st.lists(st.integers(1, 16), min_size=n, max_size=n),
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=n, max_size=n),
    st.floats(0.0, 1.2)))


def _check(space, alloc, budget):
    unit = max(e.d_in + e.d_out for e in space.edges)
    cap = space.capacity()
    assert alloc.params <= budget
    if budget >= 20 * unit:
        assert alloc.params >= 0.95 * min(budget, cap)


@settings(max_examples=150, deadline=None)
@given(space_st)
def test_per_edge_scores_fit_and_fill(args):
    dims, max_ranks, scores, frac = args
    space = make_space(dims, max_ranks)
    budget = max(space.min_nonempty_cost(), int(frac * space.capacity()))
    alloc = rs.project_to_budget(space, dict(zip(space.ids, scores)), budget)
    _check(space, alloc, budget)


@settings(max_examples=150, deadline=None)
@given(space_st, st.integers(0, 2**31 - 1))
def test_per_rank_scores_fit_and_fill(args, seed):
    dims, max_ranks, _, frac = args
    space = make_space(dims, max_ranks)
    rng = np.random.default_rng(seed)
    scores = {e.id: rng.normal(size=e.max_rank) for e in space.edges}
    budget = max(space.min_nonempty_cost(), int(frac * space.capacity()))
    alloc = rs.project_to_budget(space, scores, budget)
    _check(space, alloc, budget)


def test_greedy_prefers_value_per_parameter_and_ranks_in_order():
    space = make_space([(10, 10), (40, 40)], [4, 4])  # unit costs 20 and 80
    # per-rank values: e1 has more value per rank but 4x the cost per rank
    alloc = rs.project_to_budget(space, {"e0": [3, 2, 1, 0.5], "e1": [8, 7, 1, 1]}, 200)
    # value/param order: e0#1 .15, e0#2 .10 = e1#1 .10 (tie -> edge order), e1#2 .0875, ...
    assert alloc.ranks == {"e0": 2, "e1": 2}
    assert alloc.params == 2 * 20 + 2 * 80


def test_on_off_mode_respects_rank_on_and_fills_partially():
    space = make_space([(8, 8)] * 4, [16] * 4)  # rank unit 16
    alloc = rs.project_to_budget(space, {"e0": 4, "e1": 3, "e2": 2, "e3": 1}, 16 * 8 * 2 + 16 * 3, rank_on=8)
    assert alloc.ranks == {"e0": 8, "e1": 8, "e2": 3, "e3": 0}


def test_non_finite_score_names_the_edge():
    space = make_space([(8, 8)] * 2, [4, 4])
    with pytest.raises(rs.InputError, match="e1"):
        rs.project_to_budget(space, {"e0": 1.0, "e1": float("nan")}, 64)
