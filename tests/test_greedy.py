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
])
def test_bad_greedy_option_is_a_clear_error(capsys, tmp_path, name, option, message):
    code, err = run_cli(capsys, "search", "--allocator", name, "-o", option, "--model", "tiny-bert",
                        "--max-steps", "12", "--quiet", "--out", tmp_path / "r")
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()
