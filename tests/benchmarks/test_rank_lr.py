"""The rank × lr tables: best lr per rank, the spread across ranks, the weight-movement ratio."""

import os

from conftest import SHARED_DATA

from benchmarks.rank_lr.table import best_lrs, grid, markdown


def rows(rule, best_lr_of_rank, delta_of_rank):
    """Synthetic rows: each rank's metric peaks at its own lr; ΔW grows with lr × delta_of_rank."""
    out = []
    for rank, best in best_lr_of_rank.items():
        for lr in (1e-4, 1e-3, 1e-2):
            for seed in (0, 1):
                metric = 0.9 - abs(lr - best) - 0.001 * seed
                out.append({"task": "sst2", "rule": rule, "rank": rank, "lr": lr, "seed": seed,
                            "primary": "accuracy", "final": {"accuracy": metric},
                            "delta_w": {"lora": lr * delta_of_rank[rank]}})
    return out


def test_a_rank_stable_rule_has_one_best_lr_and_equal_movement():
    data = rows("rslora", {1: 1e-3, 32: 1e-3}, {1: 1.0, 32: 1.0}) + rows("lora", {1: 1e-4, 32: 1e-2}, {1: 1.0, 32: 0.25})
    stable, unstable = grid(data, "sst2", "rslora"), grid(data, "sst2", "lora")
    assert {k: v[0] for k, v in best_lrs(stable).items()} == {1: 1e-3, 32: 1e-3}
    assert {k: v[0] for k, v in best_lrs(unstable).items()} == {1: 1e-4, 32: 1e-2}
    assert best_lrs(unstable)[1][2]  # the best lr of rank 1 sits at the grid's edge
    assert stable[(1, 1e-3)]["seeds"] == 2
    table = markdown(data)
    assert "| rslora, mean | 0.001 | 0.001 | 1.0× | 1.00 (rank 32 / rank 1) |" in table
    assert "| lora, mean | 0.0001 (edge) | 0.01 (edge) | 100.0× | 0.25 (rank 32 / rank 1) |" in table
    assert "| lora, seed 1 | 0.0001 (edge) | 0.01 (edge) | 100.0× | 0.25 (rank 32 / rank 1) |" in table


def test_each_seed_is_read_on_its_own_grid():
    """A second seed run on a window of the first's grid: its best lrs come from its own cells."""
    data = rows("lora", {1: 1e-3, 32: 1e-3}, {1: 1.0, 32: 1.0})
    data = [r for r in data if r["seed"] == 0 or r["lr"] >= 1e-3]
    for r in data:
        if r["seed"] == 1 and r["rank"] == 32 and r["lr"] == 1e-2:
            r["final"]["accuracy"] = 0.95  # seed 1's rank 32 prefers the larger lr
    table = markdown(data)
    assert "| lora, seed 0 | 0.001 | 0.001 | 1.0× |" in table
    assert "| lora, seed 1 | 0.001 (edge) | 0.01 (edge) | 10.0× |" in table


def test_a_diverged_lr_never_wins():
    data = rows("lora", {1: 1e-2}, {1: 1.0})
    for r in data:
        if r["lr"] == 1e-2:
            r["final"] = None
    assert best_lrs(grid(data, "sst2", "lora"))[1][0] == 1e-3
    assert "diverged" in markdown(data)


def test_the_svd_form_cell_prunes_every_other_edge_to_one_triplet_and_measures_both(monkeypatch):
    """benchmarks.rank_lr.svd_form on tiny BERT, 3 steps: half the edges end with one live triplet."""
    from benchmarks.rank_lr.svd_form import SETTINGS, markdown, run_cell

    monkeypatch.setenv("RANKSCOPE_GLUE_DIR", os.environ.get("RANKSCOPE_GLUE_DIR", str(SHARED_DATA / "glue")))

    row = run_cell({"seed": 0}, {**SETTINGS, "model": "tiny-bert", "max_steps": 3, "max_train_samples": 64})
    assert row["pruned_edges"] > 0
    moved = row["triplet_delta_w"]
    assert moved["pruned"] > 0 and moved["full"] > 0 and row["ratio"] == moved["pruned"] / moved["full"]
    assert "| 0 |" in markdown([row])
