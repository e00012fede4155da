"""Proxy scores held against independent recomputations (PEFT LoRA), spectral maths, selection,
dynamic toggling, and the bad inputs of the HeteroLoRA issue."""

import copy
import json

import pytest
import torch
from conftest import run_cli

import rankscope as rs
from rankscope.allocators.proxy.select import default_rank_on, select
from rankscope.scoring import PROXIES, GradientSpectrum, Proxy, get_proxy, score_edges
from rankscope.testing import score_tiny


# ----------------------------------------------------------------------------------- PEFT parity
@pytest.mark.parametrize("b_init", ["zero", "random"])
def test_grad_norm_and_snip_match_an_independent_peft_recomputation(b_init):
    """Score lora-qv edges with rankscope, then rebuild the same LoRA in PEFT (same A, B, α, r),
    accumulate the loss gradient over the same batches with plain autograd, and recompute
    ‖∇A‖+‖∇B‖ and Σ|A⊙∇A|+Σ|B⊙∇B| by hand."""
    from peft import LoraConfig, get_peft_model

    from rankscope.adapters.lora import DEFAULT_SCALING  # score_tiny attaches with the default rule

    scores, model, handle, batches, objective = score_tiny("grad_norm", b_init=b_init, space="lora-qv", rank=4)
    snip = score_edges(model, handle, objective, batches, [get_proxy("snip")]).scores["snip"]
    weights = {eid: (a.A.detach().clone(), a.B.detach().clone()) for eid, a in handle.adapters.items()}
    handle.detach()
    base = copy.deepcopy(model)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=16, target_modules=["query", "value"],
                                                 lora_dropout=0.0, use_rslora=DEFAULT_SCALING == "rslora"))
    peft_model.eval()
    mods = dict(peft_model.named_modules())
    pairs = {}
    for eid, (A, B) in weights.items():
        kind, layer = eid.split("@")
        m = mods[f"base_model.model.bert.encoder.layer.{layer}.attention.self.{kind}"]
        with torch.no_grad():
            m.lora_A["default"].weight.copy_(A)
            m.lora_B["default"].weight.copy_(B)
        pairs[eid] = (m.lora_A["default"].weight, m.lora_B["default"].weight)
    for b in batches:
        peft_model(**b).loss.backward()
    for eid, (A, B) in pairs.items():
        expect_gn = float(A.grad.norm() + B.grad.norm())
        expect_snip = float((A.detach() * A.grad).abs().sum() + (B.detach() * B.grad).abs().sum())
        assert scores[eid] == pytest.approx(expect_gn, rel=1e-4, abs=1e-9)
        assert snip[eid] == pytest.approx(expect_snip, rel=1e-4, abs=1e-9)
    if b_init == "zero":
        assert all(v == 0 for v in snip.values())
        assert all(v > 0 for v in scores.values())


# ---------------------------------------------------------------------------------- spectral
class _DenseGradient(Proxy):
    """Test plugin: records G = Σ gᵀx per edge from the shared pass."""

    name = "dense-gradient-test"
    needs_records = True

    def __init__(self):
        self.G = {}

    def on_batch(self, records):
        for eid in records.edge_ids:
            x, g = records.io(eid)
            self.G[eid] = self.G.get(eid, 0) + g.T @ x

    def finish(self, ctx):
        self.ctx = ctx
        return {eid: float(G.norm()) for eid, G in self.G.items()}


def test_recorded_dense_gradient_is_dL_dDeltaW():
    """∂𝓛/∂B = scale · G Aᵀ for a LoRA edge, so G = Σ gᵀx is the gradient of a dense update."""
    _, model, handle, batches, objective = score_tiny("grad_norm", b_init="zero")
    probe = _DenseGradient()
    score_edges(model, handle, objective, batches, [probe])
    for eid, a in handle.adapters.items():
        expect = float(a.scale) * probe.G[eid] @ a.A.detach().T
        torch.testing.assert_close(probe.ctx.grads[eid]["B"], expect, rtol=1e-4, atol=1e-7)


