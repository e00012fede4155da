"""SearchResult: what one run returns; ``result.json`` is its serialisation (schema 1).

Layout (docs/architecture.md, "The data flow")::

    schema, rankscope_version, run_name
    space, allocator, model, task, seed, status ("completed" | "failed"), failure {reason}
    scaling, dtype                                the LoRA form's rule, the frozen base's dtype
    budget      {spec, params}
    allocation  {params, form, edges: [{id, kind, type, layer, src, dst, rank, params}]}
    num_labels, head_params                       the task head, outside the budget
    metrics     {primary, greater_is_better, final, best}
    baseline    {uniform: {metrics, params, allocation, lr}}   (lr: the one it trained at)
    timing      {allocate_s, train_s, total_s, peak_rss_mb}
    history     [{step, train_loss, lr, dev}]
    extras      {allocator: its record, train_steps, world_size, planted: …}

:meth:`SearchResult.from_dict` reads any schema-1 file (``greater_is_better`` was added later
and defaults to true, as every schema-1 objective was) and refuses what is not a result.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING

from rankscope._version import __version__
from rankscope.errors import InputError

if TYPE_CHECKING:  # annotations only
    from rankscope.allocation.allocation import Allocation

SCHEMA = 1
REQUIRED = ("space", "allocator", "model", "task", "budget", "allocation", "metrics")


def allocation_record(alloc) -> dict:
    """An :class:`~rankscope.Allocation` as ``result.json`` stores it: one record per edge."""
    return {"params": alloc.params, "form": alloc.form, "edges": [
        {"id": e.id, "kind": e.kind, "type": e.type, "layer": e.layer, "src": e.src, "dst": e.dst,
         "rank": alloc.ranks[e.id], "params": e.cost(alloc.ranks[e.id], alloc.form)} for e in alloc.space.edges]}


def metrics_record(objective, outcome=None) -> dict:
    """``{primary, greater_is_better, final, best}`` of a training outcome (empty when none)."""
    return {"primary": objective.primary, "greater_is_better": bool(objective.greater_is_better),
            "final": dict(outcome.final) if outcome else {}, "best": dict(outcome.best) if outcome else {}}


def finite(x):
    """JSON-safe numbers: NaN/inf become None (result.json is strict JSON)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    return x


# what each key of a result holds where present (``None``: a run may leave it empty); the
# reports read these shapes, so a file that breaks them is refused, never half-rendered
_NAMES = {"str": str, "int": int, "float": (int, float), "object": dict, "list": list}
SHAPE = {"space": "str", "allocator": "str", "model": "str", "task": "str", "seed": "int", "status": "str",
         "budget": "object", "allocation": "object", "metrics": "object", "baseline": "object",
         "timing": "object", "history": "list", "extras": "object", "failure": "object|None",
         "num_labels": "int|None", "head_params": "int", "run_name": "str|None", "dtype": "str|None"}
NESTED = {("budget", "params"): "float", ("budget", "spec"): "str", ("allocation", "edges"): "list",
          ("allocation", "params"): "float|None", ("metrics", "primary"): "str|None",
          ("metrics", "final"): "object|None", ("metrics", "best"): "object|None",
          ("metrics", "greater_is_better"): "bool"}
STATUSES = ("completed", "failed")
WORDS = {"str": "a string", "int": "an integer", "float": "a number", "object": "an object", "list": "a list",
         "bool": "true or false", "None": "null"}


def _fits(value, shape: str) -> bool:
    for name in shape.split("|"):
        if name == "None" and value is None or name == "bool" and isinstance(value, bool):
            return True
        if name in _NAMES and isinstance(value, _NAMES[name]) and not isinstance(value, bool):
            return True
    return False


def _check_shape(data: dict, source: str) -> None:
    """Refuse a result whose keys do not hold what :data:`SHAPE` and :data:`NESTED` say."""
    def refuse(what: str, shape: str, value) -> None:
        valid = " or ".join(WORDS[s] for s in shape.split("|"))
        raise InputError(f"{source} is not a rankscope result: {what} must be {valid}, got {value!r:.60}")

    for key, shape in SHAPE.items():
        if key in data and not _fits(data[key], shape):
            refuse(repr(key), shape, data[key])
    for key, sub in (("budget", "params"), ("allocation", "edges")):  # every run writes them
        if sub not in data[key]:
            raise InputError(f"{source} is not a rankscope result: {key} has no {sub!r} (got {data[key]!r:.60})")
    for (key, sub), shape in NESTED.items():
        if sub in data[key] and not _fits(data[key][sub], shape):
            refuse(f"{key}.{sub}", shape, data[key][sub])
    if data.get("status", "completed") not in STATUSES:
        raise InputError(f"{source} is not a rankscope result: status must be one of {', '.join(STATUSES)}, "
                         f"got {data['status']!r}")
    for key, items in (("allocation.edges", data["allocation"].get("edges", [])), ("history", data.get("history", [])),
                       ("baseline", list((data.get("baseline") or {}).values()))):
        bad = next((item for item in items if not isinstance(item, dict)), None)
        if bad is not None:
            refuse(f"every entry of {key}", "object", bad)


@dataclass
class SearchResult:
    space: str
    allocator: str
    model: str
    task: str
    seed: int
    budget: dict
    allocation: dict
    metrics: dict
    status: str = "completed"
    failure: dict | None = None
    num_labels: int | None = None
    # the LoRA form's scaling rule: "lora" (alpha/r) or "rslora" (alpha/sqrt(r)); SVD-form
    # adapters keep their fixed alpha/r0 whatever it says
    scaling: str | None = None
    # the frozen base's dtype (--dtype): a base rebuilt for these adapters loads in it; None in
    # results written before the setting existed (float32)
    dtype: str | None = None
    head_params: int = 0
    baseline: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    extras: dict = field(default_factory=dict)
    run_name: str | None = None
    schema: int = SCHEMA
    rankscope_version: str = __version__
    # the final Allocation object, for the caller that ran it (not serialised)
    final: Allocation | None = field(default=None, repr=False, compare=False)

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def primary_value(self):
        """The final value of the primary metric (``None`` for a failed run)."""
        return self.metrics.get("final", {}).get(self.metrics.get("primary"))

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("final")
        if data["run_name"] is None:
            data.pop("run_name")
        return finite(data)

    @classmethod
    def from_dict(cls, data, source: str = "result") -> "SearchResult":
        """Read a ``result.json`` dict of schema 1; anything else is an InputError."""
        if not isinstance(data, dict):
            raise InputError(f"{source} is not a rankscope result: expected a JSON object, got {type(data).__name__}")
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise InputError(f"{source} is not a rankscope result: missing {', '.join(missing)}")
        if data.get("schema", SCHEMA) != SCHEMA:
            raise InputError(f"{source} has result schema {data.get('schema')!r}; this rankscope reads schema {SCHEMA}")
        _check_shape(data, source)
        known = {f.name for f in fields(cls)} - {"final"}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs.setdefault("seed", 0)
        kwargs["metrics"] = {"greater_is_better": True, **data["metrics"]}
        return cls(**kwargs)
