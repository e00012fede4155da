"""Fine-tune a decoder (SmolLM2 by default) on GSM8K with a plain transformers.Trainer, letting
SalientLoRA (or AdaLoRA, or HeteroLoRA's dynamic proxy allocation) decide the LoRA ranks at a
budget through rankscope's callback. Prints the final ranks and the dev NLL, and saves the
adapters (safetensors). Run:

    python examples/causal_trainer.py [--model smollm2] [--allocator salient|adalora|proxy-dynamic]
        [--budget r2] [--max-steps 20] [--max-train-samples 160] [--out causal-adapters]

The model is an ``AutoModelForCausalLM``: the Trainer minimises the model's own next-token loss
on the answer tokens (the prompt's labels are -100), and the callback's proxies score that same
causal loss. Data: GSM8K from --data-dir, $RANKSCOPE_GSM8K_DIR or ../shared/data/gsm8k.
``--model tiny-llama`` is a random 2-layer LLaMA for a quick smoke run.
"""

import argparse
import os
import tempfile

from transformers import Trainer, TrainingArguments

import rankscope as rs
from rankscope.harness.loop import evaluate_batches
from rankscope.harness.objectives import CausalLM
from rankscope.integrations import RankscopeCallback
from rankscope.tasks.causal.features import (
    causal_collate,
    load_causal_rows,
    tokenize_causal,
)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--allocator", default="salient", choices=["salient", "adalora", "proxy-dynamic"])
    ap.add_argument("--space", default="shortcuts")
    ap.add_argument("--budget", default="r2")
    ap.add_argument("--max-steps", type=int, default=20)
    ap.add_argument("--max-train-samples", type=int, default=160)
    ap.add_argument("--max-dev-samples", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--data-dir", default=os.environ.get("RANKSCOPE_GSM8K_DIR"))
    ap.add_argument("--out", default="causal-adapters", help="where the adapters are saved")
    args = ap.parse_args()

    # the causal LM with its vocabulary head (decoders only); the pad token falls back to EOS
    model, tok = rs.load_model(args.model, causal_lm=True)
    # GSM8K as prompt/response rows ("Question: ...\nAnswer:" / " <solution> #### 72"); dev is a
    # seeded hold-out of the training file, disjoint from train
    rows = {split: load_causal_rows("gsm8k", split, data_dir=args.data_dir)[:n]
            for split, n in (("train", args.max_train_samples), ("dev", args.max_dev_samples))}
    # input_ids / attention_mask / labels, labels = -100 on the prompt: only the answer is learned
    train, stats = tokenize_causal(rows["train"], tok, max_len=args.max_len)
    dev, _ = tokenize_causal(rows["dev"], tok, max_len=args.max_len)
    print(f"train: {stats['rows']} rows, {stats['target_tokens']:,} target tokens "
          f"({stats['prompt_trimmed']} prompts and {stats['response_trimmed']} answers trimmed to {args.max_len})")
    collate = causal_collate(tok)  # right padding; padded labels are -100 too

    # short runs: the pruning schedule is scaled to the steps (salient windows from 2 to a fifth)
    options = {"salient": {"T_i": 2, "T_f": max(4, args.max_steps // 5)},
               "adalora": {"tinit": 0.1, "tfinal": 0.3},
               "proxy-dynamic": {"proxy": "grad_norm", "n_batches": 2, "interval": 0.25}}[args.allocator]
    cb = RankscopeCallback(args.allocator, args.space, args.budget, options=options)
    # before Trainer(...): its optimizer must see the adapters. proxy-dynamic scores the edges on
    # batches of `train`, with the causal objective the callback picks for a causal LM
    model = cb.prepare(model, total_steps=args.max_steps, train_dataset=train, data_collator=collate,
                       batch_size=args.batch_size)
    causal = isinstance(cb.objective, CausalLM)  # what the proxies score (and the dev metric below)
    print(f"scoring loss: {'causal NLL on the answer tokens' if causal else 'the model loss'}")
    with tempfile.TemporaryDirectory() as tmp:  # the Trainer's own output_dir: nothing kept
        targs = TrainingArguments(output_dir=tmp, max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
                                  learning_rate=2e-3, warmup_steps=max(1, args.max_steps // 10), report_to=[],
                                  logging_steps=max(1, args.max_steps // 4), save_strategy="no", seed=0)
        trainer = Trainer(model=model, args=targs, train_dataset=train, data_collator=collate, callbacks=[cb])
        trainer.train()  # the allocator prunes (or toggles) inside, once per optimizer step

    final = cb.allocation
    budget = rs.Budget.parse(args.budget, final.space)
    print(f"{args.allocator}: {final.params:,} adapter parameters of a {budget.params:,} budget "
          f"({len(final.active)} of {len(final.ranks)} edges kept)")
    print(final.space.summary(final))
    # dev NLL per answer token, token-weighted over the whole dev set (as `rankscope search` reports)
    batches = [collate(dev[i:i + args.batch_size]) for i in range(0, len(dev), args.batch_size)]
    metrics = evaluate_batches(model, cb.objective, batches, device=str(trainer.args.device))
    print(f"dev nll {metrics['nll']:.4f}  perplexity {metrics['perplexity']:.2f}  "
          f"({int(metrics['target_tokens']):,} target tokens)")
    # adapter.safetensors (active ranks only) + allocation.json + space.json; rs.load_adapters reads it back
    print(f"adapters saved to {rs.save_adapters(cb.handle, args.out)}")


if __name__ == "__main__":
    main()
