"""The allocator contract: budget, determinism, JSON round trip, metrics and timing."""

from __future__ import annotations

import json

import pytest

SMALL_RUN = dict(model="tiny-bert", task="planted", max_steps=12, eval_every=6,
                 planted={"n_train": 64, "n_dev": 32, "seq_len": 12, "n_plants": 4})


def small_config(allocator: str, options: dict | None = None, seed: int = 0, **overrides):
    """The resolved config of a tiny deterministic search (2-layer random BERT, planted, 12 steps)."""
    from ..search_config import SearchConfig

    return SearchConfig(allocator=allocator, allocator_options=dict(options or {}), seed=seed,
                        **{**SMALL_RUN, **overrides}).resolved()


def run_small(allocator: str, options: dict | None = None, seed: int = 0, **overrides):
    """A tiny deterministic search; returns (result dict, final Allocation, config)."""
    from ..run import run_search

    cfg = small_config(allocator, options, seed, **overrides)
    result = run_search(cfg, progress=False)
    return result.to_dict(), result.final, cfg


class AllocatorContract:
    """Subclass and set ``allocator`` (and ``options``) to run the contract on it.

    Cheap by design: one tiny session, and the allocator run twice in it with fresh instances
    (the uniform floor and the oracle are trained once: the session caches them)."""

    allocator: str = ""
    options: dict = {}
    space: str = "shortcuts"

    @pytest.fixture(scope="class")
    def runs(self):
        from ..run import run
        from ..session import Session
        from ..validate import validate

        cfg = small_config(self.allocator, self.options, space=self.space)
        session = Session(cfg, progress=False)
        out = []
        for _ in range(2):
            result = run(session, validate(cfg))
            out.append((result.to_dict(), result.final, cfg))
        return out

    def test_budget_respected(self, runs):
        result, final, _ = runs[0]
        assert result["status"] == "completed", result.get("failure")
        assert final.params <= result["budget"]["params"]
        assert result["allocation"]["params"] == final.params
        assert sum(e["params"] for e in result["allocation"]["edges"]) == final.params
        assert final.params > 0

    def test_deterministic_for_a_seed(self, runs):
        (r1, a1, _), (r2, a2, _) = runs
        assert a1 == a2
        assert r1["metrics"]["final"] == r2["metrics"]["final"]

    def test_allocation_json_round_trips(self, runs):
        from ..allocation import Allocation

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
