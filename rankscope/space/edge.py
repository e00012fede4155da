"""Sites and edges: the vocabulary of a search space.

A **site** is a tensor in one forward pass, named ``<module path>:in`` (the first input of the
module) or ``<module path>:out`` (its output). An **edge** is a candidate low-rank map from a
source site to a target site, added to the target::

                x_src ──► A (r × d_in) ──► B (d_out × r) ──► · α/r ──┐
                                                                     ▼
       ... ──► [target module] ──► y_dst ───────────────────────► y_dst + Δ

``kind="lora"`` when source and target are the input and output of the same linear layer (classic
LoRA); ``kind="shortcut"`` for any other pair.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from rankscope.errors import SpaceError
from rankscope.space.cost import edge_cost

SIDES = ("in", "out")
_ID_RE = re.compile(r"^[A-Za-z0-9_@:+\-/]+$")


def site(module_path: str, side: str) -> str:
    """Build a site name, e.g. ``site("bert.encoder.layer.0", "in")``."""
    if side not in SIDES:
        raise SpaceError(f"site side must be one of {SIDES}, got {side!r}")
    return f"{module_path}:{side}"


def parse_site(name: str) -> tuple[str, str]:
    """Split ``"<module path>:<in|out>"`` into (module path, side)."""
    path, sep, side = name.rpartition(":")
    if not sep or side not in SIDES:
        raise SpaceError(f"site {name!r} must look like '<module path>:in' or '<module path>:out'")
    return path, side


@dataclass(frozen=True)
class Edge:
    """One candidate adapter. ``cost(rank, form)`` is its parameter count at a rank."""

    id: str
    kind: str  # "lora" | "shortcut"
    src: str
    dst: str
    d_in: int
    d_out: int
    max_rank: int
    layer: int
    type: str  # grouping label for reports: query, value, ffn_out, R1, S2, ...

    def __post_init__(self):
        if not _ID_RE.match(self.id):
            raise SpaceError(
                f"edge id {self.id!r} is invalid: use letters, digits and _ @ : + - / (no dots)"
            )
        if self.kind not in ("lora", "shortcut"):
            raise SpaceError(f"edge {self.id!r}: kind must be 'lora' or 'shortcut', got {self.kind!r}")
        parse_site(self.src)
        parse_site(self.dst)
        if self.src == self.dst:
            raise SpaceError(f"edge {self.id!r}: source and target are the same site {self.src!r}")
        if self.d_in <= 0 or self.d_out <= 0 or self.max_rank <= 0:
            raise SpaceError(f"edge {self.id!r}: d_in, d_out and max_rank must be positive")

    def cost(self, rank: int, form: str = "lora") -> int:
        return edge_cost(self.d_in, self.d_out, rank, form)

    @property
    def module(self) -> str | None:
        """The module a LoRA edge adapts (its input → its output), or ``None`` for an edge that
        joins two different points (a shortcut): the edges a weight merge or PEFT can hold."""
        path = parse_site(self.src)[0]
        return path if self.kind == "lora" and parse_site(self.dst)[0] == path else None

    def to_dict(self) -> dict:
        return asdict(self)
