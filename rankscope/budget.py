"""Budget: a number of trainable adapter parameters (the task head is counted separately).

Accepted forms: ``"250k"``, ``"1.2M"``, ``300000`` (or ``"300000"``), and ``"rN"``, meaning the
cost of rank N on every edge of the space (so ``"r2"`` is the budget of uniform rank 2).
A budget below the cheapest non-empty allocation (one rank on the cheapest edge) is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BudgetError

_NUM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$")
_RANK = re.compile(r"^\s*r(\d+)\s*$")
_MULT = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}
FORMS_HELP = "'250k', '1.2M', '300000' or 'rN' (uniform rank N on every edge, e.g. 'r2')"


@dataclass(frozen=True)
class Budget:
    params: int
    spec: str

    @classmethod
    def parse(cls, spec, space, form: str = "lora") -> "Budget":
        text = str(spec)
        if isinstance(spec, bool):
            raise BudgetError(f"budget {spec!r} does not parse; use {FORMS_HELP}")
        m = _RANK.match(text)
        if m:
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
        return cls(params=params, spec=text.strip())

    def to_dict(self) -> dict:
        return {"spec": self.spec, "params": self.params}
