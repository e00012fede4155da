"""RankscopeCallback inside a plain transformers.Trainer: fires once per optimizer step (gradient
accumulation included), prunes to the budget, and fails loudly when misused."""

import json

import pytest
import torch
from conftest import make_tiny
from transformers import Trainer, TrainingArguments

import rankscope as rs
from rankscope.errors import InputError, TrainingError
from rankscope.integrations import RankscopeCallback


class Rows(torch.utils.data.Dataset):
    def __init__(self, n=64, t=12, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(3, 100, (n, t), generator=g)
        self.labels = (self.ids[:, 0] > 50).long()

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones_like(self.ids[i]), "labels": self.labels[i]}


def _trainer(model, cb, tmp_path, max_steps, accumulate=1, **extra):
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=max_steps, per_device_train_batch_size=8,
                             gradient_accumulation_steps=accumulate, learning_rate=5e-3, report_to=[],
                             logging_strategy="no", save_strategy="no", use_cpu=True, seed=0, **extra)
    return Trainer(model=model, args=args, train_dataset=Rows(), callbacks=[cb])


@pytest.mark.parametrize("allocator, options", [("adalora", {"tinit": 2, "tfinal": 3}),
                                                ("salient", {"T_i": 2, "T_f": 4})])
def test_callback_prunes_to_budget_once_per_optimizer_step(tmp_path, allocator, options):
    model = make_tiny("bert")
    cb = RankscopeCallback(allocator, "shortcuts", "r1", options=options)
    steps = 12
    _trainer(cb.prepare(model, total_steps=steps), cb, tmp_path, steps, accumulate=2).train()
    assert cb.state.step == steps  # optimizer steps, not the 24 micro-batches
    budget = rs.Budget.parse("r1", cb.handle.space)
    assert 0 < cb.allocation.params <= budget.params
    rs.save_adapters(cb.handle, tmp_path / "ad")  # masked ranks sliced away; loads back on a fresh model
    assert rs.load_adapters(make_tiny("bert"), tmp_path / "ad").allocation == cb.allocation


def test_proxy_dynamic_toggles_edges_inside_the_trainer(tmp_path):
    from transformers import default_data_collator

    model = make_tiny("bert")
    cb = RankscopeCallback("proxy-dynamic", "shortcuts", "r1", options={"proxy": "grad_norm", "n_batches": 2,
                                                                          "interval": 0.5})
    data = Rows()
    cb.prepare(model, total_steps=12, train_dataset=data, data_collator=default_data_collator)
    _trainer(model, cb, tmp_path, 12).train()  # 8 batches per epoch: re-scored at steps 0, 4, 8
    rec = cb.describe()
    assert [r["step"] for r in rec["reallocations"]] == [0, 4, 8]
    final, budget = cb.allocation, rs.Budget.parse("r1", cb.handle.space)
    assert 0 < final.params <= budget.params
    assert set(final.active.values()) == {rec["rank_on"]}  # whole edges on at the on-rank
    assert sorted(final.active) == rec["reallocations"][-1]["on"]
    assert set(rec["scores"]["grad_norm"]) == {e.id for e in cb.handle.space.edges}  # every edge scored


def test_training_that_stops_early_fails_loudly(tmp_path):
    cb = RankscopeCallback("adalora", "shortcuts", "r1", options={"tinit": 2, "tfinal": 3})
    model = cb.prepare(make_tiny("bert"), total_steps=12)
    trainer = _trainer(model, cb, tmp_path, 12)

    class StopAt5:
        def __getattr__(self, name):
            def event(args, state, control, **kw):
                if name == "on_step_end" and state.global_step >= 5:
                    control.should_training_stop = True
                return control
            return event
    trainer.add_callback(StopAt5())
    with pytest.raises(TrainingError, match="ended at optimizer step 5 of 12, before adalora finished"):
        trainer.train()


def test_misuse_is_refused(tmp_path):
    with pytest.raises(InputError, match="needs an in-training allocator"):
        RankscopeCallback("uniform", "shortcuts", "r1")
    with pytest.raises(InputError, match="scores the edges on batches of your training data"):
        RankscopeCallback("proxy-dynamic", "shortcuts", "r1").prepare(make_tiny("bert"), total_steps=12)
    cb = RankscopeCallback("adalora", "shortcuts", "r1", options={"tinit": 2, "tfinal": 3})
    with pytest.raises(InputError, match="call RankscopeCallback.prepare"):
        _trainer(make_tiny("bert"), cb, tmp_path, 12).train()
    cb = RankscopeCallback("adalora", "shortcuts", "r1", options={"tinit": 2, "tfinal": 3})
    model = cb.prepare(make_tiny("bert"), total_steps=10)
    with pytest.raises(InputError, match="will run 12 optimizer steps but the callback was prepared for 10"):
        _trainer(model, cb, tmp_path, 12).train()


