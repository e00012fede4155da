"""RankscopeCallback on a causal-LM ``transformers.Trainer`` run: a tiny random LLaMA
(``AutoModelForCausalLM``) learns prompt/response rows with ``labels = -100`` on the prompt, the
Trainer minimises the model's own next-token loss, and every allocator the callback offers
(salient, adalora, proxy-dynamic) ends within the budget. The proxies score the causal NLL
(:class:`~rankscope.harness.objectives.CausalLM`), not a classification loss."""

import pytest
import torch
from conftest import make_tiny
from transformers import Trainer, TrainingArguments

import rankscope as rs
from rankscope.harness.loop import evaluate_batches
from rankscope.harness.objectives import CausalLM
from rankscope.integrations import CallbackTrainer, RankscopeCallback, scoring_objective
from rankscope.tasks.causal.features import CausalRow, causal_collate, tokenize_causal

STEPS, BATCH = 8, 4  # 32 rows: 8 batches, one epoch, so proxy-dynamic scores once, at step 0


@pytest.fixture(scope="module")
def tok():
    return rs.load_model("tiny-llama", causal_lm=True)[1]


@pytest.fixture(scope="module")
def rows(tok):
    rows = [CausalRow("prompt_response", prompt=f"Question: {a} plus {a % 7}?\nAnswer:", response=f" {a + a % 7}")
            for a in range(32)]
    return tokenize_causal(rows, tok, max_len=24)[0]


def _model(seed=0):
    torch.manual_seed(seed)
    return rs.load_model("tiny-llama", causal_lm=True)[0]


def _train(model, cb, rows, tok, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=STEPS, per_device_train_batch_size=BATCH,
                             learning_rate=1e-2, report_to=[], logging_strategy="steps", logging_steps=1,
                             save_strategy="no", use_cpu=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=causal_collate(tok), callbacks=[cb])
    trainer.train()
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def _nll(model, rows, tok):
    collate = causal_collate(tok)
    return evaluate_batches(model, CausalLM(), [collate(rows[i:i + 8]) for i in range(0, len(rows), 8)])["nll"]


@pytest.mark.parametrize("allocator, options", [("salient", {"T_i": 2, "T_f": 3}),
                                                ("adalora", {"tinit": 2, "tfinal": 2}),
                                                ("proxy-dynamic", {"proxy": "grad_norm", "n_batches": 2,
                                                                   "interval": 1.0})])
def test_causal_trainer_run_trains_within_the_budget(tmp_path, rows, tok, allocator, options):
    model = _model()
    cb = RankscopeCallback(allocator, "shortcuts", "r1", options=options)
    cb.prepare(model, total_steps=STEPS, train_dataset=rows, data_collator=causal_collate(tok), batch_size=BATCH)
    assert isinstance(cb.objective, CausalLM)  # a causal LM gets the causal objective
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    assert "lm_head.weight" in frozen  # no task head: only the adapters train
    adapters = {n: p.detach().clone() for n, p in cb.handle.adapters.named_parameters()}
    before = _nll(model, rows, tok)
    losses = _train(model, cb, rows, tok, tmp_path)

    assert cb.state.step == STEPS and len(losses) == STEPS and all(map(torch.isfinite, torch.tensor(losses)))
    assert _nll(model, rows, tok) < before  # learned the (training) answers
    moved = [n for n, p in cb.handle.adapters.named_parameters() if not torch.equal(p, adapters[n])]
    assert moved, "no adapter parameter changed"
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    budget = rs.Budget.parse("r1", cb.handle.space)
    assert 0 < cb.allocation.params <= budget.params
    rs.save_adapters(cb.handle, tmp_path / "ad")
    assert rs.load_adapters(_model(0), tmp_path / "ad").allocation == cb.allocation