def test_spectral_values_are_singular_values_of_the_dense_gradient():
    _, model, handle, batches, objective = score_tiny("grad_norm", b_init="random")
    probe, spectral = _DenseGradient(), get_proxy("spectral")
    scores = score_edges(model, handle, objective, batches, [probe, spectral]).scores["spectral"]
    for eid, G in probe.G.items():
        sv = torch.linalg.svdvals(G)
        k = min(len(sv), handle.space.edge(eid).max_rank)
        torch.testing.assert_close(torch.tensor(scores[eid][:k]), sv[:k], rtol=1e-4, atol=1e-6)
        assert scores[eid] == sorted(scores[eid], reverse=True)


def test_sketched_spectrum_matches_the_exact_one():
    """The randomized two-sided sketch recovers the top-k σ of a decaying spectrum."""
    g = torch.Generator().manual_seed(0)
    d_out, d_in, k = 300, 200, 8
    exact = GradientSpectrum(d_out, d_in, k)
    sketch = GradientSpectrum(d_out, d_in, k, dense_limit=0, generator=torch.Generator().manual_seed(1))
    assert exact.dense and not sketch.dense
    basis_o, basis_i = torch.randn(d_out, 20, generator=g), torch.randn(d_in, 20, generator=g)
    decay = 2.0 ** -torch.arange(20.0)
    for _ in range(5):  # five "batches" of 64 tokens
        z = torch.randn(64, 20, generator=g) * decay
        gx, x = z @ basis_o.T, torch.randn(64, 20, generator=g) @ basis_i.T
        exact.add(gx, x)
        sketch.add(gx, x)
    e, s = exact.singular_values(), sketch.singular_values()
    torch.testing.assert_close(s[:4], e[:4], rtol=0.02, atol=0)


# --------------------------------------------------------------------------------- selection
def test_on_off_selection_is_the_papers_pairing():
    """Budget r2 on lora-qv (equal-cost edges): rank_on = 8 and exactly 25 % of edges are on."""
    import transformers as tf

    cfg = tf.BertConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=8, num_attention_heads=2)
    model = tf.AutoModel.from_config(cfg)
    space = rs.build_space("lora-qv", model)
    budget = rs.Budget.parse("r2", space)
    assert default_rank_on(space, budget) == 8
    scores = {e.id: float(i) for i, e in enumerate(space.edges)}
    alloc = select(space, budget, scores, granularity="edge", rank_on=8)
    on = [e for e, r in alloc.ranks.items() if r]
    assert len(on) == len(space.edges) // 4 and all(alloc.ranks[e] == 8 for e in on)
    assert set(on) == {e.id for e in space.edges[-len(on):]}  # the highest scores
    assert alloc.params == budget.params


def test_separated_mode_gives_each_kind_its_uniform_share():
    _, model, handle, _, _ = score_tiny("constant")
    space = handle.space
    handle.detach()
    budget = rs.Budget.parse("r2", space)
    # shortcuts score far higher: combined gives them everything, separated keeps the LoRA quota
    scores = {e.id: (100.0 if e.kind == "shortcut" else 1.0) for e in space.edges}
    comb = select(space, budget, scores, granularity="edge", rank_on=8)
    sep = select(space, budget, scores, granularity="edge", rank_on=8, mode="separated")
    lora_params = lambda a: sum(space.edge(e).cost(r) for e, r in a.ranks.items() if space.edge(e).kind == "lora")  # noqa: E731
    assert lora_params(sep) > 0 and lora_params(sep) > lora_params(comb)
    lora_share = sum(e.cost(1) for e in space.edges if e.kind == "lora") / space.uniform_cost(1)
    assert lora_params(sep) <= budget.params * lora_share
    assert sep.params <= budget.params and comb.params <= budget.params


