"""The report section of the proxy allocators (``proxy-static`` and ``proxy-dynamic``).

It reads the record :func:`~.select.describe_scores` writes to
``result["extras"]["allocator"]``::

    {"proxy": "grad_norm", "used_proxy": "grad_norm", "granularity": "edge", "rank_on": 8,
     "options": {"n_batches": "auto", ...}, "scoring_batches": 8, "scoring_s": 0.52,
     "rank_spearman_proxy_vs_alloc": 0.9,
     "scores": {proxy: {edge id: score, or [v_1, ..., v_R] for a per-rank proxy}},
     "nan_edges": {proxy: [edge id, ...]},
     # proxy-dynamic only:
     "reallocations": [{"step": 100, "on": [edge id, ...], ...}, ...], "on_counts": {edge id: n}}

and adds

* the **Proxy scoring** table (printed by ``rankscope show`` too): which proxy allocated (after
  the NaN fallback), at what granularity, what scoring cost against training, and how well the
  proxy's edge score agrees with the rank it got (Spearman);
* **per-edge columns** in the generic Edges table: every proxy's score and, for
  ``proxy-dynamic``, how many of the reallocations turned the edge on.
"""

from __future__ import annotations

from rankscope.allocators.report import ReportSection, allocator_record
from rankscope.display.tables import (
    Table,
    fmt_int,
    fmt_metric,
    fmt_pct,
    fmt_seconds,
    text,
)


def score_total(value):
    """An edge's score for display: a per-rank proxy's list (``spectral``) is summed, Σ_k v_k."""
    if isinstance(value, list):
        return sum(x for x in value if x is not None) if value else None
    return value


class ProxySection(ReportSection):
    terminal_keys = ("proxy",)

    def tables(self, result: dict) -> list[Table]:
        rec = allocator_record(result)
        return [self.proxy_table(result, rec)] if rec.get("scores") else []

    def proxy_table(self, result: dict, rec: dict) -> Table:
        """How a proxy allocator decided: proxy, granularity, scoring cost, score-vs-rank agreement."""
        train_s = (result.get("timing") or {}).get("train_s")
        opts = rec.get("options") or {}
        rows = [["allocating proxy", text(rec.get("proxy"))],
                ["proxy used (after NaN fallback)", text(rec.get("used_proxy"))],
                ["granularity", text(rec.get("granularity"))],
                ["rank when on", fmt_int(rec.get("rank_on"))],
                ["scoring batches (K)", fmt_int(rec.get("scoring_batches") or opts.get("n_batches"))],
                ["scoring time (s)", fmt_seconds(rec.get("scoring_s"))],
                ["scoring time / training time", fmt_pct(rec.get("scoring_s"), train_s)],
                ["Spearman(proxy score, allocated rank)", fmt_metric(rec.get("rank_spearman_proxy_vs_alloc"))]]
        if rec.get("reallocations") is not None:
            rows.append(["reallocations", fmt_int(len(rec["reallocations"]))])
        for name, bad in (rec.get("nan_edges") or {}).items():
            rows.append([f"non-finite scores ({text(name)})", text(", ".join(map(str, bad)))])
        return Table("proxy", "Proxy scoring", ["", "value"], rows)

    def edge_columns(self, result: dict) -> Table | None:
        """``<proxy> score`` per proxy, then ``times on (of N)`` for a dynamic run."""
        rec = allocator_record(result)
        proxies = rec.get("scores") or {}
        on_counts = rec.get("on_counts") or {}
        if not proxies and not on_counts:
            return None
        head = ["id"] + [f"{text(name)} score" for name in proxies]
        if on_counts:
            head.append(f"times on (of {len(rec.get('reallocations') or [])})")
        ids = list(dict.fromkeys([eid for scores in proxies.values() for eid in scores] + list(on_counts)))
        rows = []
        for eid in ids:
            row = [text(eid)] + [fmt_metric(score_total(scores.get(eid))) for scores in proxies.values()]
            if on_counts:
                row.append(fmt_int(on_counts.get(eid)))
            rows.append(row)
        per_rank = any(isinstance(v, list) for scores in proxies.values() for v in scores.values())
        return Table("edge_scores", "Proxy scores per edge", head, rows,
                     "per-rank proxies show Σ_k v_k" if per_rank else "")

