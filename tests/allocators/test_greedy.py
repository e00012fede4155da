"""``proxy-greedy`` (before training) and ``proxy-grow`` (in training): forward edge selection."""

import pytest
from conftest import run_cli

from rankscope.testing import AllocatorContract, run_small


class TestProxyGreedyContract(AllocatorContract):
    allocator = "proxy-greedy"
    options = {"n_batches": 2, "round_steps": 2}


class TestProxyGrowContract(AllocatorContract):
    allocator = "proxy-grow"
    options = {"n_batches": 2, "round_steps": 2, "rounds": 4}  # the last round (step 6) within 12 steps


@pytest.mark.parametrize("name", ["proxy-greedy", "proxy-grow"])
def test_each_round_buys_one_new_edge_with_its_share_of_the_budget(name):
    result, final, _ = run_small(name, {"n_batches": 2, "round_steps": 2, "rounds": 3})
    rounds = result["extras"]["allocator"]["rounds"]
    chosen = [r["edge"] for r in rounds]
    assert len(chosen) == len(set(chosen)) == 3  # never the same edge twice
    share = result["budget"]["params"] / 3
    live = {i: r for i, r in final.ranks.items() if r}
    assert set(live) == set(chosen)
    for eid, rank in live.items():
        edge = final.space.edge(eid)
        assert rank == min(int(share // edge.cost(1)), edge.max_rank)
    assert final.params <= result["budget"]["params"]
    if name == "proxy-grow":
        assert [r["step"] for r in rounds] == [0, 2, 4]


def test_a_chosen_edge_changes_the_next_rounds_scores():
    """Re-scoring after training the chosen edge is the point: round 2's ranking differs from
    round 1's with that edge removed (its effect left the residual)."""
    result, _, _ = run_small("proxy-greedy", {"n_batches": 2, "round_steps": 6, "rounds": 2})
    first, second = result["extras"]["allocator"]["rounds"]
    assert first["edge"] not in second["top5"]
    assert [e for e in first["top5"] if e != first["edge"]] != second["top5"][:4]


@pytest.mark.parametrize("name,option,message", [
    ("proxy-greedy", "rounds=0", "rounds must be an integer >= 1"),
    ("proxy-grow", "round_steps=-1", "round_steps must be >= 0 steps"),
    ("proxy-grow", "round_steps=50", "last round would come at step 350"),
    ("proxy-grow", "restart=maybe", "restart must be true or false"),
])
def test_bad_greedy_option_is_a_clear_error(capsys, tmp_path, name, option, message):
    code, err = run_cli(capsys, "search", "--allocator", name, "-o", option, "--model", "tiny-bert",
                        "--max-steps", "12", "--quiet", "--out", tmp_path / "r")
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()


def test_restart_puts_every_chosen_edge_back_to_its_attach_time_state():
    """``restart=true``: after a pick, the chosen edges are as attached (A as drawn, B = 0) and
    AdamW has no moments for them, so the next round trains them together from a fresh start."""
    import torch

    import rankscope as rs
    from rankscope.allocators.proxy.grow import GrowHook, GrowOptions
    from rankscope.harness.hooks import TrainState

    model, _ = rs.load_model("tiny-bert", 2)
    space = rs.build_space("lora-qv", model)
    handle = rs.attach(model, space, rs.Allocation.uniform(space, 2), form="lora")
    eid = next(iter(handle.adapters))
    adapter = handle.adapters[eid]
    opt = torch.optim.AdamW([p for a in handle.adapters.values() for p in a.parameters()], lr=0.1)
    hook = GrowHook(None, GrowOptions(restart=True), [], [], 0.0, 2, 2)
    hook.initial, hook.chosen = {eid: adapter.down.detach().clone()}, {eid: 2}
    for _ in range(2):  # the second step moves A too (B ≠ 0 by then)
        opt.zero_grad()
        (adapter.delta_weight().square().sum() + adapter.up.sum()).backward()
        opt.step()
    assert not torch.equal(adapter.down, hook.initial[eid])
    assert adapter.up.abs().sum() > 0 and opt.state[adapter.up]
    hook._restart_chosen(TrainState(model, handle, opt, None, 10, 10))
    assert torch.equal(adapter.down, hook.initial[eid]) and not adapter.up.any()
    assert adapter.up not in opt.state and adapter.down not in opt.state


def test_restart_runs_as_an_in_training_allocator_and_is_recorded():
    result, final, _ = run_small("proxy-grow", {"n_batches": 2, "round_steps": 2, "rounds": 3, "restart": True})
    rec = result["extras"]["allocator"]
    assert rec["options"]["restart"] is True and [r["step"] for r in rec["rounds"]] == [0, 2, 4]
    assert set(i for i, r in final.ranks.items() if r) == {r["edge"] for r in rec["rounds"]}
