"""SearchSpace: a networkx multi-digraph of sites (nodes) and candidate edges.

Nodes are site names with a ``width`` attribute; each graph edge is keyed by the candidate's id
and carries the :class:`~rankscope.space.edge.Edge` under ``"edge"``. The graph is plain data: adapter
modules are built from it by :func:`rankscope.attach`, never stored in it.

Validation (:meth:`SearchSpace.validate`) runs before any training and names the offending edge:
ids are unique, sites exist, widths match, and every source is computed before its target.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Iterable

import networkx as nx

from rankscope.errors import SpaceError
from rankscope.space.cost import FORMS, edge_cost
from rankscope.space.edge import Edge


class SearchSpace:
    """A named, validated set of candidate edges over one model's sites."""

    def __init__(self, name: str, edges: Iterable[Edge], *, family: str | None = None):
        edges = list(edges)
        if not edges:
            raise SpaceError(f"search space {name!r} has no edges")
        dup = [i for i, c in Counter(e.id for e in edges).items() if c > 1]
        if dup:
            raise SpaceError(f"search space {name!r}: duplicate edge ids {sorted(dup)}")
        self.name = name
        self.family = family
        self.graph = nx.MultiDiGraph(name=name)
        for e in edges:
            for s, w in ((e.src, e.d_in), (e.dst, e.d_out)):
                if s in self.graph and self.graph.nodes[s]["width"] != w:
                    raise SpaceError(
                        f"edge {e.id!r}: site {s!r} has width {w} here but "
                        f"{self.graph.nodes[s]['width']} on another edge"
                    )
                self.graph.add_node(s, width=w)
            self.graph.add_edge(e.src, e.dst, key=e.id, edge=e)
        self._edges = edges
        self._index = {e.id: i for i, e in enumerate(edges)}

    # ----------------------------------------------------------------------------- access
    @property
    def edges(self) -> list[Edge]:
        return list(self._edges)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self._edges]

    def edge(self, edge_id: str) -> Edge:
        try:
            return self._edges[self._index[edge_id]]
        except KeyError:
            raise SpaceError(f"space {self.name!r} has no edge {edge_id!r}") from None

    def index(self, edge_id: str) -> int:
        return self._index[edge_id]

    def __len__(self):
        return len(self._edges)

    def __contains__(self, edge_id):
        return edge_id in self._index

    @property
    def fingerprint(self) -> str:
        """Short hash of the edge list (ids, sites, widths, max ranks): identifies the space."""
        rows = [(e.id, e.src, e.dst, e.d_in, e.d_out, e.max_rank) for e in self._edges]
        return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]

    # ----------------------------------------------------------------------------- budget
    def cost(self, allocation) -> int:
        """Adapter parameters of an allocation (``Allocation`` or ``{edge_id: rank}``)."""
        ranks = allocation.ranks if hasattr(allocation, "ranks") else allocation
        form = getattr(allocation, "form", "lora")
        return sum(edge_cost(self.edge(i).d_in, self.edge(i).d_out, r, form) for i, r in ranks.items())

    def uniform_cost(self, rank: int, form: str = "lora") -> int:
        return sum(e.cost(min(rank, e.max_rank), form) for e in self._edges)

    def capacity(self, form: str = "lora") -> int:
        return sum(e.cost(e.max_rank, form) for e in self._edges)

    def min_nonempty_cost(self, form: str = "lora") -> int:
        return min(e.cost(1, form) for e in self._edges)

    # ----------------------------------------------------------------------------- validation
    def validate(self, model) -> "SearchSpace":
        """Check sites, widths and forward order against ``model``; return self."""
        from rankscope.space.trace import trace_sites

        seen = trace_sites(model, set(self.graph.nodes))
        for e in self._edges:
            (t_src, w_src), (t_dst, w_dst) = seen[e.src], seen[e.dst]
            if w_src != e.d_in:
                raise SpaceError(f"edge {e.id!r}: d_in={e.d_in} but site {e.src!r} has width {w_src}")
            if w_dst != e.d_out:
                raise SpaceError(f"edge {e.id!r}: d_out={e.d_out} but site {e.dst!r} has width {w_dst}")
            if not t_src < t_dst:
                raise SpaceError(
                    f"edge {e.id!r}: source {e.src!r} is computed after its target {e.dst!r} "
                    "in the forward pass; an edge must point forward"
                )
        return self

    # ----------------------------------------------------------------------------- output
    def summary(self, allocation=None, form: str = "lora") -> str:
        """A fixed-width table of the edges (with ranks and params when given an allocation)."""
        from rankscope.display.tables import format_table

        ranks = allocation.ranks if allocation is not None else None
        form = getattr(allocation, "form", form)
        rows = []
        for e in self._edges:
            row = [e.id, e.kind, e.type, e.layer, e.src, e.dst, f"{e.d_in}x{e.d_out}", e.max_rank]
            if ranks is not None:
                row += [ranks.get(e.id, 0), e.cost(ranks.get(e.id, 0), form)]
            rows.append(row)
        head = ["id", "kind", "type", "layer", "src", "dst", "shape", "max_r"]
        if ranks is not None:
            head += ["rank", "params"]
        kinds = Counter(e.kind for e in self._edges)
        title = (f"space {self.name!r}: {len(self)} edges "
                 f"({kinds.get('lora', 0)} lora, {kinds.get('shortcut', 0)} shortcut), "
                 f"{self.graph.number_of_nodes()} sites")
        if ranks is not None:
            title += f"; allocation params {self.cost(allocation):,}"
        return title + "\n" + format_table(head, rows)

    def to_dict(self) -> dict:
        return {"name": self.name, "family": self.family, "fingerprint": self.fingerprint,
                "edges": [e.to_dict() for e in self._edges]}

    @classmethod
    def from_dict(cls, data: dict) -> "SearchSpace":
        try:
            return cls(data["name"], [Edge(**e) for e in data["edges"]], family=data.get("family"))
        except (KeyError, TypeError) as exc:
            raise SpaceError(f"not a search-space description: {exc}") from None

    def _export_graph(self) -> nx.MultiDiGraph:
        g = nx.MultiDiGraph(name=self.name)
        for n, d in self.graph.nodes(data=True):
            g.add_node(n, width=d["width"])
        for e in self._edges:
            attrs = {k: v for k, v in e.to_dict().items() if k not in ("src", "dst")}
            g.add_edge(e.src, e.dst, key=e.id, label=f"{e.type}@{e.layer}", **attrs)
        return g

    def write_graphml(self, path) -> Path:
        nx.write_graphml(self._export_graph(), str(path))
        return Path(path)

    def write_dot(self, path) -> Path:
        """Graphviz DOT via networkx (pydot-free writer: quoted node and edge attributes)."""
        g = self._export_graph()
        q = lambda s: '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'  # noqa: E731
        lines = [f"digraph {q(self.name)} {{", "  rankdir=TB;"]
        for n, d in g.nodes(data=True):
            label = f"{n} ({d['width']})"
            lines.append(f"  {q(n)} [label={q(label)}];")
        for u, v, k, d in g.edges(keys=True, data=True):
            style = "solid" if d["kind"] == "lora" else "dashed"
            lines.append(f"  {q(u)} -> {q(v)} [key={q(k)}, label={q(d['label'])}, style={style}];")
        lines.append("}")
        Path(path).write_text("\n".join(lines) + "\n")
        return Path(path)

    def __repr__(self):
        return f"SearchSpace({self.name!r}, {len(self)} edges)"


__all__ = ["SearchSpace", "FORMS"]
