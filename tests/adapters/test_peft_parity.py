"""Parity with PEFT LoRA: a LoRA-only allocation with mixed ranks gives PEFT's outputs.

PEFT is the reference implementation: same modules, the same per-module rank
(``rank_pattern``), the same α (so the same α/r scaling) and the same A/B weights must produce
the same logits.
"""

import pytest
import torch
from conftest import batch, make_tiny

import rankscope as rs

peft = pytest.importorskip("peft")


@pytest.mark.parametrize("scaling", ["rslora", "lora"])
@pytest.mark.parametrize("family", ["bert", "llama", "opt", "gpt2"])
def test_mixed_rank_lora_matches_peft(family, scaling):
    model = make_tiny(family)
    space = rs.build_space("lora", model, max_rank=8)
    ranks = {e.id: [1, 2, 3, 5, 0, 8][i % 6] for i, e in enumerate(space.edges)}
    alloc = rs.Allocation(space, ranks)
    alpha = 16.0
    handle = rs.attach(model, space, alloc, alpha=alpha, scaling=scaling, seed=1)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for a in handle.adapters.values():
            a.B.copy_(torch.randn(a.B.shape, generator=g) * 0.2)
    b = batch(4)
    with torch.no_grad():
        ours = model(**b).logits
    weights = {rs.parse_site(space.edge(i).src)[0]: (a.A.detach().clone(), a.B.detach().clone())
               for i, a in handle.adapters.items()}
    handle.detach()

    targets = sorted(weights)
    escaped = {t: t.replace(".", r"\.") for t in targets}
    config = peft.LoraConfig(r=8, lora_alpha=alpha, lora_dropout=0.0, use_rslora=scaling == "rslora",
                             target_modules="|".join(escaped.values()),  # str = full-match regex
                             rank_pattern={escaped[t]: weights[t][0].shape[0] for t in targets},
                             fan_in_fan_out=(family == "gpt2"))
    pm = peft.get_peft_model(model, config)
    n_set = 0
    with torch.no_grad():
        for name, mod in pm.named_modules():
            if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
                path = name.removeprefix("base_model.model.")
                A, B = weights[path]
                assert mod.r["default"] == A.shape[0]
                mod.lora_A["default"].weight.copy_(A)
                mod.lora_B["default"].weight.copy_(B)
                n_set += 1
        assert n_set == len(targets)
        theirs = pm(**b).logits
    assert torch.allclose(ours, theirs, atol=1e-5), (ours - theirs).abs().max()
