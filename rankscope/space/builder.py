"""Build custom search spaces in Python.

:class:`SpaceBuilder` reads widths from the model's modules and checks everything against one
traced forward pass when you call :meth:`~SpaceBuilder.build` (here on a tiny random BERT; any
supported model works the same)::

>>> import rankscope as rs
>>> model, _ = rs.load_model("tiny-bert")
>>> sm = rs.site_map(model)                       # blocks and their projections
>>> b = rs.SpaceBuilder(model, "ffn-longrange")
>>> for blk in sm.blocks:
...     _ = b.lora(blk.ffn_in, type="ffn_in", layer=blk.index)
...     _ = b.lora(blk.ffn_out, type="ffn_out", layer=blk.index)
>>> last = len(sm.blocks) - 1
>>> _ = b.shortcut(rs.site(sm.blocks[0].path, "in"), rs.site(sm.blocks[last].ffn_out, "out"),
...                type="long", layer=last)
>>> space = b.build()                             # validated SearchSpace
>>> len(space.edges), sorted({e.kind for e in space.edges})
(5, ['lora', 'shortcut'])

Widths of sites that are not linear-layer ends (e.g. a block's input) are read from the trace.
"""

from __future__ import annotations

from rankscope.errors import SpaceError
from rankscope.space.edge import Edge, parse_site, site
from rankscope.space.graph import SearchSpace

DEFAULT_MAX_RANK = 64


def linear_dims(module) -> tuple[int, int]:
    """(d_in, d_out) of ``nn.Linear`` or HF ``Conv1D`` (whose weight is stored d_in × d_out)."""
    if hasattr(module, "in_features") and hasattr(module, "out_features"):
        return int(module.in_features), int(module.out_features)
    if type(module).__name__ == "Conv1D" and hasattr(module, "nf"):
        return int(module.weight.shape[0]), int(module.nf)
    raise SpaceError(f"module {type(module).__name__} is not a linear layer (nn.Linear or Conv1D)")


class SpaceBuilder:
    def __init__(self, model, name: str, *, max_rank: int = DEFAULT_MAX_RANK, family: str | None = None):
        self.model, self.name, self.max_rank, self.family = model, name, max_rank, family
        self._modules = dict(model.named_modules())
        self._pending: list[dict] = []

    def _module(self, path):
        if path not in self._modules:
            close = [n for n in self._modules if n.endswith(path.rsplit(".", 1)[-1])][:3]
            raise SpaceError(f"module path {path!r} matches nothing in the model"
                             + (f"; similar: {close}" if close else ""))
        return self._modules[path]

    def lora(self, module_path: str, *, type: str, layer: int, id: str | None = None,
             max_rank: int | None = None) -> "SpaceBuilder":
        """A classic LoRA edge on linear layer ``module_path`` (its input to its output)."""
        d_in, d_out = linear_dims(self._module(module_path))
        self._pending.append(dict(id=id or f"{type}@{layer}", kind="lora",
                                  src=site(module_path, "in"), dst=site(module_path, "out"),
                                  d_in=d_in, d_out=d_out, max_rank=max_rank or self.max_rank,
                                  layer=layer, type=type))
        return self

    def shortcut(self, src: str, dst: str, *, type: str, layer: int, id: str | None = None,
                 max_rank: int | None = None, d_in: int | None = None,
                 d_out: int | None = None) -> "SpaceBuilder":
        """A low-rank edge from site ``src`` to site ``dst`` (widths read from the trace unless
        given; given widths are checked against it)."""
        for s in (src, dst):
            self._module(parse_site(s)[0])
        self._pending.append(dict(id=id or f"{type}@{layer}", kind="shortcut", src=src, dst=dst,
                                  d_in=d_in, d_out=d_out, max_rank=max_rank or self.max_rank,
                                  layer=layer, type=type))
        return self

    def build(self, validate: bool = True) -> SearchSpace:
        from rankscope.space.trace import trace_sites

        widths = {s: w for s, (_, w) in trace_sites(
            self.model, {p[k] for p in self._pending for k in ("src", "dst")}).items()}
        edges = []
        for p in self._pending:
            p = dict(p)
            p["d_in"] = p["d_in"] or widths[p["src"]]
            p["d_out"] = p["d_out"] or widths[p["dst"]]
            edges.append(Edge(**p))
        space = SearchSpace(self.name, edges, family=self.family)
        return space.validate(self.model) if validate else space
