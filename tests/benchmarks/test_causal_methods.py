"""The decoder benchmark's baselines: PEFT's post-hoc allocation (benchmarks.causal.posthoc) and the placements."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO

from benchmarks.causal.posthoc import energy_fractions, energy_rank, posthoc_allocation, ranks_for_budget


def test_energy_rank_keeps_the_fewest_values_that_reach_the_share():
    s = torch.tensor([3.0, 2.0, 1.0])  # energies 9, 4, 1 of 14
    assert [energy_rank(s, share) for share in (0.0, 0.5, 9 / 14, 0.7, 13 / 14, 0.95, 1.0)] == [1, 1, 1, 2, 2, 3, 3]


def test_the_budget_gets_the_largest_share_that_fits():
    edges = [SimpleNamespace(id=i, cost=lambda r: 20 * r) for i in range(3)]  # d_in + d_out = 20
    spectra = {0: torch.tensor([10.0, 1.0, 1.0, 1.0]), 1: torch.tensor([1.0, 1.0, 1.0, 1.0]),
               2: torch.tensor([5.0, 5.0, 0.1, 0.1])}
    share, ranks = ranks_for_budget(spectra, edges, budget_params=20 * 7)
    assert sum(ranks.values()) == 7 and ranks[1] >= ranks[0]  # a flat spectrum keeps the most
    for nudge in (-1e-9, 1e-9):  # share sits inside the run of shares giving these ranks, not on its edge
        assert {eid: energy_rank(s, share + nudge) for eid, s in spectra.items()} == ranks
    points = {float(x) for s in spectra.values() for x in energy_fractions(s)}
    past = min(b for b in points if b > share) + 1e-9  # just past the next breakpoint
    over = {eid: energy_rank(s, min(1.0, past)) for eid, s in spectra.items()}
    assert sum(over.values()) > 7  # a larger share no longer fits
    assert ranks_for_budget(spectra, edges, budget_params=20 * 12) == (1.0, {0: 4, 1: 4, 2: 4})
    with pytest.raises(ValueError, match="below rank 1 on every adapted module"):
        ranks_for_budget(spectra, edges, budget_params=20 * 2)


def test_posthoc_allocation_fits_the_budget_agrees_with_peft_and_leaves_the_base_clean():
    from benchmarks.causal.methods import allocation_row, config, train_peft_lora
    from rankscope.search.session import Session

    settings = {"model": "tiny-llama", "budget": "r2", "steps": 3, "batch_size": 2, "max_len": 96,
                "max_train_samples": 8, "max_dev_samples": 4, "exact_match": 0, "max_new_tokens": 8, "device": "cpu"}
    session = Session(config(settings, seed=0, lr=5e-3), progress=False)
    allocation, record = posthoc_allocation(session, train_peft_lora)
    assert allocation.params <= session.budget.params and record["large_rank"] == 8
    assert record["peft_agrees"] and 0 < record["energy_share"] <= 1
    assert len(set(allocation.ranks.values())) > 1  # the spectra differ, so the ranks do
    assert not any("lora" in name for name, _ in session.model.named_modules())  # the large adapters are gone
    row = allocation_row(session, allocation)
    assert row["params"] == allocation.params and row["dev_nll"] > 0


def test_a_placement_baseline_is_the_largest_uniform_rank_on_its_types_that_fits():
    from benchmarks.causal.methods import MLP_TYPES, QV_TYPES, config, placement_allocation
    from rankscope.search.session import Session

    settings = {"model": "tiny-llama", "budget": "r2", "steps": 3, "batch_size": 2, "max_len": 96,
                "max_train_samples": 8, "max_dev_samples": 4, "exact_match": 0, "max_new_tokens": 8, "device": "cpu"}
    session = Session(config(settings, seed=0, lr=5e-3), progress=False)
    for types in (QV_TYPES, MLP_TYPES):
        allocation = placement_allocation(session, types)
        ranks = {e.type: allocation.ranks.get(e.id, 0) for e in session.space.edges}
        assert {t for t, r in ranks.items() if r} == set(types) and len(set(allocation.active.values())) == 1
        r = next(iter(allocation.active.values()))
        bigger = {e.id: r + 1 for e in session.space.edges if e.type in types}
        assert allocation.params <= session.budget.params < type(allocation)(session.space, bigger).params


@pytest.mark.slow
def test_every_method_gets_its_own_sweep_then_the_held_out_seeds(tmp_path):
    """The decoder benchmark under the protocol's rule, on tiny-llama: each method's sweep on seed 0
    (grown past the end where its lowest NLL lies), then seed 1 at that method's own lr."""
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "benchmarks.causal", "--model", "tiny-llama", "--steps", "2", "--batch-size", "2",
           "--max-len", "96", "--max-train-samples", "8", "--max-dev-samples", "4", "--exact-match", "0",
           "--lr-sweep", "1e-3,3e-3", "--seeds", "0,1", "--methods", "uniform,qv-uniform", "--extend-sweep", "1",
           "--results", str(out), "--allow-dirty"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for method in ("uniform", "qv-uniform"):
        sweep = {r["lr"]: r["final"]["nll"] for r in rows if r["method"] == method and r["seed"] == 0}
        assert len(sweep) == 3 and {1e-3, 3e-3} < set(sweep)  # grown once past an end
        held = [r for r in rows if r["method"] == method and r["seed"] == 1]
        assert [r["lr"] for r in held] == [min(sweep, key=lambda lr: (sweep[lr], lr))]
        assert all(r["task"] == "gsm8k" and r["greater_is_better"] is False for r in held)
    assert "**GSM8K** (nll)" in done.stdout and "Mean over tasks" not in done.stdout


def test_a_shortcuts_method_holds_uniform_loras_parameters():
    from benchmarks.causal.methods import ALLOCATORS, SPACE, config
    from rankscope.search.session import Session

    settings = {"model": "tiny-llama", "budget": "r2", "steps": 3, "batch_size": 2, "max_len": 96,
                "max_train_samples": 8, "max_dev_samples": 4, "exact_match": 0, "max_new_tokens": 8, "device": "cpu"}
    name, options = ALLOCATORS["proxy-greedy@shortcuts"]
    short = Session(config(settings, 0, 5e-3, name, options, SPACE["proxy-greedy@shortcuts"]), progress=False)
    lora = Session(config(settings, 0, 5e-3), progress=False)
    assert short.space.name == "shortcuts" and len(short.space.edges) > len(lora.space.edges)
    assert short.budget.params == lora.budget.params
