"""The allocator contract: budget, determinism, JSON round trip, metrics and timing."""

from __future__ import annotations

import json

import pytest

SMALL_RUN = dict(model="tiny-bert", task="planted", max_steps=12, eval_every=6,
                 planted={"n_train": 64, "n_dev": 32, "seq_len": 12, "n_plants": 4})


def small_config(allocator: str, options: dict | None = None, seed: int = 0, **overrides):
    """The resolved config of a tiny deterministic search (2-layer random BERT, planted, 12 steps)."""
    from rankscope.search.config import SearchConfig

    return SearchConfig(allocator=allocator, allocator_options=dict(options or {}), seed=seed,
                        **{**SMALL_RUN, **overrides}).resolved()


def run_small(allocator: str, options: dict | None = None, seed: int = 0, **overrides):
    """A tiny deterministic search; returns (result dict, final Allocation, config)."""
    from rankscope.search.pipeline import run_search

    cfg = small_config(allocator, options, seed, **overrides)
    result = run_search(cfg, progress=False)
    return result.to_dict(), result.final, cfg


class AllocatorContract:
    """Subclass and set ``allocator`` (and ``options``) to run the contract on it.

    The allocator runs twice, each run in a fresh :class:`~rankscope.search.session.Session`
    (model, planted task and harness rebuilt from the config): a session serves a repeated
    hook-free training from memory, so two runs in one session would compare a training with
    itself. The planted disk cache (``$RANKSCOPE_CACHE``) holds only the teacher's tensors and the
    baselines, never an allocator's training, so it stays on: the second run reads its baselines
    back and trains only the allocator. Cheap by design: a tiny model, 12 steps."""

    allocator: str = ""
    options: dict = {}
    space: str = "shortcuts"

    @pytest.fixture(scope="class")
    @classmethod
    def runs(cls):
        return [run_small(cls.allocator, cls.options, space=cls.space) for _ in range(2)]

    def test_budget_respected(self, runs):
        result, final, _ = runs[0]
        assert result["status"] == "completed", result.get("failure")
        assert final.params <= result["budget"]["params"]
        assert result["allocation"]["params"] == final.params
        assert sum(e["params"] for e in result["allocation"]["edges"]) == final.params
        assert final.params > 0

    def test_deterministic_for_a_seed(self, runs):
        (r1, a1, _), (r2, a2, _) = runs
        assert r1["status"] == r2["status"], (r1.get("failure"), r2.get("failure"))
        assert a1 == a2 and a1.form == a2.form
        assert r1["metrics"] == r2["metrics"]
        assert r1["history"] == r2["history"]
        # the second run trained again (a served training would repeat the first one's timing)
        assert r1["timing"]["train_s"] != r2["timing"]["train_s"]

    def test_allocation_json_round_trips(self, runs):
        from rankscope.allocation.allocation import Allocation

        _, final, _ = runs[0]
        again = Allocation.from_json(final.to_json(), final.space)
        assert again == final
        assert json.loads(final.to_json())["ranks"] == final.ranks

    def test_result_has_metrics_and_timing(self, runs):
        result, _, _ = runs[0]
        m = result["metrics"]
        assert m["primary"] in m["final"] and m["primary"] in m["best"]
        for k in ("allocate_s", "train_s", "total_s", "peak_rss_mb"):
            assert result["timing"][k] is not None and result["timing"][k] >= 0
        assert result["history"], "no evaluation history"
        json.dumps(result, allow_nan=False)  # result.json is strict JSON