def test_proxy_scoring_uses_the_causal_loss(tmp_path, rows, tok, monkeypatch):
    """proxy-dynamic's scores inside the Trainer are those of the CausalLM objective: every scoring
    batch goes through ``CausalLM.forward`` (the model is called without labels; the loss is the
    NLL on the target tokens), and they equal an independent ``score_edges`` with ``CausalLM``."""
    from rankscope.adapters.attach import attach
    from rankscope.scoring import get_proxy, score_edges

    calls = []
    forward = CausalLM.forward
    monkeypatch.setattr(CausalLM, "forward", lambda self, model, batch: calls.append(sorted(batch)) or
                        forward(self, model, batch))
    model = _model()
    cb = RankscopeCallback("proxy-dynamic", "shortcuts", "r1", options={"proxy": "grad_norm", "n_batches": 2,
                                                                          "interval": 1.0})
    cb.prepare(model, total_steps=STEPS, train_dataset=rows, data_collator=causal_collate(tok), batch_size=BATCH)
    _train(model, cb, rows, tok, tmp_path)
    rec = cb.describe()
    assert [r["step"] for r in rec["reallocations"]] == [0]
    assert calls == [["attention_mask", "input_ids", "labels"]] * 2  # the two scoring batches, once

    fresh = _model()  # the same untrained supernet, scored by hand with the causal objective
    batches = CallbackTrainer(STEPS, fresh, rows, causal_collate(tok), BATCH).scoring_batches(2, seed=0)
    handle = attach(fresh, cb.handle.space, cb.plan.allocation, seed=cb.seed)
    expected = score_edges(fresh, handle, CausalLM(), batches, [get_proxy("grad_norm")]).scores["grad_norm"]
    got = rec["scores"]["grad_norm"]
    assert set(got) == set(expected)
    assert all(got[e] == pytest.approx(expected[e], rel=1e-4, abs=1e-9) for e in expected)


@pytest.mark.parametrize("proxy", ["synflow", "alpha_test"])
def test_proxies_needing_more_than_the_model_loss(tmp_path, rows, tok, proxy):
    """synflow feeds ``inputs_embeds``; alpha_test needs task metrics (the causal dev NLL), which
    the model's own loss does not give."""
    model = _model()
    cb = RankscopeCallback("proxy-dynamic", "shortcuts", "r1", options={"proxy": proxy, "n_batches": 1,
                                                                          "interval": 1.0})
    cb.prepare(model, total_steps=STEPS, train_dataset=rows, data_collator=causal_collate(tok), batch_size=BATCH)
    _train(model, cb, rows, tok, tmp_path)
    scores = cb.describe()["scores"][proxy]
    assert set(scores) == {e.id for e in cb.handle.space.edges}
    assert all(torch.isfinite(torch.tensor(float(v))) for v in scores.values())
    assert 0 < cb.allocation.params <= rs.Budget.parse("r1", cb.handle.space).params


def test_classification_models_keep_the_model_loss():
    causal = scoring_objective(_model())
    assert isinstance(causal, CausalLM) and causal.primary == "nll"
    for family in ("bert", "llama"):  # a decoder with a sequence-classification head is not a causal LM
        objective = scoring_objective(make_tiny(family))
        assert not isinstance(objective, CausalLM) and objective.primary == "loss"
    mine = CausalLM()
    cb = RankscopeCallback("adalora", "shortcuts", "r1", options={"tinit": 2, "tfinal": 3}, objective=mine)
    cb.prepare(make_tiny("bert"), total_steps=12)
    assert cb.objective is mine


@pytest.mark.slow  # runs examples/causal_trainer.py in a new process
def test_causal_example_runs_and_saves_the_adapters(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from rankscope.tasks.causal.gsm8k import default_gsm8k_dir

    data = default_gsm8k_dir()
    if not Path(data, "train.jsonl").is_file():
        pytest.skip(f"GSM8K not found at {data} (set RANKSCOPE_GSM8K_DIR)")
    root = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, str(root / "examples" / "causal_trainer.py"), "--model", "tiny-llama",
                        "--max-steps", "8", "--max-train-samples", "32", "--max-dev-samples", "8", "--max-len", "64",
                        "--batch-size", "4", "--data-dir", str(data), "--out", str(tmp_path / "ad")],
                       check=False, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "scoring loss: causal NLL" in p.stdout and "adapter parameters of a" in p.stdout
    assert "allocation params" in p.stdout and "dev nll" in p.stdout
    from safetensors.torch import load_file

    assert load_file(str(tmp_path / "ad" / "adapter.safetensors"))  # the adapters, one tensor per parameter
    assert (tmp_path / "ad" / "allocation.json").is_file()
