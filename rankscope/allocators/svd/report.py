"""The report section of the in-training SVD allocators (``salient`` and ``adalora``).

Both train a supernet of SVD-form adapters (every edge at r₀) and prune its rank triplets
(P column, λ, Q row) during training. Their record in ``result["extras"]["allocator"]``::

    {"init_rank": 8, "init_params": 4096, "compacted_at": 120,   # compacted_at: salient only
     "prune_events": [{"step": 40, "budget": 3000, "params": 2980, "triplets": 93,
                       "window": 10, "graph_edges": 12, "seconds": 0.03}, ...],
     "mask_events": 160}                                         # adalora: events were sampled

The section adds the **Pruning** table: one row per event with its step, the budget it pruned
to, the parameters and ranks it kept, and for ``salient`` the time window, the number of
dependency edges of its salience graph, and the salience time (AdaLoRA's events have no window).
"""

from __future__ import annotations

from rankscope.allocators.report import ReportSection, allocator_record
from rankscope.display.tables import MISSING, Table, fmt_int, fmt_seconds, text

HEAD = ["step", "budget", "params kept", "ranks kept", "window", "dependency edges", "salience (s)"]


class PruningSection(ReportSection):
    def tables(self, result: dict) -> list[Table]:
        rec = allocator_record(result)
        return [self.pruning_table(rec)] if rec.get("prune_events") else []

    def pruning_table(self, rec: dict) -> Table:
        """Each pruning event, titled with r₀, the supernet's size and when it was compacted."""
        events = rec["prune_events"]
        rows = [[fmt_int(e.get("step")), fmt_int(e.get("budget")), fmt_int(e.get("params")),
                 fmt_int(e.get("triplets")),
                 *((fmt_int(e["window"]), fmt_int(e.get("graph_edges")), fmt_seconds(e.get("seconds")))
                   if e.get("window") else (MISSING,) * 3)] for e in events]
        title = (f"Pruning from r0 = {text(rec.get('init_rank'))} ({fmt_int(rec.get('init_params'))} parameters)"
                 + (f"; compacted after step {fmt_int(rec['compacted_at'])}" if rec.get("compacted_at") else ""))
        total = rec.get("mask_events")
        note = (f"{fmt_int(len(events))} of {fmt_int(total)} masking steps shown"
                if isinstance(total, int) and total > len(events) else "")
        return Table("pruning", title, HEAD, rows, note)
