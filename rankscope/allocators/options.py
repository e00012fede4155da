"""The base of every allocator's option dataclass: built from ``--option`` keywords, checked on
construction, and every mistake an :class:`~rankscope.errors.InputError` that names the option
and the valid choices (so the CLI exits 2 before any model is loaded)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rankscope.errors import InputError


@dataclass
class AllocatorOptions:
    """Subclass as a ``@dataclass``; set ``label`` and override :meth:`checks`."""

    label = "allocator"

    def checks(self) -> list[tuple[bool, str]]:
        """``(condition, message)`` pairs; a false condition raises with its message."""
        return []

    def __post_init__(self):
        for ok, msg in self.checks():
            if not ok:
                raise InputError(f"{self.label} option: {msg}")

    @classmethod
    def from_kwargs(cls, **kw):
        try:
            return cls(**kw)
        except TypeError as exc:
            raise InputError(f"{cls.label} options: {exc}; valid options: "
                             f"{', '.join(cls.__dataclass_fields__)}") from None

    def to_dict(self) -> dict:
        return asdict(self)


def init_rank_check(value) -> tuple[bool, str]:
    """The one check of an SVD supernet's r₀ (``init_rank``): unset (4 × uniform) or an integer ≥ 1."""
    ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
    return ok, f"init_rank must be an integer >= 1, got {value!r}"


def steps_option(value, total: int, name: str) -> int:
    """An option given as steps (int ≥ 0) or as a fraction of the run (float in [0, 1))."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name} must be a number of steps (int) or a fraction of the run in [0, 1), got {value!r}")
    if isinstance(value, float):
        if not 0.0 <= value < 1.0:
            raise InputError(f"{name} as a fraction of the run must be in [0, 1), got {value}")
        return int(round(value * total))
    if value < 0:
        raise InputError(f"{name} must be >= 0 steps, got {value}")
    return value
