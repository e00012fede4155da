"""Validated, entry-point-backed registries (search spaces, allocators, proxies, tasks, models).

A registry is filled from a Python entry-point group the first time it is read, so a third-party
package adds a search space exactly like the built-ins do::

    # pyproject.toml of the plugin
    [project.entry-points."rankscope.search_spaces"]
    my-space = "my_pkg.spaces:build_my_space"

or at run time with ``rs.register_space("my-space", build_my_space)``. Names are validated, and
an unknown name raises an :class:`InputError` that lists the valid ones (the CLI's choices are
these lists, and a test asserts it).
"""

from __future__ import annotations

import logging
import re
from importlib.metadata import entry_points

from rankscope.errors import InputError

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


class Registry:
    def __init__(self, group: str, kind: str):
        self.group, self.kind = group, kind
        self._items: dict[str, object] = {}
        self._entry_points: dict[str, object] = {}
        self._scanned = False

    def _scan(self):
        if self._scanned:
            return
        self._scanned = True
        for ep in entry_points(group=self.group):
            if _NAME.match(ep.name):
                self._entry_points.setdefault(ep.name, ep)
            else:
                log.warning("ignoring %s entry point with invalid name %r", self.kind, ep.name)

    def register(self, name: str, obj=None, *, overwrite: bool = False):
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is omitted."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputError(
                f"invalid {self.kind} name {name!r}: use lowercase letters, digits, '-', '_' or '.'"
            )

        def deco(o):
            self._scan()
            if not overwrite and (name in self._items or name in self._entry_points):
                existing = self._items.get(name) or self._entry_points.get(name)
                if existing is not o:
                    raise InputError(f"{self.kind} {name!r} is already registered; pass overwrite=True")
            self._items[name] = o
            return o

        return deco if obj is None else deco(obj)

    def unregister(self, name: str) -> None:
        """Forget what :meth:`register` put under ``name`` (tests and notebooks undo their
        registrations). An entry point of that name stays: the next :meth:`get` loads it again."""
        self._scan()
        if name not in self._items and name not in self._entry_points:
            raise InputError(f"{self.kind} {name!r} is not registered")
        self._items.pop(name, None)

    def names(self) -> list[str]:
        self._scan()
        return sorted(set(self._items) | set(self._entry_points))

    def get(self, name: str):
        self._scan()
        if name in self._items:
            return self._items[name]
        if name in self._entry_points:
            obj = self._entry_points[name].load()
            self._items[name] = obj
            return obj
        raise InputError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names()) or '(none)'}")

    def __contains__(self, name):
        return name in self.names()


SPACES = Registry("rankscope.search_spaces", "search space")


def register_space(name: str, builder=None, *, overwrite: bool = False):
    """Register ``builder(model, **options) -> SearchSpace`` under ``name``."""
    return SPACES.register(name, builder, overwrite=overwrite)
