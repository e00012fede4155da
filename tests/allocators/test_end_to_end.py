"""End to end, slow: every built-in allocator (every ``rankscope.allocators`` entry point that
``pyproject.toml`` declares) through ``run_search`` twice, each time in a fresh session (model,
planted task, harness and baselines rebuilt from the config) with the planted disk cache off, on
the tiny planted task: a run, its baselines included, is a function of its config alone.

The fast contract (``rankscope.testing.AllocatorContract``) also runs two fresh sessions, but
reads the second run's baselines back from the planted cache; here they are trained again."""

import pytest
from conftest import declared_entry_points

from rankscope.allocators import ALLOCATORS
from rankscope.testing import run_small

BUILT_IN = sorted(declared_entry_points("rankscope.allocators"))
# cheap options per allocator, one entry for every built-in one ({} when its defaults are cheap)
OPTIONS = {
    "uniform": {},
    "proxy-static": {"n_batches": 2},
    "proxy-dynamic": {"n_batches": 2},
    "proxy-greedy": {"n_batches": 2, "round_steps": 2},
    "proxy-grow": {"n_batches": 2, "round_steps": 2, "rounds": 4},
    "salient": {},
    "adalora": {},
    "sparse": {},
    "optuna": {"n_trials": 3, "trial_steps": 4, "warm_start": False},
}


def test_every_builtin_allocator_has_a_case():
    assert set(OPTIONS) == set(BUILT_IN), (f"allocators without a case in OPTIONS: {sorted(set(BUILT_IN) - set(OPTIONS))};"
                                           f" cases for undeclared allocators: {sorted(set(OPTIONS) - set(BUILT_IN))}")


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILT_IN)
def test_a_run_is_a_function_of_its_config(name, monkeypatch):
    assert name in ALLOCATORS.names()
    monkeypatch.setenv("RANKSCOPE_CACHE", "off")  # the second run trains its baselines again
    (r1, a1, _), (r2, a2, _) = (run_small(name, OPTIONS[name]) for _ in range(2))
    assert r1["status"] == r2["status"] == "completed", (r1.get("failure"), r2.get("failure"))
    assert a1 == a2 and 0 < a1.params <= r1["budget"]["params"]
    assert r1["metrics"] == r2["metrics"] and r1["history"] == r2["history"]
    assert r1["baseline"] == r2["baseline"]
    planted = r1["extras"]["planted"]
    assert planted["r2_uniform"] == r2["extras"]["planted"]["r2_uniform"]
    assert planted["r2_oracle"] == r2["extras"]["planted"]["r2_oracle"]
    assert planted["gap_closed"] == r2["extras"]["planted"]["gap_closed"]
