"""Which :class:`~rankscope.allocators.report.ReportSection` a result gets.

The allocator class registered under ``result["allocator"]`` declares it (``report_section``, a
class attribute every :class:`~rankscope.allocators.Allocator` has). A result whose allocator is
not installed (a result file from another machine, a plugin since removed, a module that no
longer imports) gets the default, empty section, so its generic part still renders::

    >>> section_of({"allocator": "no-such-allocator"}).tables({})
    []
"""

from __future__ import annotations

import logging

from rankscope.allocators import ALLOCATORS, Allocator
from rankscope.allocators.report import ReportSection

log = logging.getLogger(__name__)
DEFAULT = ReportSection()


def section_of(result: dict) -> ReportSection:
    """The report section of the allocator that produced ``result`` (the default when unknown)."""
    name = result.get("allocator")
    if not isinstance(name, str) or name not in ALLOCATORS:
        return DEFAULT
    try:
        cls = ALLOCATORS.get(name)
    except ImportError as err:  # registered by an entry point whose package is broken or gone
        log.warning("allocator %r does not import (%s); its report section is left out", name, err)
        return DEFAULT
    return cls.report_section if isinstance(cls, type) and issubclass(cls, Allocator) else DEFAULT
