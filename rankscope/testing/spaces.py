"""The search-space contract, on a tiny encoder and a tiny decoder."""

from __future__ import annotations

import pytest


class SpaceContract:
    """Subclass and set ``space`` (a registered name) to check a search-space plugin on tiny
    random models (``models``: aliases it supports, by default an encoder and a decoder;
    ``options``: builder options). Each test's name says what it checks: widths, forward order
    and outputs are taken from real forward passes, parameter counts from the model."""

    space: str = ""
    models: tuple = ("tiny-bert", "tiny-llama")
    options: dict = {}

    def pytest_generate_tests(self, metafunc):
        if "model_name" in metafunc.fixturenames:
            metafunc.parametrize("model_name", list(self.models), scope="class")

    @pytest.fixture(scope="class")
    @classmethod
    def built(cls, model_name):
        import torch

        import rankscope as rs

        torch.manual_seed(0)
        model = rs.load_model(model_name, 2)[0].eval()
        ids = torch.randint(1000, 5000, (3, 9), generator=torch.Generator().manual_seed(1))
        mask = torch.ones_like(ids)
        mask[0, -3:] = 0  # padding, so masked positions are exercised
        return model, rs.build_space(cls.space, model, **cls.options), {"input_ids": ids, "attention_mask": mask}

    def test_builds_and_validates_with_unique_ids(self, built):
        model, space, _ = built
        assert space.validate(model) is space and {e.kind for e in space.edges} <= {"lora", "shortcut"}
        ids = [e.id for e in space.edges]
        assert len(set(ids)) == len(ids) == space.graph.number_of_edges() > 0
        assert sorted(k for _, _, k in space.graph.edges(keys=True)) == sorted(ids)

    def test_widths_and_forward_order_match_the_model(self, built):
        from rankscope.space.edge import parse_site
        from rankscope.space.trace import run_with_site_hooks

        model, space, batch = built
        first = {}  # site -> (order of its first computation, width)

        def seen(site, t):  # returns None: a hook's return value would replace the tensor
            first.setdefault(site, (len(first), t.shape[-1])) if t is not None else None
        run_with_site_hooks(model, set(space.graph.nodes), batch, seen)
        modules = dict(model.named_modules())
        for e in space.edges:
            assert (first[e.src][1], first[e.dst][1]) == (e.d_in, e.d_out), f"{e.id}: widths"
            assert first[e.src][0] < first[e.dst][0], f"{e.id}: source computed after its target"
            if e.kind == "lora":
                path = parse_site(e.src)[0]
                assert e.src == f"{path}:in" and e.dst == f"{path}:out", e.id
                assert tuple(modules[path].weight.shape) in ((e.d_out, e.d_in), (e.d_in, e.d_out)), e.id

    @pytest.mark.parametrize("form", ["lora", "svd"])
    def test_zero_and_fresh_adapters_keep_the_base_function(self, built, form):
        import torch

        import rankscope as rs

        model, space, batch = built

        def outputs():  # logits and every hidden state
            with torch.no_grad():
                out = model(**batch, output_hidden_states=True)
            return [out.logits, *out.hidden_states]
        base = outputs()
        for alloc in (rs.Allocation.zeros(space, form), rs.Allocation.uniform(space, 2, form)):
            handle = rs.attach(model, space, alloc)
            try:
                assert len(handle.adapters) == len(alloc.active)
                for got, want in zip(outputs(), base):
                    assert torch.allclose(got, want, atol=1e-6), f"{alloc} changed the base model's outputs"
            finally:
                handle.detach()
            assert all(torch.equal(got, want) for got, want in zip(outputs(), base))

    def test_uniform_params_equal_trainable_adapter_parameters(self, built):
        import rankscope as rs

        model, space, _ = built
        alloc = rs.Allocation.uniform(space, 2)
        handle = rs.attach(model, space, alloc)
        try:
            assert alloc.params == sum(p.numel() for p in model.parameters() if p.requires_grad)
            assert alloc.params == sum(min(2, e.max_rank) * (e.d_in + e.d_out) for e in space.edges)
        finally:
            handle.detach()

    def test_summary_graphml_and_dot(self, built, tmp_path):
        import networkx as nx

        space = built[1]
        assert f"{len(space)} edges" in space.summary() and all(i in space.summary() for i in space.ids)
        back = nx.read_graphml(space.write_graphml(tmp_path / "space.graphml"), force_multigraph=True)
        assert {k: (u, v, d["d_in"], d["d_out"]) for u, v, k, d in back.edges(keys=True, data=True)} == {
            e.id: (e.src, e.dst, e.d_in, e.d_out) for e in space.edges}
        dot = space.write_dot(tmp_path / "space.dot").read_text()
        assert dot.startswith("digraph") and dot.count(" -> ") == len(space)
        assert all(f'key="{i}"' in dot for i in space.ids)
