"""Build, register and use a custom search space.

The space: LoRA on the two FFN projections of every block (no attention LoRA), plus one
long-range shortcut from block 0's input to block 5's FFN output — something module LoRA
cannot express. Run:  python examples/custom_space.py [--model minilm]
"""

import argparse

import torch

import rankscope as rs


def build_ffn_longrange(model, *, max_rank: int = 64, family=None):
    """FFN-only LoRA + one shortcut from the first block's input to the last block's FFN output."""
    sm = rs.site_map(model, family)
    b = rs.SpaceBuilder(model, "ffn-longrange", max_rank=max_rank, family=sm.family.name)
    for blk in sm.blocks:
        b.lora(blk.ffn_in, type="ffn_in", layer=blk.index)
        b.lora(blk.ffn_out, type="ffn_out", layer=blk.index)
    first, last = sm.blocks[0], sm.blocks[-1]
    b.shortcut(rs.site(first.path, "in"), rs.site(last.ffn_out, "out"),
               type="long", layer=last.index, id=f"long@{first.index}-{last.index}")
    return b.build()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="minilm")
    args = ap.parse_args()

    rs.register_space("ffn-longrange", build_ffn_longrange, overwrite=True)
    model, tokenizer = rs.load_model(args.model)
    space = rs.build_space("ffn-longrange", model)      # looked up in the registry, validated

    alloc = rs.Allocation.uniform(space, rank=4)
    budget = rs.Budget.parse("r4", space)
    assert space.cost(alloc) == alloc.params <= budget.params

    batch = tokenizer(["a custom space", "with a long-range shortcut"], padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        base = model(**batch).last_hidden_state
    handle = rs.attach(model, space, alloc)
    with torch.no_grad():
        out = model(**batch).last_hidden_state
    print(space.summary(alloc))
    print(f"\ntrainable adapter parameters: {handle.trainable_parameters():,} "
          f"(budget {budget.params:,}); max |Δ| at init: {(out - base).abs().max():.1e}")
    handle.detach()


if __name__ == "__main__":
    main()
