"""Every built-in search space passes the public SpaceContract (rankscope.testing), on a tiny
random encoder (tiny-bert) and decoder (tiny-llama).

The classes are made from the registry's entry points, so a new built-in space (an entry point
of this distribution) is covered without editing this file; spaces registered at run time by
other tests are not built-ins and are left out."""

from importlib.metadata import distribution

from rankscope.testing import SpaceContract

BUILTIN_SPACES = sorted(ep.name for ep in distribution("rankscope").entry_points
                        if ep.group == "rankscope.search_spaces")


def test_the_builtin_spaces_are_all_covered():
    assert {"lora", "lora-qv", "shortcuts"} <= set(BUILTIN_SPACES)
    covered = {cls.space for name, cls in globals().items() if name.startswith("TestSpace_")}
    assert covered == set(BUILTIN_SPACES)


# one SpaceContract subclass per built-in space (pytest collects the Test* names)
for _name in BUILTIN_SPACES:
    globals()[f"TestSpace_{_name.replace('-', '_')}"] = type(
        f"TestSpace_{_name.replace('-', '_')}", (SpaceContract,), {"space": _name})
