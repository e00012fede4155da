"""The ``sparse`` allocator (group-sparse LoRA supernet) and the ``whitened`` proxy's formula."""

import pytest
import torch
from conftest import run_cli

from rankscope.allocators.sparse.allocator import LoRARanks
from rankscope.testing import AllocatorContract, run_small


class TestSparseContract(AllocatorContract):
    allocator = "sparse"


class TestSparseMagnitudeOnlyContract(AllocatorContract):
    allocator = "sparse"
    options = {"kappa": 0.0, "compact": False, "interval": 2}
    space = "lora"


def test_sparse_cuts_on_the_cubic_schedule_to_exactly_the_budget_then_compacts():
    result, final, _ = run_small("sparse", {"sparse_start": 1, "sparse_end": 8})
    rec = result["extras"]["allocator"]
    budgets = [e["budget"] for e in rec["prune_events"]]
    assert budgets == sorted(budgets, reverse=True) and budgets[-1] == result["budget"]["params"]
    assert rec["prune_events"][-1]["step"] == 8 and final.params <= result["budget"]["params"]
    assert rec["init_rank"] > max(final.ranks.values())  # the supernet really was pruned


def test_group_shrinkage_zeroes_weak_columns_and_keeps_strong_ones():
    from conftest import make_tiny

    from rankscope.adapters.attach import attach
    from rankscope.allocation.allocation import Allocation
    from rankscope.search_spaces.lora import build_lora

    model = make_tiny("bert")
    space = build_lora(model)
    handle = attach(model, space, Allocation(space, {e.id: 2 for e in space.edges}), seed=0)
    a = next(iter(handle.adapters.values()))
    with torch.no_grad():
        a.B.zero_()
        a.B[:, 0] = 1.0  # norm √d_out
        a.B[:, 1] = 1e-4
    ranks = LoRARanks(handle)
    w = float(ranks.weights[0])
    ranks.shrink(step_size=0.1, kappa=0.5)
    tau = 0.5 * 0.1 * a.B.shape[0] ** 0.5 * w
    assert torch.allclose(a.B[:, 0], torch.full_like(a.B[:, 0], 1 - tau / a.B.shape[0] ** 0.5))
    assert torch.count_nonzero(a.B[:, 1]) == 0
    handle.detach()


def test_whitened_score_is_the_top_k_spectrum_of_the_whitened_gradient():
    from rankscope.proxies.whitened import DAMPING, inverse_sqrt

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(500, 6, generator=gen) * torch.tensor([10.0, 5, 1, 1, 0.1, 0.1])
    g = torch.randn(500, 4, generator=gen)
    cov = x.T @ x
    w = inverse_sqrt(cov, DAMPING)
    damped = cov + DAMPING * cov.diagonal().mean() * torch.eye(6)
    assert torch.allclose(w @ damped @ w, torch.eye(6), atol=1e-4)  # C^{-1/2} C C^{-1/2} = I
    # the best rank-k loss reduction of ½‖ΔW Xᵀ‖² + ⟨G, ΔW⟩ is ½ Σ σ_i²(G C^{-1/2}): check k = all
    G = g.T @ x
    best = torch.linalg.lstsq(damped, G.T).solution.T  # the unconstrained optimum −ΔW* = G C⁻¹
    reduction = 0.5 * float((G * best).sum())
    assert reduction == pytest.approx(0.5 * float(torch.linalg.svdvals(G @ w).pow(2).sum()), rel=1e-4)


def test_bad_sparse_option_is_a_clear_error(capsys, tmp_path):
    code, err = run_cli(capsys, "search", "--allocator", "sparse", "-o", "kappa=-1", "--model", "tiny-bert",
                        "--max-steps", "12", "--quiet", "--out", tmp_path / "r")
    assert code == 2 and "kappa must be >= 0" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_a_sparse_phase_that_does_not_fit_names_sparse_options(capsys, tmp_path):
    code, err = run_cli(capsys, "search", "--allocator", "sparse", "-o", "sparse_start=0.6", "--model", "tiny-bert",
                        "--max-steps", "12", "--quiet", "--out", tmp_path / "r")
    assert code == 2 and "sparse_start (7) < sparse_end (6)" in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()
