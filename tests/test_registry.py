"""The registries (rankscope.registry): run-time registration, unregistering, and conftest's
``registered`` fixture, which tests use so that nothing they register outlives them."""

import pytest

from rankscope.errors import InputError
from rankscope.registry import SPACES


def _build(model, **options):
    raise AssertionError("never built")


def test_unregister_forgets_a_run_time_name_and_keeps_entry_points():
    SPACES.register("test-registry-mine", _build)
    assert "test-registry-mine" in SPACES.names() and SPACES.get("test-registry-mine") is _build
    SPACES.unregister("test-registry-mine")
    assert "test-registry-mine" not in SPACES.names()
    with pytest.raises(InputError, match="unknown search space 'test-registry-mine'"):
        SPACES.get("test-registry-mine")
    with pytest.raises(InputError, match="is not registered"):
        SPACES.unregister("test-registry-mine")
    # an entry point overridden at run time comes back when the override is unregistered
    builtin = SPACES.get("lora")
    SPACES.register("lora", _build, overwrite=True)
    try:
        assert SPACES.get("lora") is _build
    finally:
        SPACES.unregister("lora")
    assert "lora" in SPACES.names() and SPACES.get("lora") is builtin


def test_the_registered_fixture_registers_for_one_test(registered):
    assert registered(SPACES, "test-registry-fixture", _build) is _build
    assert SPACES.get("test-registry-fixture") is _build


def test_the_registered_fixture_unregistered_after_its_test():
    # runs after the test above in one process (and holds whatever the order: nothing else registers it)
    assert "test-registry-fixture" not in SPACES.names()
