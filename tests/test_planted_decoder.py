"""The planted task on pre-LN decoders (rankscope.tasks.planted.stream): normalised stream features,
stream-relative plant scale, robust statistics, and a short training that learns."""

import math

import numpy as np
import pytest
import torch

from rankscope.adapters.attach import attach
from rankscope.harness.data import padding_collate
from rankscope.models.loading import load_model
from rankscope.registry import SPACES
from rankscope.search.config import SearchConfig
from rankscope.search.session import Session
from rankscope.space.trace import capture_sites
from rankscope.tasks.planted import PlantedConfig, build_planted_task
from rankscope.tasks.planted import cache as planted_cache
from rankscope.tasks.planted.stream import (
    inlier_rows,
    is_pre_ln,
    rms_normalise,
    robust_rms,
    stream_sites,
    token_rms,
)
from rankscope.tasks.planted.task import (
    block_features,
    choose_plants,
    plant_weights,
    sample_inputs,
)

SMALL = {"n_train": 64, "n_dev": 32, "seq_len": 12}


def _with_sink(seed=0):
    """[2, 6, 8] activations whose first token is 1000× the others (a massive-activation sink)."""
    x = torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(seed))
    x[:, 0] *= 1000.0
    return x, torch.ones(2, 6, dtype=torch.long)


def test_pre_ln_is_detected_from_the_family_not_the_name():
    llama, _ = load_model("tiny-llama")
    bert, _ = load_model("tiny-bert")
    assert is_pre_ln(llama) and not is_pre_ln(bert)


def test_rms_normalise_gives_unit_rms_per_token():
    x, _ = _with_sink()
    n = rms_normalise(x)
    assert torch.allclose(n.pow(2).mean(-1), torch.ones(2, 6), atol=1e-4)
    assert torch.allclose(rms_normalise(5 * x), n, atol=1e-5)  # scale-free, as a norm reads it


def test_robust_statistics_ignore_a_massive_token():
    x, mask = _with_sink()
    plain = x[mask.bool()].pow(2).mean().sqrt()
    normal = token_rms(x[:, 1:], mask[:, 1:]).median()
    assert plain > 100 * normal  # the sink dominates the plain RMS
    assert robust_rms(x, mask) < 2 * normal  # the median per-token RMS does not see it
    rows = inlier_rows(x, mask)
    assert rows.shape == (10, 8) and rows.abs().max() < 100  # both sink tokens dropped
    mask[1, 3:] = 0  # padding never counts
    assert inlier_rows(x, mask).shape[0] == 7


def test_pre_ln_features_are_normalised_streams_and_bert_features_are_raw():
    for name, normalised in (("tiny-llama", True), ("tiny-bert", False)):
        model, tok = load_model(name)
        space = SPACES.get("shortcuts")(model)
        task = build_planted_task(model, tok, space, PlantedConfig(**SMALL), 0, padding_collate(tok))
        objective = task.prepared.objective
        assert objective.normalise is normalised
        batch = task.prepared.collate(task.prepared.dev[:4])
        with torch.no_grad():
            raw = block_features(model, batch, pooled=False)
            h = block_features(model, batch, pooled=False, normalise=objective.normalise)
            feats = objective.features(model, batch)
        assert torch.allclose(feats, torch.einsum("btld,ldk->btlk", h, objective.proj).flatten(-2), atol=1e-5)
        if normalised:  # the tiny decoder's raw streams (before its final norm) are far from unit RMS
            assert raw[..., :-1, :].pow(2).mean(-1).max() < 0.5
            assert torch.allclose(h.pow(2).mean(-1), torch.ones(h.shape[:-1]), atol=1e-2)
        else:
            assert torch.equal(h, raw)


def test_plants_write_scale_times_the_stream_they_land_in():
    model, tok = load_model("tiny-llama")
    model.eval()
    space = SPACES.get("shortcuts")(model)
    cfg = PlantedConfig(**SMALL)
    planted = choose_plants(space, cfg, 0)
    streams = stream_sites(model, space, planted.active)
    into_stream = [e for e, s in streams.items() if s]
    assert into_stream, "the tiny space plants at least one edge into the residual stream"
    calib = padding_collate(tok)(sample_inputs(tok, 32, 12, np.random.default_rng(0), fixed=True))
    handle = attach(model, space, planted, form="lora", seed=0)
    sites = {s for eid in into_stream for s in (space.edge(eid).src, streams[eid])}
    acts = capture_sites(model, sites, calib)  # fresh adapters: the base model's activations
    plant_weights(model, handle, planted, calib, 0.5, 0, prenorm=True)
    mask = calib["attention_mask"]
    for eid in into_stream:
        e, a = space.edge(eid), handle.adapters[eid]
        delta = ((acts[e.src] @ a.A.T) * a.scale @ a.B.T).detach()
        assert float(robust_rms(delta, mask) / robust_rms(acts[streams[eid]], mask)) == pytest.approx(0.5, rel=0.05)
    handle.detach()


def test_task_format_is_part_of_the_cache_key(monkeypatch):
    model, _ = load_model("tiny-llama")
    space = SPACES.get("shortcuts")(model)
    key = planted_cache.task_key("tiny-llama", model, space, 0, PlantedConfig().to_dict())
    monkeypatch.setattr(planted_cache, "TASK_FORMAT", planted_cache.TASK_FORMAT + 1)
    assert planted_cache.task_key("tiny-llama", model, space, 0, PlantedConfig().to_dict()) != key


def test_training_on_a_pre_ln_decoder_is_finite_and_learns():
    cfg = SearchConfig(model="tiny-llama", space="shortcuts", max_steps=24, eval_every=4, eval_subset=0,
                       planted={**SMALL, "n_train": 128}).resolved()
    session = Session(cfg, progress=False)
    for alloc in (session.uniform(), session.planted.planted):
        out = session.train(alloc)
        curve = [h["dev"]["r2"] for h in out.history]
        assert all(math.isfinite(v) for v in curve)
        assert curve[-1] > curve[0] + 0.1 and curve[-1] > 0.1, curve


@pytest.mark.slow
def test_smollm2_planted_short_run_is_stable():
    """SmolLM2-135M (massive activations on the first token): five steps keep r2 above −1."""
    cfg = SearchConfig(model="smollm2", space="shortcuts", max_steps=5, eval_every=5,
                       planted={"n_train": 64, "n_dev": 32, "seq_len": 16}).resolved()
    session = Session(cfg, progress=False)
    out = session.train(session.uniform())
    assert math.isfinite(out.final["r2"]) and out.final["r2"] > -1.0, out.final
