"""Display tables: the :class:`Table` value, its cell formatters, and plain-text layout.

A :class:`Table` is a titled grid of *plain* strings: formatted numbers and cleaned text, with
no Markdown, HTML or escaping in them. Whoever builds one (the generic report in
:mod:`rankscope.report.tables`, an allocator family's section in
``rankscope/allocators/*/report.py``) formats every cell through the functions below, and the
renderers only lay cells out and escape them for their medium. So every number is formatted in
one place and the Markdown, HTML and terminal reports cannot disagree::

    >>> t = Table("budget", "Budget", ["", "params"], [["given", fmt_int(118272)], ["used", fmt_int(None)]])
    >>> print(format_table(t.head, t.rows))
           params
    -----  -------
    given  118,272
    used   —

Every user-supplied string goes through :func:`text`, which hides the password of any
``scheme://user:pass@host`` URL (:func:`rankscope.redact.redact_url`) and flattens control
characters, so a name can neither smuggle terminal escape codes nor break a table row. A missing
value renders as :data:`MISSING`, never as an exception: reports are also drawn for failed runs.

This module is a leaf (it imports only :mod:`rankscope.redact`): the allocators' report sections
import it, and the report package imports the allocators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rankscope.redact import redact_url

MISSING = "—"
ABSENT = "·"  # a block that has no edge of this type (rank 0 on a present edge prints "0")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


@dataclass(frozen=True)
class Table:
    """A titled grid of display strings; ``key`` names it for renderers that pick a subset
    (the terminal summary), ``note`` is a line printed under it."""

    key: str
    title: str
    head: list
    rows: list
    note: str = ""


# ------------------------------------------------------------------------------- cell formatting
def text(value) -> str:
    """Any value as a safe display string: ``None`` → ``—``, passwords redacted, one line.

    >>> text("https://bob:pw@hub.example/m\\x1b[31m")
    'https://bob:***@hub.example/m [31m'
    """
    if value is None:
        return MISSING
    return redact_url(_CONTROL.sub(" ", str(value))).strip()


def is_number(value) -> bool:
    """A real int or float (``True`` is not a count)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fmt_int(value) -> str:
    """A count with thousands separators (``118,272``)."""
    return f"{int(round(value)):,}" if is_number(value) else text(value)


def fmt_metric(value) -> str:
    """A metric value to four decimals."""
    return f"{value:.4f}" if is_number(value) else text(value)


def fmt_delta(value, reference) -> str:
    """``value - reference`` with an explicit sign, or ``—`` when either is missing."""
    ok = is_number(value) and is_number(reference)
    return f"{value - reference:+.4f}" if ok else MISSING


def fmt_pct(part, whole) -> str:
    """``part`` as a percentage of ``whole`` (``93.5%``)."""
    ok = is_number(part) and is_number(whole) and whole
    return f"{100.0 * part / whole:.1f}%" if ok else MISSING


def fmt_seconds(value) -> str:
    """A duration in seconds, to the hundredth."""
    return f"{value:.2f}" if is_number(value) else text(value)


# ------------------------------------------------------------------------------- terminal layout
def format_table(head, rows) -> str:
    """Fixed-width plain text: the head, a rule of dashes, then one line per row."""
    cells = [[str(c) for c in head]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]])