def test_a_bfloat16_model_trains_float32_adapters_and_head_with_checkpointing(tmp_path):
    from rankscope.models.loading import head_modules

    model = make_tiny("bert").to(torch.bfloat16)  # as from_pretrained(..., dtype=torch.bfloat16) gives it
    cb = RankscopeCallback("adalora", "shortcuts", "r1", options={"tinit": 2, "tfinal": 3})
    cb.prepare(model, total_steps=8, gradient_checkpointing=True)
    head = [p for m in head_modules(model).values() for p in m.parameters()]
    assert {p.dtype for p in [*cb.handle.parameters(), *head]} == {torch.float32}
    assert model.bert.encoder.layer[0].attention.self.query.weight.dtype == torch.bfloat16
    before = [p.detach().clone() for p in head]
    _trainer(model, cb, tmp_path, 8).train()
    assert cb.state.step == 8 and 0 < cb.allocation.params
    assert all(not torch.equal(b, p) for b, p in zip(before, head))  # the head trained, in float32
    assert all(torch.isfinite(p).all() and p.dtype == torch.float32 for p in cb.handle.parameters())


def test_reentrant_checkpointing_is_refused(tmp_path):
    cb = RankscopeCallback("adalora", "shortcuts", "r1", options={"tinit": 2, "tfinal": 3})
    model = cb.prepare(make_tiny("bert"), total_steps=12)
    import dataclasses

    # transformers 5 renamed gradient_checkpointing to activation_checkpointing
    name = next(n for n in ("activation_checkpointing", "gradient_checkpointing")
                if n in {f.name for f in dataclasses.fields(TrainingArguments)})
    trainer = _trainer(model, cb, tmp_path, 12, **{name: True, f"{name}_kwargs": {"use_reentrant": True}})
    with pytest.raises(InputError, match="use_reentrant=True, which gives adapters in a frozen base no gradient"):
        trainer.train()


@pytest.mark.slow  # runs examples/trainer_callback.py in a new process
@pytest.mark.parametrize("allocator", ["salient", "proxy-dynamic"])
def test_example_runs_and_prints_the_final_ranks(allocator):
    import os
    import subprocess
    import sys
    from pathlib import Path

    glue = os.environ.get("RANKSCOPE_GLUE_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "data" / "glue")
    if not Path(glue, "MRPC").is_dir():
        pytest.skip(f"GLUE data not found at {glue} (set RANKSCOPE_GLUE_DIR)")
    root = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, str(root / "examples" / "trainer_callback.py"), "--model", "tiny-bert",
                        "--steps", "12", "--data-dir", glue, "--allocator", allocator], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "adapter parameters of a" in p.stdout and "allocation params" in p.stdout


@pytest.mark.parametrize("args, sharded", [
    ({"fsdp": "full_shard auto_wrap"}, "FSDP"),
    ({"deepspeed": {"zero_optimization": {"stage": 3}}}, "DeepSpeed ZeRO-3"),
    ({"deepspeed": {"zero_optimization": {"stage": 2}}}, "DeepSpeed ZeRO-2"),
    ({"deepspeed": {"zero_optimization": {"stage": "auto"}}}, "DeepSpeed ZeRO (stage auto)"),
    ({"deepspeed": {"zero_optimization": {"stage": 1}}}, None),
    ({"fsdp": "", "deepspeed": None}, None),
])
def test_gradient_sharding_is_read_from_the_trainer_args(args, sharded, tmp_path):
    from types import SimpleNamespace

    from rankscope.distributed import gradient_sharding

    assert gradient_sharding(SimpleNamespace(**args)) == sharded
    if isinstance(args.get("deepspeed"), dict):  # a config file path reads the same
        path = tmp_path / "ds.json"
        path.write_text(json.dumps(args["deepspeed"]))
        assert gradient_sharding(SimpleNamespace(deepspeed=str(path))) == sharded


def test_an_in_training_allocator_refuses_sharded_gradients():
    from types import SimpleNamespace

    cb = RankscopeCallback("salient", "lora", "r1", options={"T_i": 2, "T_f": 4})
    model = cb.prepare(make_tiny("bert"), total_steps=8)
    args = SimpleNamespace(deepspeed={"zero_optimization": {"stage": 3}}, fsdp=None)
    with pytest.raises(InputError, match=r"(?s)DeepSpeed ZeRO-3 keeps only a shard .* .salient. .*rankscope plan"):
        cb.on_train_begin(args, SimpleNamespace(max_steps=8), None, model=model)
