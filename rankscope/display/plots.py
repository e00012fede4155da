"""The one plotly style of rankscope's HTML reports, shared by the generic report and the sections.

Plotly renders a small HTML subset inside titles, tick labels and hover text (``<b>``,
``<br>``, ``<a href>``), so every user-supplied string placed in a figure goes through
:func:`label`: cleaned and password-redacted by :func:`rankscope.display.tables.text`, then
HTML-escaped. Plotly turns the entities back into the literal characters when it draws, so an
edge type named ``<b>`` is shown as ``<b>`` rather than starting bold text::

    >>> label("my<b>type")
    'my&lt;b&gt;type'

:func:`layout` gives every figure the same height and margins. A section's figure is built
like this (and returned from ``ReportSection.figures``)::

    fig = go.Figure(go.Scatter(x=steps, y=values, mode="lines+markers", name=label(metric)))
    layout(fig, f"dev {label(metric)} over training steps", xaxis={"title": {"text": "step"}})

This module is a leaf (it imports only :mod:`rankscope.display.tables` and plotly), so allocator report
sections can use it without importing :mod:`rankscope.report`.
"""

from __future__ import annotations

import html

from rankscope.display.tables import text

HEIGHT = 420  # pixels, every figure of a report
MUTED = "#9aa5b1"  # grey for context (the budget given, all trials behind a Pareto front)


def label(value) -> str:
    """A user-supplied value made safe for plotly's text rendering."""
    return html.escape(text(value))


def layout(fig, title: str, **extra):
    """Title ``fig`` (``title`` must already be made of :func:`label` parts) in the report style;
    ``extra`` goes to ``fig.update_layout`` (axes, ``barmode``, ...). Returns ``fig``."""
    fig.update_layout(title={"text": title}, height=HEIGHT, margin={"t": 60, "l": 60, "r": 20},
                      **extra)
    return fig
