"""Every built-in search space passes the public SpaceContract (rankscope.testing), on a tiny
random encoder (tiny-bert) and decoder (tiny-llama).

One class per space, written out: :func:`test_the_builtin_spaces_are_all_covered` holds them
against the ``rankscope.search_spaces`` entry points that ``pyproject.toml`` declares, so a new
built-in space without a contract class here fails."""

from conftest import declared_entry_points

from rankscope.registry import SPACES
from rankscope.testing import SpaceContract


class TestSpace_lora(SpaceContract):
    space = "lora"


class TestSpace_lora_qv(SpaceContract):
    space = "lora-qv"


class TestSpace_shortcuts(SpaceContract):
    space = "shortcuts"


def test_the_builtin_spaces_are_all_covered():
    declared = set(declared_entry_points("rankscope.search_spaces"))
    covered = {cls.space for cls in globals().values()
               if isinstance(cls, type) and issubclass(cls, SpaceContract) and cls is not SpaceContract}
    assert covered == declared, (f"spaces without a contract class: {sorted(declared - covered)}; "
                                 f"classes for undeclared spaces: {sorted(covered - declared)}")
    # the registry (installed metadata) offers every declared space: a stale install fails here
    assert declared <= set(SPACES.names()), "reinstall: pip install -e '.[test]'"
