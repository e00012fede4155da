"""Every bad input of the foundation issue gets a clear error naming what was wrong."""

import re

import pytest
from conftest import make_tiny

import rankscope as rs
from rankscope.space.edge import Edge


@pytest.fixture(scope="module")
def model():
    return make_tiny("bert")


@pytest.fixture(scope="module")
def space(model):
    return rs.build_space("shortcuts", model, max_rank=8)


def test_unknown_space_lists_valid_names(model):
    with pytest.raises(rs.InputError, match=r"unknown search space 'nope'.*lora-qv.*shortcuts"):
        rs.build_space("nope", model)


def test_unknown_model_name():
    with pytest.raises(rs.InputError, match="cannot load model 'no-such-model-xyz'.*minilm"):
        rs.load_model("no-such-model-xyz")
    with pytest.raises(rs.InputError, match="does not exist"):
        rs.load_model("./no/such/dir")


def test_unsupported_family_explains_custom_site_map():
    import transformers as tf

    model = tf.AutoModel.from_config(tf.T5Config(d_model=32, num_layers=1, num_heads=2, d_ff=64, vocab_size=100))
    with pytest.raises(rs.UnsupportedModelError, match=r"(?s)Supported model_type values: .*bert.*llama.*register_family"):
        rs.build_space("lora", model)


def test_module_path_that_matches_nothing(model):
    b = rs.SpaceBuilder(model, "x")
    with pytest.raises(rs.SpaceError, match="'bert.encoder.layer.0.attention.self.qurey' matches nothing"):
        b.lora("bert.encoder.layer.0.attention.self.qurey", type="query", layer=0)


def test_width_mismatch_on_custom_edge(model):
    b = rs.SpaceBuilder(model, "x")
    b.shortcut("bert.encoder.layer.0:in", "bert.encoder.layer.0.intermediate.dense:out",
               type="bad", layer=0, d_out=32)
    with pytest.raises(rs.SpaceError, match=r"edge 'bad@0': d_out=32 but site .*intermediate.dense:out' has width 64"):
        b.build()


def test_source_after_target(model):
    b = rs.SpaceBuilder(model, "x")
    b.shortcut("bert.encoder.layer.1:in", "bert.encoder.layer.0.output.dense:out", type="back", layer=0)
    with pytest.raises(rs.SpaceError, match="edge 'back@0': source .* is computed after its target"):
        b.build()


def test_duplicate_edge_ids(model):
    b = rs.SpaceBuilder(model, "x")
    b.lora("bert.encoder.layer.0.attention.self.query", type="q", layer=0, id="same")
    b.lora("bert.encoder.layer.0.attention.self.value", type="v", layer=0, id="same")
    with pytest.raises(rs.SpaceError, match=r"duplicate edge ids \['same'\]"):
        b.build()


def test_rank_out_of_range(space):
    eid = space.ids[0]
    with pytest.raises(rs.AllocationError, match=rf"edge '{eid}': rank -1 is out of range; valid ranks are 0..8"):
        rs.Allocation(space, {eid: -1})
    with pytest.raises(rs.AllocationError, match="rank 9 is out of range"):
        rs.Allocation(space, {eid: 9})
    with pytest.raises(rs.AllocationError, match="does not have"):
        rs.Allocation(space, {"ghost@0": 1})


def test_budget_below_cheapest_and_unparseable(space):
    with pytest.raises(rs.BudgetError, match="below the cheapest non-empty allocation"):
        rs.Budget.parse("10", space)
    for bad in ("lots", "1.2X", "-5", "r", "", "2.5.1k"):
        with pytest.raises(rs.BudgetError, match="does not parse; use '250k'"):
            rs.Budget.parse(bad, space)
    assert rs.Budget.parse("0.0012M", space).params == 1_200
    assert rs.Budget.parse("2.5k", space).params == 2_500
    assert rs.Budget.parse(3000, space).params == 3_000
    capacity = sum(e.cost(e.max_rank) for e in space.edges)
    assert rs.Budget.parse(capacity, space).params == capacity  # every edge at its max rank: fits
    for too_big in (capacity + 1, "1000G"):
        with pytest.raises(rs.BudgetError, match=f"above what space 'shortcuts' can hold \\({capacity:,} parameters"):
            rs.Budget.parse(too_big, space)
    top = max(e.max_rank for e in space.edges)
    with pytest.raises(rs.BudgetError, match=f"asks for rank 100000 on every edge.*at most rank {top}"):
        rs.Budget.parse("r100000", space)


