"""Fine-tune MiniLM on MRPC with a plain transformers.Trainer, letting SalientLoRA (or AdaLoRA, or
HeteroLoRA's dynamic proxy allocation) decide the ranks through rankscope's callback. Prints the
final ranks. Run:

    python examples/trainer_callback.py [--allocator salient|adalora|proxy-dynamic] [--steps 40] [--model minilm]

Data: GLUE MRPC TSVs from --data-dir or $RANKSCOPE_GLUE_DIR (e.g. ../shared/data/glue).
"""

import argparse
import os
import tempfile

from transformers import Trainer, TrainingArguments

import rankscope as rs
from rankscope.harness.data import padding_collate, tokenize_examples
from rankscope.integrations import RankscopeCallback
from rankscope.tasks import load_task_data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--allocator", default="salient", choices=["salient", "adalora", "proxy-dynamic"])
    ap.add_argument("--space", default="shortcuts")
    ap.add_argument("--budget", default="r2")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--data-dir", default=os.environ.get("RANKSCOPE_GLUE_DIR"))
    args = ap.parse_args()

    model, tok = rs.load_model(args.model, num_labels=2)
    train = tokenize_examples(load_task_data("mrpc", "train", data_dir=args.data_dir, max_samples=512, seed=0),
                              tok, max_len=128, regression=False)
    # short runs: the pruning schedule is scaled to the steps (salient windows from 2 to a fifth)
    options = {"salient": {"T_i": 2, "T_f": max(4, args.steps // 5)}, "adalora": {"tinit": 0.1, "tfinal": 0.3},
               "proxy-dynamic": {"proxy": "grad_norm", "n_batches": 2, "interval": 0.25}}[args.allocator]
    cb = RankscopeCallback(args.allocator, args.space, args.budget, options=options)
    collate = padding_collate(tok)
    # before Trainer(...): its optimizer must see the adapters (proxy-dynamic also scores on `train`)
    model = cb.prepare(model, total_steps=args.steps, train_dataset=train, data_collator=collate, batch_size=16)
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(output_dir=out, max_steps=args.steps, per_device_train_batch_size=16,
                                  learning_rate=2e-3, warmup_steps=max(1, args.steps // 16), report_to=[], logging_strategy="no",
                                  save_strategy="no", use_cpu=True, seed=0)
        Trainer(model=model, args=targs, train_dataset=train, data_collator=collate,
                callbacks=[cb]).train()
    final = cb.allocation
    budget = rs.Budget.parse(args.budget, final.space)
    print(f"{args.allocator}: {final.params:,} adapter parameters of a {budget.params:,} budget "
          f"({len(final.active)} of {len(final.ranks)} edges kept)")
    print(final.space.summary(final))


if __name__ == "__main__":
    main()