def test_type_normalisation_equalises_edge_types():
    _, model, handle, _, _ = score_tiny("constant")
    space = handle.space
    handle.detach()
    budget = rs.Budget.parse("r2", space)
    scores = {e.id: (1000.0 if e.type == "R1" else 1.0) * (1 + 0.01 * i) for i, e in enumerate(space.edges)}
    raw = select(space, budget, scores, granularity="edge", rank_on=8)
    norm = select(space, budget, scores, granularity="edge", rank_on=8, normalize="type")
    types = lambda a: {space.edge(e).type for e, r in a.ranks.items() if r}  # noqa: E731
    assert "R1" in types(raw) and len(types(norm)) >= 2
    # the normalised scores are the raw ones divided by the mean (total) score of their type,
    # scalar and per-rank alike, so every type's mean becomes 1; select(normalize="type") uses them
    from rankscope.allocators.proxy.select import normalize_by_type

    by_type = {}
    for e in space.edges:
        by_type.setdefault(e.type, []).append(e.id)
    mean = {t: sum(scores[i] for i in ids) / len(ids) for t, ids in by_type.items()}
    scaled = normalize_by_type(space, scores)
    per_rank = normalize_by_type(space, {i: [s, s / 2] for i, s in scores.items()})  # totals 1.5·s
    assert scaled.keys() == per_rank.keys() == scores.keys()
    for t, ids in by_type.items():
        assert sum(scaled[i] for i in ids) / len(ids) == pytest.approx(1.0)
        for i in ids:
            assert scaled[i] == pytest.approx(scores[i] / mean[t])
            assert per_rank[i] == pytest.approx([scores[i] / (1.5 * mean[t]), scores[i] / (3 * mean[t])])
    assert norm == select(space, budget, scaled, granularity="edge", rank_on=8) != raw


def test_scalar_scores_at_rank_granularity_give_ranks_in_proportion():
    _, model, handle, _, _ = score_tiny("constant", space="lora-qv")
    space = handle.space
    handle.detach()
    ids = [e.id for e in space.edges]
    scores = {ids[0]: 3.0, ids[1]: 1.0, ids[2]: 0.0, ids[3]: 0.0}
    alloc = select(space, rs.Budget.parse("r2", space), scores, granularity="rank", rank_on=8)
    assert alloc.ranks[ids[0]] == 3 * alloc.ranks[ids[1]] or abs(alloc.ranks[ids[0]] - 3 * alloc.ranks[ids[1]]) <= 3
    assert alloc.ranks[ids[2]] == alloc.ranks[ids[3]] == 0


# ----------------------------------------------------------------------------- dynamic mode
def test_dynamic_toggles_keep_weights_and_optimizer_state_of_disabled_edges():
    """With random (constant-proxy) selections edges go off and on; while off, neither their
    weights nor their AdamW moments change, and they never receive a gradient."""
    from rankscope.allocators.proxy.dynamic import ProxyDynamicAllocator
    from rankscope.harness.hooks import StepHook
    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session
    from rankscope.testing import SMALL_RUN

    cfg = SearchConfig(allocator="proxy-dynamic", **{**SMALL_RUN, "max_steps": 10}).resolved()
    search = Session(cfg, progress=False)
    plan = ProxyDynamicAllocator(proxy="constant", n_batches=1, interval=0.5).propose(search.context())
    inner = plan.hook
    seen = {"checked": 0, "toggles": 0}

    class Spy(StepHook):
        frozen = {}

        def on_train_begin(self, state):
            inner.on_train_begin(state)
            self._snap(state)

        def _snap(self, state):
            self.frozen = {}
            for eid, a in state.handle.adapters.items():
                if float(a.mask.sum()) == 0:
                    self.frozen[eid] = {n: (p.detach().clone(), {k: v.clone() for k, v in state.optimizer.state.get(p, {}).items()
                                                                 if torch.is_tensor(v)})
                                        for n, p in a.named_parameters()}

        def on_step_end(self, step, state):
            for eid, params in self.frozen.items():
                a = state.handle.adapters[eid]
                for n, (w, st) in params.items():
                    p = getattr(a, n)
                    assert p.grad is None, f"disabled edge {eid} got a gradient"
                    assert torch.equal(p.detach(), w), f"disabled edge {eid}.{n} moved"
                    for k, v in st.items():
                        assert torch.equal(state.optimizer.state[p][k], v), f"moment {k} of {eid}.{n} moved"
                    seen["checked"] += 1
            before = set(self.frozen)
            inner.on_step_end(step, state)
            self._snap(state)
            seen["toggles"] += len(before ^ set(self.frozen))

        def on_train_end(self, state):
            inner.on_train_end(state)

    trained = search.train(plan.allocation, Spy())
    assert seen["checked"] > 0 and seen["toggles"] > 0
    rec = plan.describe()
    assert len(rec["reallocations"]) >= 3
    assert trained.allocation.params <= search.budget.params
    assert sorted(e for e, r in trained.allocation.ranks.items() if r) == rec["reallocations"][-1]["on"]


