"""One process of a torchrun'd transformers.Trainer run with RankscopeCallback (tests/test_distributed.py).

    torchrun --nproc-per-node 2 tests/ddp_trainer_worker.py OUT_DIR ALLOCATOR

Every rank but 0 scores the triplets the other way round; the masks must still agree, because
the callback's decisions are made on rank 0 and broadcast."""

import json
import sys
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))

from conftest import make_tiny  # noqa: E402
from ddp_worker import disagree  # noqa: E402
from test_trainer_callback import Rows  # noqa: E402

from rankscope import distributed  # noqa: E402
from rankscope.integrations import RankscopeCallback  # noqa: E402

OPTIONS = {"adalora": {"tinit": 2, "tfinal": 3}, "salient": {"T_i": 2, "T_f": 4}}


class MaskLog(TrainerCallback):
    def __init__(self, cb):
        self.cb, self.steps = cb, []

    def on_optimizer_step(self, args, state, control, **kw):
        adapters = self.cb.handle.adapters.values()
        self.steps.append([[int(m != 0) for m in a.mask.tolist()] for a in adapters]
                          + [[int(x == 0) for x in a.lam.detach().tolist()] for a in adapters])


def main(out: Path, allocator: str):
    cb = RankscopeCallback(allocator, "shortcuts", "r1", options=OPTIONS[allocator])
    model = cb.prepare(make_tiny("bert"), total_steps=12)
    log = MaskLog(cb)
    args = TrainingArguments(output_dir=str(out / "trainer"), max_steps=12, per_device_train_batch_size=4,
                             learning_rate=5e-3, report_to=[], logging_strategy="no", save_strategy="no",
                             use_cpu=True, seed=0, ddp_backend="gloo")
    trainer = Trainer(model=model, args=args, train_dataset=Rows(), callbacks=[cb, log])
    if distributed.rank() != 0:
        disagree()
    trainer.train()
    record = {"world": distributed.world_size(), "masks": log.steps, "final": cb.allocation.ranks,
              "classifier": model.classifier.weight.detach().flatten().tolist()}
    (out / f"trainer-rank{distributed.rank()}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
