"""The speed cell of ``python -m benchmarks.causal``: rankscope's edges against PEFT LoRA on one decoder.

Three timings, each the median over ``rounds`` × ``reps`` repeats, the methods interleaved round
by round (A, B, C, A, B, C, ...) so that a slow spell of a shared machine hits all of them:

* forward + backward of one training batch (causal loss on the response tokens): rankscope LoRA
  edges at the uniform allocation of the budget, PEFT ``LoraConfig`` at the same ranks on the
  same modules, and rankscope's ``shortcuts`` space at the same parameter budget;
* greedy generation of the same prompts (``max_new_tokens``, the KV cache on, no stop string):
  rankscope against PEFT, both freshly initialised (B = 0), so they decode the same tokens.
"""

from __future__ import annotations

import statistics

import torch

REPS, ROUNDS, GEN_PROMPTS, GEN_TOKENS = 3, 3, 8, 32


def speed_row(settings: dict) -> dict:
    import peft

    from benchmarks.common.rows import repeat_seconds
    from rankscope.adapters.attach import attach
    from rankscope.allocation.budget import Budget
    from rankscope.allocators.uniform import uniform_allocation
    from rankscope.harness.objectives import CausalLM
    from rankscope.models.loading import load_model
    from rankscope.registry import SPACES
    from rankscope.tasks.causal.features import (
        causal_collate,
        encode_prompts,
        load_causal_rows,
        tokenize_causal,
    )
    from rankscope.tasks.causal.generation import greedy_generate

    from .methods import MODULES

    torch.manual_seed(0)
    model, tok = load_model(settings["model"], causal_lm=True)
    device = settings["device"]
    model.to(device)
    rows = load_causal_rows("gsm8k", "train")[:max(settings["batch_size"], GEN_PROMPTS)]
    feats, _ = tokenize_causal(rows[:settings["batch_size"]], tok, settings["max_len"])
    batch = {k: v.to(device) for k, v in causal_collate(tok)(feats).items()}
    prompts = encode_prompts(rows[:GEN_PROMPTS], tok, settings["max_len"])
    lora = SPACES.get("lora")(model, max_rank=64)
    budget = Budget.parse(settings["budget"], lora)
    uniform = uniform_allocation(lora, budget, "lora")
    shortcuts = SPACES.get("shortcuts")(model, max_rank=64)
    short_alloc = uniform_allocation(shortcuts, Budget(uniform.params, "lora uniform"), "lora")
    objective = CausalLM()

    def step(m):
        loss = objective.forward(m, batch)[0]
        loss.backward()
        m.zero_grad(set_to_none=True)

    def with_rankscope(space, allocation, fn):
        handle = attach(model, space, allocation, seed=0)
        try:
            return fn(model)
        finally:
            handle.detach()

    def with_peft(fn):
        r = max(uniform.ranks.values())
        cfg = peft.LoraConfig(r=r, lora_alpha=16, target_modules=sorted({MODULES[e.type] for e in lora.edges}),
                              task_type="CAUSAL_LM")
        pm = peft.get_peft_model(model, cfg)
        try:
            return fn(pm)
        finally:
            pm.unload()  # the base modules back in place, the LoRA layers gone

    def generate(m):
        greedy_generate(m, tok, prompts, max_new_tokens=GEN_TOKENS, batch_size=GEN_PROMPTS, device=device, stops=())

    times = {k: [] for k in ("rs_step", "peft_step", "short_step", "rs_gen", "peft_gen")}
    model.train()
    for _ in range(ROUNDS):
        times["rs_step"] += with_rankscope(lora, uniform, lambda m: repeat_seconds(lambda: step(m), REPS))
        times["peft_step"] += with_peft(lambda m: repeat_seconds(lambda: step(m), REPS))
        times["short_step"] += with_rankscope(shortcuts, short_alloc, lambda m: repeat_seconds(lambda: step(m), REPS))
        times["rs_gen"] += with_rankscope(lora, uniform, lambda m: repeat_seconds(lambda: generate(m), 1))
        times["peft_gen"] += with_peft(lambda m: repeat_seconds(lambda: generate(m), 1))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"speed": {**{f"{k}_s": v for k, v in med.items()},
                      "step_ratio": med["rs_step"] / med["peft_step"], "gen_ratio": med["rs_gen"] / med["peft_gen"],
                      "shortcuts_vs_lora": med["short_step"] / med["rs_step"], "params": uniform.params,
                      "shortcuts_params": short_alloc.params, "batch_tokens": int(batch["attention_mask"].sum()),
                      "gen_prompts": GEN_PROMPTS, "gen_tokens": GEN_TOKENS, "repeats": REPS * ROUNDS}}
