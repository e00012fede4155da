"""Parity with PEFT's AdaLoRA: the same masks at every allocation step.

Lock-step protocol: a PEFT AdaLoRA model trains a tiny BERT on fixed random batches with its own
AdamW and its own ``update_and_allocate``. After every optimizer step, the P, λ, Q values and
gradients of each PEFT module are copied into the matching rankscope SVD edge, and rankscope's
``adalora`` hook runs on them. Both then see identical inputs, so every difference is a
difference in the allocator: sensitivity/uncertainty EMAs, triplet scores, the cubic budget,
the ΔT interval and the final pattern.
"""

from dataclasses import replace

import pytest
import torch
from conftest import make_tiny

import rankscope as rs
from rankscope.allocation.budget import Budget
from rankscope.allocators.svd.adalora import AdaLoRAAllocator
from rankscope.harness.hooks import TrainState
from rankscope.search.config import SearchConfig
from rankscope.search.session import Session
from rankscope.testing import SMALL_RUN

peft = pytest.importorskip("peft")


@pytest.mark.parametrize("tinit,tfinal,deltaT", [(2, 3, 1), (1, 4, 3)])
def test_adalora_masks_match_peft_every_step(tinit, tfinal, deltaT):
    T, init_r, target_r = 16, 4, 2
    session = Session(SearchConfig(**{**SMALL_RUN, "space": "lora-qv", "max_steps": T}).resolved(), progress=False)
    space = session.space
    cost = space.edges[0].cost(1, "svd")
    assert all(e.cost(1, "svd") == cost for e in space.edges)  # equal sizes: triplets ∝ parameters
    n_mod = len(space.edges)
    # PEFT's target_bgt = target_r × #matrices
    ctx = replace(session.context(), budget=Budget(target_r * n_mod * cost, "parity"))
    plan = AdaLoRAAllocator(init_rank=init_r, tinit=tinit, tfinal=tfinal, deltaT=deltaT).propose(ctx)
    handle = rs.attach(session.model, space, plan.allocation, form="svd")
    hook = plan.hook
    state = TrainState(session.model, handle, None, None, T, T)
    hook.on_train_begin(state)

    ref = make_tiny("bert")
    config = peft.AdaLoraConfig(init_r=init_r, target_r=target_r, tinit=tinit, tfinal=tfinal, deltaT=deltaT,
                                total_step=T, lora_alpha=32, orth_reg_weight=0.5, beta1=0.85, beta2=0.85,
                                target_modules=["query", "value"])
    pm = peft.get_peft_model(ref, config)
    layers = {}
    for name, mod in pm.named_modules():
        if hasattr(mod, "lora_E") and "default" in getattr(mod, "lora_E", {}):
            eid = next(e.id for e in space.edges if name.endswith(rs.parse_site(e.src)[0]))
            layers[eid] = mod
    assert len(layers) == n_mod
    opt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=5e-2)
    g = torch.Generator().manual_seed(0)
    compared = 0
    for step in range(1, T + 1):
        ids = torch.randint(1, 100, (8, 10), generator=g)
        out = pm(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.randint(0, 2, (8,), generator=g))
        out.loss.backward()
        opt.step()
        with torch.no_grad():
            for eid, mod in layers.items():
                a = handle.adapters[eid]
                for ours, theirs in (("P", mod.lora_B["default"]), ("Q", mod.lora_A["default"]),
                                     ("lam", mod.lora_E["default"])):
                    p = getattr(a, ours)
                    p.copy_(theirs.detach().view(p.shape))
                    p.grad = theirs.grad.detach().clone().view(p.shape)
        n_events = len(hook.events)
        hook.on_step_end(step, state)
        pm.base_model.update_and_allocate(step)
        if len(hook.events) > n_events:  # rankscope masked at this step: PEFT must have too
            for eid, mod in layers.items():
                peft_kept = mod.lora_E["default"].detach().view(-1) != 0
                ours_kept = handle.adapters[eid].lam.detach() != 0
                assert torch.equal(peft_kept, ours_kept), f"step {step}, {eid}: {peft_kept} vs {ours_kept}"
            compared += 1
        opt.zero_grad()
    expected = sum(1 for s in range(1, T - tfinal) if s > tinit and s % deltaT == 0) + 1
    assert compared == expected
    # the final pattern: PEFT's rank_pattern equals rankscope's final masks, target reached
    pattern = pm.peft_config["default"].rank_pattern
    for eid, mod in layers.items():
        key = next(k for k in pattern if rs.parse_site(space.edge(eid).src)[0] + ".lora_E" in k)
        assert handle.adapters[eid].mask.bool().tolist() == list(pattern[key])
    assert sum(int(handle.adapters[e].mask.sum()) for e in layers) == target_r * n_mod
    handle.detach()