def test_result_files_that_are_not_results():
    """``SearchResult.from_dict`` (what ``show``, ``report`` and ``export`` read through) refuses
    anything whose keys do not hold what a run writes, naming the key and what is valid."""
    from rankscope.search.result import SearchResult

    good = {"space": "lora", "allocator": "uniform", "model": "tiny-bert", "task": "planted", "seed": 0,
            "budget": {"spec": "r2", "params": 10}, "allocation": {"params": 8, "edges": []},
            "metrics": {"primary": "r2", "final": {"r2": 0.5}, "best": {}}, "history": [], "baseline": {}}
    assert SearchResult.from_dict(good).metrics["greater_is_better"] is True
    for bad, message in [
        ([1], "expected a JSON object, got list"),
        ({}, "missing space, allocator, model, task, budget, allocation, metrics"),
        ({**good, "seed": True}, "'seed' must be an integer, got True"),
        ({**good, "status": "done"}, "status must be one of completed, failed, got 'done'"),
        ({**good, "budget": {"spec": "r2"}}, "budget has no 'params'"),
        ({**good, "budget": {"params": "10"}}, "budget.params must be a number"),
        ({**good, "metrics": {"final": []}}, "metrics.final must be an object or null"),
        ({**good, "history": [1]}, "every entry of history must be an object, got 1"),
        ({**good, "baseline": {"uniform": 3}}, "every entry of baseline must be an object"),
        ({**good, "allocation": {"edges": ["q"]}}, "every entry of allocation.edges must be an object"),
        ({**good, "failure": "x"}, "'failure' must be an object or null"),
    ]:
        with pytest.raises(rs.InputError, match=re.escape(f"r.json is not a rankscope result: {message}")):
            SearchResult.from_dict(bad, source="r.json")


def test_output_paths_that_cannot_be_made(tmp_path):
    from rankscope.search.rundir import check_dir_path

    (tmp_path / "f").write_text("x")
    assert check_dir_path(tmp_path / "new" / "run", "--out") == tmp_path / "new" / "run"
    with pytest.raises(rs.InputError, match="--out is empty"):
        check_dir_path(" ", "--out")
    with pytest.raises(rs.InputError, match=r"lies under .*/f, which is a file"):
        check_dir_path(tmp_path / "f" / "a" / "b", "--out")


def test_allocation_json_for_another_space(model, space, tmp_path):
    alloc = rs.Allocation.uniform(space, 2)
    assert rs.Allocation.from_json(alloc.to_json(), space) == alloc
    path = tmp_path / "a.json"
    alloc.to_json(path)
    assert rs.Allocation.from_json(path, space) == alloc
    other = rs.build_space("lora", model, max_rank=8)
    with pytest.raises(rs.AllocationError, match="was made for space 'shortcuts'.*not for space 'lora'"):
        rs.Allocation.from_json(path, other)


def test_invalid_edge_definitions():
    with pytest.raises(rs.SpaceError, match="no dots"):
        Edge(id="a.b", kind="lora", src="m:in", dst="m:out", d_in=1, d_out=1, max_rank=1, layer=0, type="t")
    with pytest.raises(rs.SpaceError, match="'<module path>:in'"):
        Edge(id="a", kind="lora", src="m", dst="m:out", d_in=1, d_out=1, max_rank=1, layer=0, type="t")
    with pytest.raises(rs.SpaceError, match="has no edges"):
        rs.SearchSpace("empty", [])
