"""Bigger bases on the tiny models, on CPU (:mod:`rankscope.models.memory`): a bfloat16 frozen base
keeps its head and adapters float32, computes what the float32 base computes within bfloat16's
precision, and trains; gradient checkpointing gives the same loss and gradients as without,
shortcut edges included."""

import math

import pytest
import torch

import rankscope as rs
from rankscope.errors import InputError
from rankscope.harness.data import PreparedTask
from rankscope.harness.hooks import StepHook
from rankscope.harness.loop import Harness
from rankscope.harness.objectives import CausalLM, SequenceClassification
from rankscope.models.loading import head_modules
from rankscope.models.memory import check_dtype, enable_checkpointing, prepare_base, reentrant_checkpointing
from rankscope.search.config import SearchConfig
from rankscope.tasks import get_task_spec

#: (model, head): an encoder and a decoder with a classifier, and the decoder as a causal LM
MODELS = [("tiny-bert", {"num_labels": 2}), ("tiny-llama", {"num_labels": 2}), ("tiny-llama", {"causal_lm": True})]
IDS = [f"{name}-{'lm' if 'causal_lm' in head else 'cls'}" for name, head in MODELS]


def load(name, head, dtype=None):
    torch.manual_seed(0)  # the tiny models are random: the same one for every dtype
    return rs.load_model(name, dtype=dtype, **head)[0]


def rows(head, n=8, seed=0) -> list[dict]:
    """Random token rows (one padded), with class labels or causal targets."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 5000, (n, 10), generator=g)
    mask = torch.ones_like(ids)
    mask[0, -3:] = 0
    labels = ids.masked_fill(mask == 0, -100) if "causal_lm" in head else torch.randint(0, 2, (n,), generator=g)
    return [{"input_ids": ids[i], "attention_mask": mask[i], "labels": labels[i]} for i in range(n)]


def collate(batch):
    return {k: torch.stack([r[k] for r in batch]) for k in batch[0]}


def objective(head):
    return CausalLM() if "causal_lm" in head else SequenceClassification(get_task_spec("rte"))


def attach_random(model, space="shortcuts", seed=1):
    """Uniform rank 2 with B ~ N(0, 0.1²), so every edge changes the output."""
    sp = rs.build_space(space, model)
    handle = rs.attach(model, sp, rs.Allocation.uniform(sp, rank=2), seed=0)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for a in handle.adapters.values():
            a.B.copy_(torch.randn(a.B.shape, generator=g) * 0.1)
    return handle


@pytest.mark.parametrize("name, head", MODELS, ids=IDS)
def test_a_bfloat16_base_keeps_its_head_and_adapters_float32(name, head):
    model = load(name, head, "bfloat16")
    heads = head_modules(model)
    in_head = {id(p) for m in heads.values() for p in m.parameters()}
    assert bool(heads) == ("num_labels" in head)
    assert {p.dtype for p in model.parameters() if id(p) not in in_head} == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for m in heads.values() for p in m.parameters())
    assert all(b.dtype == torch.float32 for b in model.buffers() if b.is_floating_point())  # rotary frequencies
    handle = attach_random(model)
    assert {p.dtype for p in handle.parameters()} == {torch.float32}
    with torch.no_grad():
        logits = model(**{k: v for k, v in collate(rows(head)).items() if k != "labels"}).logits
    assert logits.dtype == (torch.float32 if heads else torch.bfloat16)  # a float32 head gives float32 logits


@pytest.mark.parametrize("name, head", MODELS, ids=IDS)
def test_bfloat16_outputs_stay_within_its_precision_of_float32(name, head):
    inputs = {k: v for k, v in collate(rows(head)).items() if k != "labels"}
    out = {}
    for dtype in ("float32", "bfloat16"):
        model = load(name, head, dtype).eval()
        attach_random(model)
        with torch.no_grad():
            out[dtype] = model(**inputs).logits.float()
    err = float((out["bfloat16"] - out["float32"]).abs().max() / out["float32"].abs().max())
    assert 0 < err < 0.05, err  # bfloat16 keeps 8 bits of mantissa: about 2-3 significant digits


class Record(StepHook):
    def __init__(self):
        self.losses = []

    def on_step_end(self, step, state):
        self.losses.append(state.loss)


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointing"])
@pytest.mark.parametrize("name, head", MODELS, ids=IDS)
def test_a_bfloat16_base_trains_its_adapters_and_head(name, head, checkpointing):
    model = prepare_base(load(name, head), "bfloat16", gradient_checkpointing=checkpointing)
    handle = attach_random(model)
    before = {n: p.detach().clone() for n, p in handle.adapters.named_parameters()}
    head_before = [p.detach().clone() for m in head_modules(model).values() for p in m.parameters()]
    task = PreparedTask("random", rows(head), rows(head, 4, seed=1), collate, objective(head))
    record = Record()
    Harness(task, SearchConfig(max_steps=2, batch_size=4, lr=1e-2, seed=0)).train(
        model, handle, record, evaluate=False, progress=False)
    assert len(record.losses) == 2 and all(math.isfinite(v) for v in record.losses)
    after = dict(handle.adapters.named_parameters())
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in after.values())
    assert all(not torch.equal(before[n], p) for n, p in after.items())  # every factor moved
    head_after = [p for m in head_modules(model).values() for p in m.parameters()]
    assert all(p.dtype == torch.float32 and not torch.equal(b, p) for b, p in zip(head_before, head_after))


@pytest.mark.parametrize("space", ["lora", "shortcuts"])
@pytest.mark.parametrize("name, head", [*MODELS, ("tiny-opt", {"causal_lm": True}), ("tiny-gpt2", {"causal_lm": True})],
                         ids=[*IDS, "tiny-opt-lm", "tiny-gpt2-lm"])
def test_checkpointing_gives_the_same_loss_and_gradients(name, head, space):
    model = load(name, head)
    handle = attach_random(model, space)
    batch, obj = collate(rows(head)[:4]), objective(head)

    def loss_and_grads():
        model.train()
        for p in handle.parameters():
            p.grad = None
        torch.manual_seed(3)  # dropout draws the same masks in both passes
        loss = obj.forward(model, batch)[0]
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in handle.adapters.named_parameters()}

    loss, grads = loss_and_grads()
    enable_checkpointing(model)
    assert not reentrant_checkpointing(model)
    loss_ckpt, grads_ckpt = loss_and_grads()
    assert torch.allclose(loss, loss_ckpt, atol=1e-6)
    for n, g in grads.items():
        assert torch.allclose(g, grads_ckpt[n], atol=1e-7, rtol=1e-5), n
        assert grads_ckpt[n].abs().sum() > 0, n  # every edge learns, shortcuts across blocks included


@pytest.mark.filterwarnings("ignore:`gradient_checkpointing_enable` is deprecated:FutureWarning")
def test_reentrant_checkpointing_is_detected():
    model = load("tiny-llama", {"causal_lm": True})
    assert not reentrant_checkpointing(model)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    assert reentrant_checkpointing(model)


def test_bad_dtypes_name_the_valid_ones():
    with pytest.raises(InputError, match="--dtype must be one of float32, bfloat16, float16, got 'bf16'"):
        rs.load_model("tiny-bert", dtype="bf16")
    with pytest.raises(InputError, match="--dtype float16 runs on cuda only"):
        check_dtype("float16", "cpu")
    check_dtype("float16", "cuda:0")
    check_dtype("bfloat16", "cpu")
