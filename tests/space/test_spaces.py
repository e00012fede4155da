"""Built-in spaces, the registry, custom spaces, GraphML/DOT export and the packaged MiniLM."""

import subprocess
import sys
from collections import Counter

import networkx as nx
import pytest
import torch
from conftest import REPO, batch, make_tiny

import rankscope as rs

ROOT = REPO


def test_builtin_spaces_are_registered_through_entry_points():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="rankscope.search_spaces")}
    assert {"lora", "lora-qv", "shortcuts"} <= names
    assert {"lora", "lora-qv", "shortcuts"} <= set(rs.SPACES.names())


@pytest.mark.parametrize("family,per_block_lora", [("bert", 6), ("llama", 7), ("opt", 6), ("gpt2", 4)])
def test_edge_counts_per_family(family, per_block_lora):
    model = make_tiny(family)
    lora = rs.build_space("lora", model)
    short = rs.build_space("shortcuts", model)
    assert len(lora) == 2 * per_block_lora
    kinds = Counter(e.type for e in short.edges if e.kind == "shortcut")
    assert kinds == {"R1": 2, "R2": 2, "S1": 2, "S2": 1}
    qv = rs.build_space("lora-qv", model)
    assert len(qv) == (2 if family == "gpt2" else 4)


def test_space_is_a_networkx_multidigraph_with_exports(tmp_path):
    model = make_tiny("bert")
    space = rs.build_space("shortcuts", model)
    assert isinstance(space.graph, nx.MultiDiGraph)
    assert space.graph.number_of_edges() == len(space)
    back = nx.read_graphml(space.write_graphml(tmp_path / "s.graphml"))
    assert back.number_of_edges() == len(space)
    dot = space.write_dot(tmp_path / "s.dot").read_text()
    assert dot.startswith('digraph "shortcuts"') and dot.count("->") == len(space)
    text = space.summary()
    assert "R1@0" in text and "S2@1" in text


def test_custom_space_and_registration(registered):
    model = make_tiny("bert")
    sm = rs.site_map(model)

    def build(m, **_):
        b = rs.SpaceBuilder(m, "mine")
        for blk in sm.blocks:
            b.lora(blk.ffn_out, type="ffn_out", layer=blk.index)
        b.shortcut(rs.site(sm.blocks[0].path, "in"), rs.site(sm.blocks[1].ffn_out, "out"), type="long", layer=1)
        return b.build()

    registered(rs.SPACES, "test-mine", build)
    space = rs.build_space("test-mine", model)
    assert [e.type for e in space.edges] == ["ffn_out", "ffn_out", "long"]
    assert space.edge("long@1").d_in == 32
    b = batch()
    with torch.no_grad():
        base = model(**b).logits
    h = rs.attach(model, space, rs.Allocation.uniform(space, 2))
    with torch.no_grad():
        for a in h.adapters.values():
            a.B.normal_()
        assert not torch.allclose(model(**b).logits, base)
    h.detach()


@pytest.mark.slow  # loads the real MiniLM
def test_packaged_minilm_snippet_and_counts():
    model, tokenizer = rs.load_model("minilm")
    space = rs.build_space("shortcuts", model)
    kinds = Counter(e.kind for e in space.edges)
    assert kinds == {"lora": 36, "shortcut": 23}
    types = Counter(e.type for e in space.edges if e.kind == "shortcut")
    assert types == {"R1": 6, "R2": 6, "S1": 6, "S2": 5}
    assert sorted(e.layer for e in space.edges if e.type == "S2") == [1, 2, 3, 4, 5]
    alloc = rs.Allocation.uniform(space, rank=2)
    budget = rs.Budget.parse("r2", space)
    assert space.cost(alloc) == alloc.params <= budget.params
    x = tokenizer(["rank allocation", "as graph search"], padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        base = model(**x).last_hidden_state
    for form in ("lora", "svd"):
        handle = rs.attach(model, space, alloc, form=form)
        assert handle.trainable_parameters() == alloc.with_form(form).params
        with torch.no_grad():
            assert torch.allclose(model(**x).last_hidden_state, base, atol=1e-6)
        handle.compact()
        handle.detach()


@pytest.mark.slow  # runs examples/custom_space.py in a new process
def test_custom_space_example_runs():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "custom_space.py"), "--model", "tiny-bert"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "long@0-1" in out.stdout
    assert "ffn-longrange" in out.stdout and "trainable adapter parameters" in out.stdout
