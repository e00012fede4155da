"""Budget: a number of trainable adapter parameters (the task head is counted separately).

Accepted forms: ``"250k"``, ``"1.2M"``, ``300000`` (or ``"300000"``), and ``"rN"``, meaning the
cost of rank N on every edge of the space (so ``"r2"`` is the budget of uniform rank 2).
A budget below the cheapest non-empty allocation (one rank on the cheapest edge) is an error, and
so is one above what the space can hold (every edge at its ``max_rank``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rankscope.errors import BudgetError

_NUM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$")
_RANK = re.compile(r"^\s*r(\d+)\s*$")
_MULT = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}
FORMS_HELP = "'250k', '1.2M', '300000' or 'rN' (uniform rank N on every edge, e.g. 'r2')"


@dataclass(frozen=True)
class Budget:
    params: int
    spec: str

    @staticmethod
    def check_syntax(spec) -> None:
        """Refuse a budget that does not parse, before any space exists (``rankscope.search.validate``)."""
        if isinstance(spec, bool) or not (_RANK.match(str(spec)) or _NUM.match(str(spec))):
            raise BudgetError(f"budget {spec!r} does not parse; use {FORMS_HELP}")

    @classmethod
    def parse(cls, spec, space, form: str = "lora") -> "Budget":
        text = str(spec)
        cls.check_syntax(spec)
        m = _RANK.match(text)
        if m:
            top = max(e.max_rank for e in space.edges)
            if int(m.group(1)) > top:
                raise BudgetError(f"budget {text!r} asks for rank {int(m.group(1))} on every edge, but the edges of "
                                  f"space {space.name!r} hold at most rank {top}; use r1 … r{top}, or raise --max-rank")
            params = space.uniform_cost(int(m.group(1)), form)
        else:
            m = _NUM.match(text)
            if not m:
                raise BudgetError(f"budget {text!r} does not parse; use {FORMS_HELP}")
            params = int(round(float(m.group(1)) * _MULT[m.group(2).lower()]))
        floor = space.min_nonempty_cost(form)
        if params < floor:
            raise BudgetError(
                f"budget {text!r} = {params:,} parameters is below the cheapest non-empty "
                f"allocation of space {space.name!r} ({floor:,} parameters: rank 1 on its "
                f"cheapest edge)"
            )
        capacity = space.capacity(form)
        if params > capacity:
            raise BudgetError(
                f"budget {text!r} = {params:,} parameters is above what space {space.name!r} can hold "
                f"({capacity:,} parameters: every edge at its max rank); lower the budget or raise --max-rank"
            )
        return cls(params=params, spec=text.strip())

    def to_dict(self) -> dict:
        return {"spec": self.spec, "params": self.params}
