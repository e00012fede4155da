"""The proxy K-scaling benchmark's agreement measure and table (benchmarks/proxies/k_scaling.py)."""

import pytest

from benchmarks.proxies.k_scaling import agreement, table


def test_the_same_allocation_agrees_fully_and_moves_nothing():
    ranks = {"a": 4, "b": 2, "c": 0}
    assert agreement(ranks, ranks) == (pytest.approx(1.0), 0.0)


def test_moved_rank_is_half_the_absolute_difference_over_the_reference_total():
    rho, moved = agreement({"a": 2, "b": 4, "c": 0}, {"a": 4, "b": 2, "c": 0})
    assert moved == pytest.approx(0.5 * (2 + 2) / 6)
    assert rho == pytest.approx(0.5)  # the two ranked edges swapped; the zero edge kept its place


def test_a_constant_allocation_has_no_rank_correlation():
    assert agreement({"a": 2, "b": 2}, {"a": 4, "b": 0})[0] is None


def test_the_table_reads_cost_against_the_pilots_training_and_agreement_against_k8():
    def row(seed, k, ranks, s):
        return {"seed": seed, "n_batches": k, "allocate_s": s, "edge_ranks": ranks,
                "ranks": {"query": ranks["a"], "value": ranks["b"]}}

    rows = [row(1, 8, {"a": 4, "b": 2}, 80.0), row(1, 2, {"a": 4, "b": 2}, 20.0)]
    lines = table(rows, {1: 400.0}).splitlines()
    assert lines[2].startswith("| 2 | 1 | 20 | 5.0% | 1.00 | 0.0% |")
    assert lines[3].startswith("| 8 | 1 | 80 | 20.0% | 1.00 | 0.0% |")
