"""``lora`` and ``lora-qv``: classic LoRA candidates on existing linear layers."""

from __future__ import annotations

from rankscope.space.builder import DEFAULT_MAX_RANK, SpaceBuilder
from rankscope.space.sitemap import site_map

LORA_TYPES = ("query", "key", "value", "qkv", "attn_out", "gate", "ffn_in", "ffn_out")
QV_TYPES = ("query", "value", "qkv")


def add_module_edges(builder: SpaceBuilder, sm, types) -> SpaceBuilder:
    """One LoRA edge per block per projection type in ``types`` that the family has."""
    for blk in sm.blocks:
        for typ in types:
            if typ in blk.modules:
                builder.lora(blk.modules[typ], type=typ, layer=blk.index)
    return builder


def build_lora(model, *, max_rank: int = DEFAULT_MAX_RANK, family=None):
    sm = site_map(model, family)
    b = SpaceBuilder(model, "lora", max_rank=max_rank, family=sm.family.name)
    return add_module_edges(b, sm, LORA_TYPES).build()


def build_lora_qv(model, *, max_rank: int = DEFAULT_MAX_RANK, family=None):
    sm = site_map(model, family)
    b = SpaceBuilder(model, "lora-qv", max_rank=max_rank, family=sm.family.name)
    return add_module_edges(b, sm, QV_TYPES).build()
