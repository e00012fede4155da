"""The rankscope adapter format (save → load gives identical outputs, shortcut edges included;
mismatched or corrupted files are refused with clear errors) and ``handle.merge()``."""

import json

import pytest
import torch
from conftest import batch, make_tiny

import rankscope as rs
from rankscope.errors import InputError


def _trained_like(family="bert", space_name="shortcuts", form="lora", seed=0):
    """A tiny model with a mixed-rank allocation whose adapters hold non-trivial values."""
    model = make_tiny(family, seed=seed)
    space = rs.build_space(space_name, model)
    ranks = {e.id: (i % 4) for i, e in enumerate(space.edges)}
    handle = rs.attach(model, space, rs.Allocation(space, ranks), form=form, seed=3)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in handle.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model, space, handle


def _out(model, b):
    with torch.no_grad():
        return model(**b).logits


@pytest.mark.parametrize("family", ["bert", "llama", "gpt2"])
def test_save_then_load_on_a_fresh_model_gives_identical_outputs(tmp_path, family):
    model, space, handle = _trained_like(family)
    b = batch()
    want = _out(model, b)
    assert any(e.kind == "shortcut" and e.id in handle.adapters for e in space.edges)
    rs.save_adapters(handle, tmp_path / "ad")
    assert sorted(p.name for p in (tmp_path / "ad").iterdir()) == [
        "adapter.safetensors", "adapter_config.json", "allocation.json", "space.json"]
    fresh = make_tiny(family, seed=0)
    with torch.no_grad():  # a fresh head is random: the saved (trained) head must come back
        for n, p in fresh.named_parameters():
            if n.startswith(("classifier", "score")):
                p.normal_()
    loaded = rs.load_adapters(fresh, tmp_path / "ad")
    assert torch.equal(_out(fresh, b), want)
    assert loaded.allocation == rs.Allocation.from_json((tmp_path / "ad" / "allocation.json").read_text(),
                                                       loaded.space)


def test_masked_svd_ranks_are_sliced_away_on_save(tmp_path):
    model, space, handle = _trained_like(form="svd")
    eid = next(i for i, a in handle.adapters.items() if a.rank >= 2)
    handle.set_mask(eid, [0] + [1] * (handle.adapters[eid].rank - 1))
    b = batch()
    want = _out(model, b)
    rs.save_adapters(handle, tmp_path / "ad")
    loaded = rs.load_adapters(make_tiny("bert", seed=0), tmp_path / "ad")
    assert loaded.adapters[eid].rank == handle.adapters[eid].rank - 1
    assert loaded.trainable_parameters() == loaded.allocation.params == handle.allocation.params
    assert torch.allclose(_out(loaded.model, b), want, atol=1e-6)


def test_another_base_model_or_family_is_refused(tmp_path):
    _, _, handle = _trained_like()
    rs.save_adapters(handle, tmp_path / "ad")
    with pytest.raises(InputError, match=r"trained on another base model: checksum"):
        rs.load_adapters(make_tiny("bert", seed=1), tmp_path / "ad")
    with pytest.raises(InputError, match="on another base model"):
        rs.load_adapters(make_tiny("llama", seed=0), tmp_path / "ad")


def test_corrupted_truncated_or_tampered_files_are_refused(tmp_path):
    _, _, handle = _trained_like()
    rs.save_adapters(handle, tmp_path / "ad")
    model = make_tiny("bert")  # every load below is refused on this model and must leave it as it was
    state = {k: v.clone() for k, v in model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}

    def refused(match):
        with pytest.raises(InputError, match=match):
            rs.load_adapters(model, tmp_path / "ad")
        assert not hasattr(model, "rankscope_adapters")  # no adapters attached
        assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())  # no hooks left
        assert model.state_dict().keys() == state.keys()
        assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # same weights
        assert {n: p.requires_grad for n, p in model.named_parameters()} == flags  # nothing frozen

    st = tmp_path / "ad" / "adapter.safetensors"
    good = st.read_bytes()
    st.write_bytes(good[: len(good) // 2])
    refused("corrupted or truncated")
    from safetensors.torch import load, save

    tensors = load(good)
    key = next(k for k in tensors if k.endswith("/A"))
    tensors[key] = torch.zeros(tensors[key].shape[0] + 1, tensors[key].shape[1])
    st.write_bytes(save(tensors))
    refused(f"does not match its allocation.json: {key}: shape")
    (tmp_path / "ad" / "space.json").unlink()
    refused("missing space.json")
    (tmp_path / "ad" / "space.json").write_text("{not json")
    refused("not valid JSON")


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_merge_folds_module_edges_into_weights_and_keeps_shortcuts(family):
    model, space, handle = _trained_like(family)
    b = batch()
    want = _out(model, b)
    shortcuts = [i for i in handle.adapters if space.edge(i).kind == "shortcut"]
    module_edges = [i for i in handle.adapters if space.edge(i).kind == "lora"]
    info = handle.merge()
    assert sorted(info["kept"]) == sorted(shortcuts) and info["merged"]
    assert info["extra_flops_per_token"] == sum(2 * handle.adapters[i].rank * (space.edge(i).d_in + space.edge(i).d_out)
                                                for i in shortcuts)
    assert torch.allclose(_out(model, b), want, atol=1e-5)
    assert json.loads(json.dumps(info, allow_nan=False)) == info  # plain, strict JSON (no tuples, no NaN)
    assert sorted(info["merged"]) == sorted(module_edges)  # every module edge, and nothing else
