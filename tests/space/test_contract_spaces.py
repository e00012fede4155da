"""Every built-in search space passes the public SpaceContract (rankscope.testing), on a tiny
random encoder (tiny-bert) and decoder (tiny-llama).

One class per space, written out: :func:`test_the_builtin_spaces_are_all_covered` holds them
against the ``rankscope.search_spaces`` entry points that ``pyproject.toml`` declares, so a new
built-in space without a contract class here fails."""

from conftest import assert_contracts_cover

from rankscope.registry import SPACES
from rankscope.testing import SpaceContract


class TestSpace_lora(SpaceContract):
    space = "lora"


class TestSpace_lora_qv(SpaceContract):
    space = "lora-qv"


class TestSpace_shortcuts(SpaceContract):
    space = "shortcuts"


def test_the_builtin_spaces_are_all_covered():
    assert_contracts_cover("rankscope.search_spaces", SpaceContract, "space", globals(), SPACES)