"""``shortcuts``: the ``lora`` space plus HeteroLoRA's four LoRA-adapted shortcuts per block.

=====  ============================  =====================================  =====================
edge   from                          into                                   meaning
=====  ============================  =====================================  =====================
R1     block input                   attention output projection's output   residual around attn
R2     FFN input                     FFN output projection's output         residual around FFN
S1     block input                   FFN output projection's output         bypass of the block
S2     previous block's FFN input    attention output projection's output   crosses a block edge
=====  ============================  =====================================  =====================

Placement (a deliberate difference from the HeteroLoRA code, which applied the block's
LayerNorms a second time): deltas are added to the projection's *output*, i.e. before the
existing residual add and LayerNorm in post-LN models (BERT, OPT-350m), and straight into the
residual stream in pre-LN models (LLaMA, GPT-2), where the projection output is added to it.
With every edge at rank 0, or freshly initialised (B = 0 / λ = 0), the model computes exactly the
pretrained function. On a 6-block BERT (MiniLM) this space has 36 LoRA + 23 shortcut edges.
"""

from __future__ import annotations

from rankscope.search_spaces.lora import LORA_TYPES, add_module_edges
from rankscope.space.builder import DEFAULT_MAX_RANK, SpaceBuilder
from rankscope.space.edge import site
from rankscope.space.sitemap import site_map


def build_shortcuts(model, *, max_rank: int = DEFAULT_MAX_RANK, family=None):
    sm = site_map(model, family)
    b = SpaceBuilder(model, "shortcuts", max_rank=max_rank, family=sm.family.name)
    add_module_edges(b, sm, LORA_TYPES)
    prev_ffn_in = None
    for blk in sm.blocks:
        block_in = site(blk.path, "in")
        ffn_in = site(blk.modules["ffn_in"], "in")
        attn_out = site(blk.modules["attn_out"], "out")
        ffn_out = site(blk.modules["ffn_out"], "out")
        i = blk.index
        b.shortcut(block_in, attn_out, type="R1", layer=i)
        b.shortcut(ffn_in, ffn_out, type="R2", layer=i)
        b.shortcut(block_in, ffn_out, type="S1", layer=i)
        if prev_ffn_in is not None:
            b.shortcut(prev_ffn_in, attn_out, type="S2", layer=i)
        prev_ffn_in = ffn_in
    return b.build()
