"""Reading a run's ``result`` dict: the accessors the tables and the figures share.

A ``result`` is what a run writes to ``result.json``. Its generic part, the only part the report
package reads (an allocator family's record, ``extras.allocator``, is read by that family's
:class:`~rankscope.allocators.report.ReportSection`)::

    {"space": "shortcuts", "allocator": "proxy-static", "model": "minilm", "task": "mrpc",
     "seed": 0, "status": "completed" | "failed", "failure": {"reason": "..."} | None,
     "budget": {"spec": "r2", "params": 512}, "head_params": 770,
     "allocation": {"params": 480, "edges": [{"id", "kind", "type", "layer", "rank", "params"}]},
     "metrics": {"primary": "accuracy", "final": {name: value}, "best": {name: value, "step": n}},
     "baseline": {"uniform": {"metrics": ..., "params": ..., "allocation": ...}},
     "timing": {"allocate_s", "train_s", "total_s", "peak_rss_mb"},
     "history": [{"step": 50, "dev": {name: value}}, ...], "extras": {"planted": {...}, ...}}

Every accessor tolerates a missing key (a failed run's result may hold little more than its
failure), returning ``None``, ``{}`` or ``[]``. The figures read their numbers through these
accessors and :func:`rank_grid`, so plots and tables agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from rankscope.display.tables import is_number, text

BASELINE = "uniform"
TYPE_ORDER = ("query", "key", "value", "qkv", "attn_out", "gate", "ffn_in", "ffn_out",
              "R1", "R2", "S1", "S2")  # user-defined types follow, in order of appearance


def baseline(result: dict) -> dict:
    """The uniform-baseline record (``{}`` when the run has none)."""
    return (result.get("baseline") or {}).get(BASELINE) or {}


def edges_of(record: dict) -> list:
    """The edge records of a result or baseline record (``[]`` when it has no allocation)."""
    return (record.get("allocation") or {}).get("edges") or []


def used_params(record: dict):
    """Adapter parameters an allocation uses: its ``params``, else the sum over its edges."""
    alloc = record.get("allocation") or {}
    if is_number(alloc.get("params")):
        return alloc["params"]
    if is_number(record.get("params")):
        return record["params"]
    counts = [e.get("params") for e in edges_of(record)]
    return sum(counts) if counts and all(map(is_number, counts)) else None


def primary_metric(record: dict):
    """``(name, final, best)`` of the primary metric; parts are ``None`` when missing."""
    m = record.get("metrics") or {}
    name = m.get("primary")
    return name, (m.get("final") or {}).get(name), (m.get("best") or {}).get(name)


def failure_reason(result: dict):
    """Why the run failed, or ``None`` when it did not."""
    failure = result.get("failure")
    if result.get("status") != "failed" and not failure:
        return None
    reason = failure.get("reason") if isinstance(failure, dict) else failure
    return text(reason) if reason else "no reason recorded"


def header_fields(result: dict) -> list:
    """``(label, value)`` pairs that open every report."""
    keys = ("space", "allocator", "model", "task", "seed", "status")
    fields = [(k, text(result.get(k))) for k in keys]
    if result.get("rankscope_version"):
        fields.append(("rankscope", text(result["rankscope_version"])))
    return fields


def report_title(result: dict) -> str:
    return f"rankscope report: {text(result.get('space'))} / {text(result.get('allocator'))}"


def comparison_title(results: list) -> str:
    return f"rankscope comparison of {len(results)} run{'s' * (len(results) != 1)}"


def run_name(result: dict, index: int) -> str:
    """A run's label in comparisons: ``result["run_name"]``, else its 1-based position."""
    return text(result["run_name"]) if result.get("run_name") else f"#{index + 1}"


# ------------------------------------------------------------------------------- the rank grid
@dataclass(frozen=True)
class RankGrid:
    """Ranks summed per (block, edge type) cell; ``blocks`` sorted, ``None`` (no block) last."""

    blocks: list
    types: list
    cells: dict  # (block, type) -> summed rank; absent key = no edge of that type there

    def type_totals(self) -> dict:
        return {t: sum(r for (_, ty), r in self.cells.items() if ty == t) for t in self.types}


def _type_key(types):
    seen = {t: i for i, t in enumerate(dict.fromkeys(types))}
    return lambda t: (TYPE_ORDER.index(t) if t in TYPE_ORDER else len(TYPE_ORDER) + seen[t])


def _block_key(block):  # int blocks in order, then other labels, then None (outside blocks)
    is_int = isinstance(block, int)
    return (block is None, not is_int, block if is_int else str(block))


def rank_grid(edges: list) -> RankGrid:
    """Group edge records by (layer, type), summing the ranks of edges that share a cell."""
    cells: dict = {}
    for e in edges:
        cell = (e.get("layer"), text(e.get("type")))
        cells[cell] = cells.get(cell, 0) + (e.get("rank") or 0)
    types = [t for _, t in cells]
    return RankGrid(blocks=sorted({b for b, _ in cells}, key=_block_key),
                    types=sorted(set(types), key=_type_key(types)), cells=cells)
