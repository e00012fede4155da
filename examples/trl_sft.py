"""Train a rankscope plan in TRL: ``SFTTrainer(peft_config=LoraConfig.from_pretrained(PLAN))``.

First plan the ranks (scores and allocates, trains nothing), then hand the plan to TRL::

    rankscope plan --model smollm2 --task gsm8k --space lora --allocator proxy-static \\
        --budget r2 --max-dev-samples 16 --out gsm8k-plan
    python examples/trl_sft.py --plan gsm8k-plan [--model smollm2] [--max-steps 20] [--out sft-out]

The plan directory's ``adapter_config.json`` is a plain PEFT ``LoraConfig``: ``target_modules``,
one rank per module in ``rank_pattern``, ``lora_alpha`` with ``use_rslora`` (each module scaled
by α/√r_m, rankscope's rank-stable rule). TRL builds the PEFT model from it; this script checks
that every module got its planned rank, trains on GSM8K prompt/completion pairs (the loss covers
the completion only, TRL's default for that format) and saves the adapter with PEFT. Data:
GSM8K from ``--data-dir``, ``$RANKSCOPE_GSM8K_DIR`` or ``../shared/data/gsm8k``. ``--model
tiny-llama`` (a random 2-layer LLaMA) with a plan made on it is a quick smoke run.
"""

import argparse
import json
import os
import re
from pathlib import Path

import torch
from datasets import Dataset
from peft import LoraConfig
from trl import SFTConfig, SFTTrainer

import rankscope as rs
from rankscope.tasks.causal.features import load_causal_rows


def planned_ranks(plan_dir) -> dict:
    """``{module path: rank}`` as the plan's adapter_config.json gives them (PEFT's pattern rule)."""
    config = json.loads((Path(plan_dir) / "adapter_config.json").read_text())
    ranks = {}
    for target in config["target_modules"]:
        key = next(k for k in config["rank_pattern"] if re.fullmatch(k, target))
        ranks[target] = config["rank_pattern"][key]
    return ranks


def built_ranks(model) -> dict:
    """``{module path: rank}`` of the LoRA modules in a PEFT model."""
    return {name.removeprefix("base_model.model."): mod.r["default"]
            for name, mod in model.named_modules() if hasattr(mod, "lora_A") and "default" in getattr(mod, "r", {})}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan", required=True, help="a directory written by `rankscope plan`")
    ap.add_argument("--model", default="smollm2", help="the model the plan was made on")
    ap.add_argument("--max-steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--max-train-samples", type=int, default=160)
    ap.add_argument("--lr", type=float, default=2e-3, help="rankscope's causal default under alpha/sqrt(r)")
    ap.add_argument("--data-dir", default=os.environ.get("RANKSCOPE_GSM8K_DIR"))
    ap.add_argument("--out", default="sft-out", help="where TRL writes the trained adapter")
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    model, tok = rs.load_model(args.model, causal_lm=True)
    peft_config = LoraConfig.from_pretrained(args.plan)
    # GSM8K as TRL's prompt/completion format: "Question: ...\nAnswer:" / " <solution> #### 72"
    rows = load_causal_rows("gsm8k", "train", data_dir=args.data_dir)[:args.max_train_samples]
    train = Dataset.from_list([{"prompt": r.prompt, "completion": r.response} for r in rows])
    sft = SFTConfig(output_dir=args.out, max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
                    learning_rate=args.lr, max_length=args.max_len, logging_steps=max(1, args.max_steps // 4),
                    save_strategy="no", report_to=[], seed=0, use_cpu=not torch.cuda.is_available(),
                    # a tokenizer without an end-of-sequence token (the tiny test models) ends on its separator
                    eos_token=tok.eos_token or tok.sep_token)
    trainer = SFTTrainer(model=model, args=sft, train_dataset=train, processing_class=tok, peft_config=peft_config)

    want, got = planned_ranks(args.plan), built_ranks(trainer.model)
    if got != want:
        raise SystemExit(f"the PEFT model's ranks differ from the plan: {sorted(set(got.items()) ^ set(want.items()))[:4]}")
    print(f"PEFT built the plan: {len(got)} modules, ranks {min(got.values())}-{max(got.values())}, "
          f"{sum(p.numel() for n, p in trainer.model.named_parameters() if 'lora_' in n):,} adapter parameters")
    result = trainer.train()
    print(f"trained {result.global_step} steps, train loss {result.training_loss:.4f}")
    trainer.model.save_pretrained(args.out)  # adapter_config.json + adapter_model.safetensors (no pickle)
    print(f"adapter saved to {args.out}")


if __name__ == "__main__":
    main()
