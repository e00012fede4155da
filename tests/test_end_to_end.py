"""End to end, slow: every built-in allocator through ``run_search`` twice, each time in a fresh
session (model, planted task and harness rebuilt from the config), on the tiny planted task.

The fast contract (``rankscope.testing.AllocatorContract``) runs an allocator twice in ONE
session; this checks the stronger property that a run is a function of its config alone."""

import pytest

from rankscope.allocators import ALLOCATORS
from rankscope.testing import run_small

OPTIONS = {"proxy-static": {"n_batches": 2}, "proxy-dynamic": {"n_batches": 2},
           "optuna": {"n_trials": 3, "trial_steps": 4, "warm_start": False}}
BUILT_IN = ("uniform", "proxy-static", "proxy-dynamic", "salient", "adalora", "optuna")


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILT_IN)
def test_a_run_is_a_function_of_its_config(name):
    assert name in ALLOCATORS.names()
    (r1, a1, _), (r2, a2, _) = (run_small(name, OPTIONS.get(name)) for _ in range(2))
    assert r1["status"] == r2["status"] == "completed", (r1.get("failure"), r2.get("failure"))
    assert a1 == a2 and 0 < a1.params <= r1["budget"]["params"]
    assert r1["metrics"] == r2["metrics"]
    planted = r1["extras"]["planted"]
    assert planted["r2_uniform"] == r2["extras"]["planted"]["r2_uniform"]
    assert planted["gap_closed"] == r2["extras"]["planted"]["gap_closed"]
