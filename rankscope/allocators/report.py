"""How an allocator family adds its own part to a run's report.

The generic report (:mod:`rankscope.report`) knows no allocator's private keys. It lays out the
tables every run has (budget, metrics, ranks, edges, timing), and asks the allocator class named
in ``result["allocator"]`` for its ``report_section`` to fill in the rest::

    Markdown, HTML:  Budget, Metrics, Planted, [section.tables], Ranks, Ranks of uniform,
                     Edges + [section.edge_columns], Timing
    HTML figures:    budget, dev curve, rank heatmap, rank per type vs uniform, [section.figures]
    terminal:        Budget, Metrics, Planted, Ranks, Ranks of uniform, Timing, and the
                     section tables whose key is in [section.terminal_keys]

The uniform allocation shown beside the chosen one is the trained baseline's, else
``section.uniform_edges(result)``.

A section reads only its own family's record, ``result["extras"]["allocator"]``
(:func:`allocator_record`), and returns display-ready :class:`rankscope.display.tables.Table` objects,
every cell formatted by the :mod:`rankscope.display.tables` formatters (and plotly figures styled with
:mod:`rankscope.display.plots`)::

    class PruningSection(ReportSection):
        def tables(self, result):
            events = allocator_record(result).get("prune_events") or []
            return [Table("pruning", "Pruning", ["step", "params kept"],
                          [[fmt_int(e.get("step")), fmt_int(e.get("params"))] for e in events])]

    class SalientAllocator(Allocator):
        name = "salient"
        report_section = PruningSection()

A missing key must render as a dash, never raise: reports are also drawn for failed runs, whose
record may be empty. A result whose allocator is not installed gets the default, empty section,
so its generic part still renders.

Sections live beside their allocators, so this module (and every section) must not import
:mod:`rankscope.report`, which imports the allocators.
"""

from __future__ import annotations

from rankscope.display.tables import Table


def allocator_record(result: dict) -> dict:
    """The allocator family's own record, ``result["extras"]["allocator"]`` (``{}`` when absent)."""
    return (result.get("extras") or {}).get("allocator") or {}


class ReportSection:
    """The default section: nothing beyond the generic report. Override any of the four."""

    terminal_keys: tuple[str, ...] = ()
    """Keys of this section's tables that ``rankscope show`` prints too (the others are for the
    Markdown and HTML reports only)."""

    def tables(self, result: dict) -> list[Table]:
        """The family's tables, shown after the generic metrics and before the rank tables."""
        return []

    def figures(self, result: dict) -> list:
        """Plotly figures for the HTML report, after the generic ones."""
        return []

    def edge_columns(self, result: dict) -> Table | None:
        """Extra per-edge columns for the generic Edges table, or ``None``.

        A table whose first column is the edge id (as ``text(id)`` shows it); its other columns
        are appended to the Edges table, rows joined on the id (an edge without a row shows
        ``—``), and its note is printed under the Edges table. Its key and title name it; the
        report does not show it alone.
        """
        return None

    def uniform_edges(self, result: dict) -> list[dict]:
        """The uniform allocation at the same budget, for a family that knows it although the run
        trained no uniform baseline: ``result["allocation"]``'s edge records with their ``rank``
        replaced (and ``params`` set to ``None``). The report shows it beside the chosen
        allocation exactly like a trained baseline's; a trained baseline takes precedence.
        Default: ``[]``."""
        return []
