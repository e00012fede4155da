"""Site maps: where the attention and FFN projections of each block live, per model family.

A :class:`Family` names, relative to a transformer block, the linear layers rankscope can adapt.
Block modules are found by a regular expression on ``model.named_modules()`` names, so the same
family works for a bare backbone (``encoder.layer.3``) and a task model (``bert.encoder.layer.3``).

Families are detected from ``config.model_type``. To support another architecture, register a
family once::

    import rankscope as rs
    rs.register_family(rs.Family(
        name="myformer", model_types=("myformer",),
        block_pattern=r"(?:^|\\.)blocks\\.(\\d+)$",
        modules={"query": "attn.wq", "key": "attn.wk", "value": "attn.wv",
                 "attn_out": "attn.wo", "ffn_in": "mlp.w1", "ffn_out": "mlp.w2"},
        norm="pre"))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rankscope.errors import UnsupportedModelError

# Projection types every family must name; "gate" (gated FFNs) and "qkv" (fused) are optional.
ATTN_TYPES = ("query", "key", "value", "attn_out")
FFN_TYPES = ("ffn_in", "ffn_out")


@dataclass(frozen=True)
class Family:
    """How one model family lays out its blocks.

    ``modules`` maps a projection type to its path relative to the block. Types: ``query``,
    ``key``, ``value`` (or a fused ``qkv``), ``attn_out``, ``gate`` (optional), ``ffn_in``,
    ``ffn_out``. ``norm`` is ``"post"`` (LayerNorm after the residual add: BERT, OPT-350m) or
    ``"pre"`` (LLaMA, GPT-2); it documents where shortcut deltas land, see ``search_spaces``.
    """

    name: str
    model_types: tuple[str, ...]
    block_pattern: str
    modules: dict[str, str] = field(hash=False)
    norm: str = "pre"

    def __post_init__(self):
        missing = [t for t in ("attn_out",) + FFN_TYPES if t not in self.modules]
        has_qkv = all(t in self.modules for t in ("query", "value")) or "qkv" in self.modules
        if missing or not has_qkv:
            raise UnsupportedModelError(
                f"family {self.name!r} must map attn_out, ffn_in, ffn_out and query/value "
                f"(or a fused qkv); missing {missing or ['query/value']}"
            )
        if self.norm not in ("pre", "post"):
            raise UnsupportedModelError(f"family {self.name!r}: norm must be 'pre' or 'post'")


@dataclass(frozen=True)
class Block:
    """Absolute module paths of one block's projections."""

    index: int
    path: str
    modules: dict[str, str] = field(hash=False)  # type -> absolute module path

    def __getattr__(self, name):  # block.query, block.ffn_out, ...
        mods = self.__dict__.get("modules", {})
        if name in mods:
            return mods[name]
        raise AttributeError(name)


@dataclass(frozen=True)
class SiteMap:
    """The blocks of one concrete model, in forward order."""

    family: Family
    blocks: tuple[Block, ...]


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family, *, overwrite: bool = False) -> Family:
    """Make a family available to :func:`site_map` for each of its ``model_types``."""
    for mt in family.model_types:
        if mt in _FAMILIES and not overwrite and _FAMILIES[mt] != family:
            raise UnsupportedModelError(
                f"model_type {mt!r} already has family {_FAMILIES[mt].name!r}; pass overwrite=True"
            )
        _FAMILIES[mt] = family
    return family


def supported_model_types() -> list[str]:
    return sorted(_FAMILIES)


_BERT_LIKE = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attn_out": "attention.output.dense",
    "ffn_in": "intermediate.dense",
    "ffn_out": "output.dense",
}
register_family(Family("bert", ("bert", "roberta", "xlm-roberta", "electra"),
                       r"(?:^|\.)encoder\.layer\.(\d+)$", _BERT_LIKE, norm="post"))
register_family(Family("deberta-v2", ("deberta-v2",), r"(?:^|\.)encoder\.layer\.(\d+)$",
                       {**_BERT_LIKE, "query": "attention.self.query_proj",
                        "key": "attention.self.key_proj", "value": "attention.self.value_proj"},
                       norm="post"))
register_family(Family("llama", ("llama", "qwen2", "mistral"), r"(?:^|\.)layers\.(\d+)$",
                       {"query": "self_attn.q_proj", "key": "self_attn.k_proj",
                        "value": "self_attn.v_proj", "attn_out": "self_attn.o_proj",
                        "gate": "mlp.gate_proj", "ffn_in": "mlp.up_proj",
                        "ffn_out": "mlp.down_proj"}, norm="pre"))
register_family(Family("opt", ("opt",), r"(?:^|\.)decoder\.layers\.(\d+)$",
                       {"query": "self_attn.q_proj", "key": "self_attn.k_proj",
                        "value": "self_attn.v_proj", "attn_out": "self_attn.out_proj",
                        "ffn_in": "fc1", "ffn_out": "fc2"}, norm="pre"))
register_family(Family("gpt2", ("gpt2",), r"(?:^|\.)h\.(\d+)$",
                       {"qkv": "attn.c_attn", "attn_out": "attn.c_proj",
                        "ffn_in": "mlp.c_fc", "ffn_out": "mlp.c_proj"}, norm="pre"))


def _unsupported_message(model_type: str) -> str:
    return (
        f"model family {model_type!r} has no site map. Supported model_type values: "
        f"{', '.join(supported_model_types())}. To add one, register a site map before building "
        "a space:\n"
        "    rs.register_family(rs.Family(name='myformer', model_types=('myformer',),\n"
        "        block_pattern=r'(?:^|\\.)blocks\\.(\\d+)$',\n"
        "        modules={'query': 'attn.wq', 'key': 'attn.wk', 'value': 'attn.wv',\n"
        "                 'attn_out': 'attn.wo', 'ffn_in': 'mlp.w1', 'ffn_out': 'mlp.w2'}))\n"
        "or pass family=rs.Family(...) to the space builder."
    )


def site_map(model, family: Family | None = None) -> SiteMap:
    """Resolve the blocks of ``model`` (detected from ``config.model_type`` unless ``family``)."""
    if family is None:
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        if model_type not in _FAMILIES:
            raise UnsupportedModelError(_unsupported_message(str(model_type)))
        family = _FAMILIES[model_type]
    pattern = re.compile(family.block_pattern)
    names = dict(model.named_modules())
    found = []
    for name in names:
        m = pattern.search(name)
        if m:
            found.append((int(m.group(1)), name))
    if not found:
        raise UnsupportedModelError(
            f"family {family.name!r}: no module matches block pattern {family.block_pattern!r}"
        )
    blocks = []
    for index, path in sorted(found):
        modules = {}
        for typ, rel in family.modules.items():
            full = f"{path}.{rel}"
            if full not in names:
                raise UnsupportedModelError(
                    f"family {family.name!r}: block {path!r} has no module {rel!r} for {typ!r}"
                )
            modules[typ] = full
        blocks.append(Block(index, path, modules))
    return SiteMap(family, tuple(blocks))
