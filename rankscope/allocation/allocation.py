"""Allocation: ``{edge_id: rank}`` over one search space. Rank 0 means the edge is absent.

It knows its space (to validate ids and ranks and to count parameters through the single cost
function) and its adapter form, and it round-trips through JSON::

    {"schema": 1, "space": "shortcuts", "space_fingerprint": "…", "form": "lora",
     "params": 110592, "ranks": {"query@0": 2, "R1@0": 0, ...}}

A PEFT config becomes one through :func:`rankscope.checkpoints.peft_import.allocation_from_peft`, which
depends on this module (never the reverse).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from rankscope.errors import AllocationError, InputError
from rankscope.space.cost import FORMS

SCHEMA = 1


class Allocation:
    def __init__(self, space, ranks: Mapping[str, int], form: str = "lora"):
        if form not in FORMS:
            raise InputError(f"unknown adapter form {form!r}; valid forms: {', '.join(FORMS)}")
        unknown = sorted(set(ranks) - set(space.ids))
        if unknown:
            raise AllocationError(
                f"allocation names edges that space {space.name!r} does not have: {unknown[:5]}"
                + (" ..." if len(unknown) > 5 else "")
            )
        clean = {}
        for e in space.edges:
            r = ranks.get(e.id, 0)
            if isinstance(r, bool) or int(r) != r:
                raise AllocationError(f"edge {e.id!r}: rank must be an integer, got {r!r}")
            r = int(r)
            if r < 0 or r > e.max_rank:
                raise AllocationError(
                    f"edge {e.id!r}: rank {r} is out of range; valid ranks are 0..{e.max_rank}"
                )
            clean[e.id] = r
        self.space = space
        self.form = form
        self.ranks: dict[str, int] = clean

    # ---------------------------------------------------------------------------- constructors
    @classmethod
    def uniform(cls, space, rank: int, form: str = "lora") -> "Allocation":
        """Rank ``rank`` on every edge (clipped to each edge's max_rank)."""
        if rank < 0:
            raise AllocationError(f"rank must be >= 0, got {rank}")
        return cls(space, {e.id: min(rank, e.max_rank) for e in space.edges}, form)

    @classmethod
    def zeros(cls, space, form: str = "lora") -> "Allocation":
        return cls(space, {}, form)

    # ---------------------------------------------------------------------------- accounting
    @property
    def params(self) -> int:
        """Trainable adapter parameters, counted by the space's single cost function."""
        return self.space.cost(self)

    @property
    def active(self) -> dict[str, int]:
        return {i: r for i, r in self.ranks.items() if r > 0}

    def __getitem__(self, edge_id):
        return self.ranks[edge_id]

    def __eq__(self, other):
        return (isinstance(other, Allocation) and self.ranks == other.ranks
                and self.form == other.form and self.space.fingerprint == other.space.fingerprint)

    def __repr__(self):
        return (f"Allocation({self.space.name!r}, {len(self.active)}/{len(self.ranks)} edges on, "
                f"{self.params:,} params, form={self.form!r})")

    def with_form(self, form: str) -> "Allocation":
        return Allocation(self.space, self.ranks, form)

    # ---------------------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "space": self.space.name,
                "space_fingerprint": self.space.fingerprint, "form": self.form,
                "params": self.params, "ranks": dict(self.ranks)}

    def to_json(self, path=None, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            from rankscope.io import atomic_write_text

            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, data: dict, space) -> "Allocation":
        if not isinstance(data, dict) or "ranks" not in data:
            raise AllocationError("not an allocation: expected a JSON object with a 'ranks' field")
        fp = data.get("space_fingerprint")
        if fp is not None and fp != space.fingerprint:
            raise AllocationError(
                f"allocation was made for space {data.get('space')!r} (fingerprint {fp}), not for "
                f"space {space.name!r} (fingerprint {space.fingerprint}); build the same space on "
                "the same model to load it"
            )
        return cls(space, data["ranks"], data.get("form", "lora"))

    @classmethod
    def from_json(cls, source, space) -> "Allocation":
        """Load from a JSON string or a path to a JSON file."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            try:
                text = Path(source).read_text()
            except OSError as exc:
                raise AllocationError(f"cannot read allocation file {source}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AllocationError(f"allocation JSON does not parse: {exc}") from None
        return cls.from_dict(data, space)