# ------------------------------------------------------------------------------- bad inputs
_cli = run_cli


def test_unknown_proxy_lists_valid_ones(capsys, tmp_path):
    code, err = _cli(capsys, "search", "--model", "tiny-bert", "--allocator", "proxy-static", "--proxy", "nope",
                     "--out", tmp_path / "r")
    assert code == 2 and "unknown proxy 'nope'" in err and "grad_norm" in err and "spectral" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("value", ["0", "-0.5"])
def test_interval_must_be_positive(capsys, tmp_path, value):
    code, err = _cli(capsys, "search", "--model", "tiny-bert", "--allocator", "proxy-dynamic", "-o", f"interval={value}",
                     "--out", tmp_path / "r")
    assert code == 2 and "interval" in err and "> 0" in err


def test_more_scoring_batches_than_data(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('model = "tiny-bert"\nmax_steps = 4\n[planted]\nn_train = 64\nn_dev = 32\nseq_len = 12\n')
    code, err = _cli(capsys, "search", "--config", cfg, "--allocator", "proxy-static", "-o", "n_batches=50",
                     "--out", tmp_path / "r", "--quiet")
    assert code == 2 and "50 scoring batches" in err and "has 64" in err and "at most 2" in err
    assert not (tmp_path / "r").exists()


def test_empty_space(capsys, tmp_path, registered):
    from rankscope import SearchSpace

    registered(rs.SPACES, "empty-test", lambda model, **kw: SearchSpace("empty-test", []))
    code, err = _cli(capsys, "search", "--space", "empty-test", "--model", "tiny-bert", "--allocator",
                     "proxy-static", "--out", tmp_path / "r")
    assert code == 2 and "has no edges" in err


class _NanOnFirstEdge(Proxy):
    name = "nan-test"

    def finish(self, ctx):
        ids = list(ctx.handle.adapters)
        return {eid: (float("nan") if i == 0 else 1.0 + i) for i, eid in enumerate(ids)}


def test_nan_proxy_names_the_edge_and_falls_back_only_when_asked(capsys, tmp_path, registered):
    registered(PROXIES, "nan-test", _NanOnFirstEdge)
    cfg = tmp_path / "c.toml"
    cfg.write_text('model = "tiny-bert"\nmax_steps = 4\n[planted]\nn_train = 64\nn_dev = 32\nseq_len = 12\n')
    base = ["search", "--config", cfg, "--allocator", "proxy-static", "--proxy", "nan-test", "-o", "n_batches=1", "--quiet"]
    code, err = _cli(capsys, *base, "--out", tmp_path / "a")
    assert code == 1 and "NaN/inf for edge(s) query@0" in err and "nan_fallback" in err
    assert not (tmp_path / "a").exists()
    code, _ = _cli(capsys, *base, "-o", "nan_fallback=true", "-o", 'also=["grad_norm"]', "--out", tmp_path / "b")
    assert code == 0
    rec = json.loads((tmp_path / "b" / "result.json").read_text())["extras"]["allocator"]
    assert rec["nan_edges"] == {"nan-test": ["query@0"]} and rec["used_proxy"] == "grad_norm"
    assert rec["scores"]["nan-test"]["query@0"] is None  # strict JSON: NaN is written as null


@pytest.mark.parametrize("steps,want", [(12, 1), (40, 4), (200, 8)])
def test_auto_scoring_batches_are_a_tenth_of_the_run(steps, want):
    from rankscope.testing import run_small

    result, _, _ = run_small("proxy-static", {}, max_steps=steps, batch_size=8)
    rec = result["extras"]["allocator"]
    assert rec["options"]["n_batches"] == "auto" and rec["scoring_batches"] == want


def test_explicit_scoring_batches_win_over_auto():
    from rankscope.testing import run_small

    result, _, _ = run_small("proxy-static", {"n_batches": 3}, batch_size=8)
    assert result["extras"]["allocator"]["scoring_batches"] == 3
