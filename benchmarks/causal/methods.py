"""The GSM8K benchmark's methods, and one cell of it: one method, one seed, one learning rate, in this process.

rankscope's methods run as ``rankscope search`` runs them (:func:`rankscope.search.pipeline.run` in a
:class:`~rankscope.search.session.Session`); PEFT's methods wrap the session's own base model and train
through the session's harness (:class:`rankscope.harness.loop.Harness`): the same data, order,
schedule, clipping and seeds, and the same dev and test scoring.
"""

from __future__ import annotations

import math
import tempfile
import time

MODULES = {"query": "q_proj", "key": "k_proj", "value": "v_proj", "attn_out": "o_proj", "gate": "gate_proj",
           "ffn_in": "up_proj", "ffn_out": "down_proj"}
MLP_TYPES = ("gate", "ffn_in", "ffn_out")
#: PEFT's default target modules for LLaMA-family models
QV_TYPES = ("query", "value")
#: method -> its label in the table
METHODS = {
    "uniform": "uniform LoRA",
    "mlp-uniform": "MLP-only uniform LoRA",
    "qv-uniform": "q/v-only uniform LoRA (PEFT's default placement)",
    "peft-lora": "PEFT LoRA (same ranks)",
    "peft-eva": "PEFT EVA (rho=2)",
    "peft-adalora": "PEFT AdaLoRA",
    "peft-posthoc": "PEFT post-hoc ranks (4x rank, energy share), retrained",
    "adalora": "rankscope adalora",
    "proxy-static": "rankscope proxy-static",
    "proxy-static-auto": "rankscope proxy-static (K a tenth of the steps)",
    "proxy-spectral": "rankscope proxy-static (spectral)",
    "proxy-greedy": "rankscope proxy-greedy (before training)",
    "proxy-grow": "rankscope proxy-grow (in training)",
    "salient": "rankscope salient",
    "optuna": "rankscope optuna",
}
#: the proxy methods score K = 8 batches, the default when their rows were measured;
#: ``proxy-static-auto`` is today's default, K a tenth of the run's steps (4 at 40 steps)
K8 = {"n_batches": 8}
ALLOCATORS = {"uniform": ("uniform", {}), "adalora": ("adalora", {}), "salient": ("salient", {}),
              "proxy-static": ("proxy-static", K8), "proxy-spectral": ("proxy-static", {"proxy": "spectral", **K8}),
              "proxy-static-auto": ("proxy-static", {"n_batches": "auto"}),
              "proxy-greedy": ("proxy-greedy", K8), "proxy-grow": ("proxy-grow", K8)}
#: rankscope's allocators over the ``shortcuts`` space, at the budget's parameters counted in the
#: ``lora`` space (``--budget-space lora``): paired against uniform LoRA at equal parameters
SPACE = {f"{m}@shortcuts": "shortcuts" for m in ("proxy-static", "proxy-greedy", "proxy-grow", "salient")}
ALLOCATORS.update({name: ALLOCATORS[name.split("@")[0]] for name in SPACE})
METHODS.update({name: f"{METHODS[name.split('@')[0]]} · shortcuts" for name in SPACE})


def config(settings: dict, seed: int, lr: float | None, allocator: str = "uniform", options: dict | None = None,
           space: str = "lora"):
    from rankscope.search.config import SearchConfig

    return SearchConfig(
        model=settings["model"], task="gsm8k", space=space, allocator=allocator, allocator_options=options or {},
        budget_space="lora" if space != "lora" else None,
        budget=settings["budget"], seed=seed, max_steps=settings["steps"], lr=lr, batch_size=settings["batch_size"],
        eval_batch_size=8, max_len=settings["max_len"], max_train_samples=settings["max_train_samples"],
        max_dev_samples=settings["max_dev_samples"], exact_match=settings["exact_match"],
        max_new_tokens=settings["max_new_tokens"], eval_every=settings["steps"], device=settings["device"],
        scaling=settings.get("scaling"),
    ).resolved()


def ranks_by_type(allocation) -> dict:
    """Mean rank per edge type (the placement at a glance)."""
    out: dict = {}
    for e in allocation.space.edges:
        out.setdefault(e.type, []).append(allocation.ranks.get(e.id, 0))
    return {t: round(sum(v) / len(v), 2) for t, v in out.items()}


def run_cell(cell: dict, settings: dict) -> dict:
    """One method's cell (the ``speed`` cell is :mod:`.speed`'s, dispatched by the CLI)."""
    from rankscope.search.pipeline import peak_rss_mb
    from rankscope.search.session import Session

    method, seed, lr = cell["method"], cell["seed"], cell["lr"]
    extra = {"n_trials": settings["optuna_trials"], "trial_steps": max(2, settings["steps"] // 3)}
    name, options = ("optuna", extra) if method == "optuna" else ALLOCATORS.get(method, ("uniform", {}))
    cfg = config(settings, seed, lr, name, options, SPACE.get(method, "lora"))
    session = Session(cfg, progress=False)
    t0 = time.perf_counter()
    if method in ALLOCATORS or method == "optuna":
        row = rankscope_row(session, cfg)
    elif method in ("mlp-uniform", "qv-uniform"):
        row = allocation_row(session, placement_allocation(session, MLP_TYPES if method == "mlp-uniform" else QV_TYPES))
    elif method == "peft-posthoc":
        from .posthoc import posthoc_allocation

        allocation, record = posthoc_allocation(session, train_peft_lora)
        row = {**allocation_row(session, allocation), **record}
    else:
        row = peft_row(session, method)
    # the protocol's reading of a row (benchmarks.protocol.sweep.score): dev NLL, lower is better
    scored = {"final": {"nll": row["dev_nll"]}} if row.get("dev_nll") is not None else {}
    return {**cell, **row, **scored, "primary": "nll", "greater_is_better": False,
            "total_s": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb(),
            "steps": session.total_steps, "budget_params": session.budget.params}


def metrics_row(final: dict, train_s: float, eval_s: float, steps: int) -> dict:
    return {"dev_nll": final.get("nll"), "perplexity": final.get("perplexity"),
            "exact_match": final.get("test_exact_match"), "test_problems": final.get("test_problems"),
            "step_s": (train_s - eval_s) / max(1, steps)}


def rankscope_row(session, cfg) -> dict:
    from rankscope.search.pipeline import run
    from rankscope.search.validate import build_allocator

    with tempfile.TemporaryDirectory() as workdir:  # the Optuna study's storage
        result = run(session, build_allocator(cfg), workdir=workdir)
    if not result.completed:
        return {"failure": result.failure["reason"]}
    t = result.timing
    return {"params": result.final.params, "ranks": ranks_by_type(result.final), "allocate_s": t["allocate_s"],
            "test_s": t["test_s"], **metrics_row(result.metrics["final"], t["train_s"], t["eval_s"],
                                                  session.total_steps)}


def placement_allocation(session, types):
    """The largest uniform rank on the edges of ``types`` alone whose parameters fit the budget
    (MLP-only: gate/up/down; PEFT's default placement: q/v)."""
    from rankscope.allocation.allocation import Allocation

    chosen = [e for e in session.space.edges if e.type in types]
    r = 1
    while Allocation(session.space, {e.id: r + 1 for e in chosen}).params <= session.budget.params:
        r += 1
    return Allocation(session.space, {e.id: r for e in chosen})


def allocation_row(session, allocation) -> dict:
    outcome = session.train(allocation, score_test=True, progress=False)
    return {"params": allocation.params, "ranks": ranks_by_type(allocation), "test_s": outcome.test_s,
            **metrics_row(outcome.final, outcome.train_s, outcome.eval_s, outcome.steps)}


class CausalLMWithModelLoss:
    """The causal objective, except that the loss is the model's own (``labels`` passed), so that
    PEFT AdaLoRA adds its orthogonality penalty as it does in PEFT's training; the dev metrics
    are the ones :class:`~rankscope.harness.objectives.CausalLM` computes."""

    def __init__(self, base):
        self.base, self.primary, self.greater_is_better = base, base.primary, base.greater_is_better

    def forward(self, model, batch):
        out = model(**batch)  # labels passed: the model's loss, plus AdaLoRA's penalty in training
        nll, count = self.base.summed_nll(out.logits, batch["labels"])
        return out.loss, nll.detach().reshape(1), count.reshape(1)

    def metrics(self, preds, targets):
        return self.base.metrics(preds, targets)


def peft_lora_config(session, r: int, **kw):
    """PEFT's LoraConfig at rank ``r`` on the session's projections, under the run's scaling rule
    (``use_rslora`` for α/√r, as rankscope's own methods train)."""
    import peft

    modules = sorted({MODULES[e.type] for e in session.space.edges})
    return peft.LoraConfig(r=r, lora_alpha=16, lora_dropout=0.0, target_modules=modules, task_type="CAUSAL_LM",
                           use_rslora=session.cfg.scaling == "rslora", **kw)


def train_peft_lora(session, r: int):
    """PEFT LoRA at rank ``r`` on the session's base model, trained through the session's harness
    (the same rows, order, schedule and lr); the trained PEFT model."""
    import peft

    from rankscope.harness.loop import Harness, seed_everything

    seed_everything(session.cfg.seed)
    pm = peft.get_peft_model(session.model, peft_lora_config(session, r))
    Harness(session.task, session.cfg).train(pm, None, None, progress=False)
    return pm


def peft_row(session, method: str) -> dict:
    import dataclasses

    import peft

    from benchmarks.common.rows import PeftAllocate, peft_params
    from rankscope.harness.data import batches
    from rankscope.harness.loop import Harness, seed_everything

    uniform = session.uniform()
    ranks = sorted(set(uniform.ranks.values()))
    r = ranks[-1]
    modules = sorted({MODULES[e.type] for e in session.space.edges})
    steps, cfg = session.total_steps, session.cfg
    seed_everything(cfg.seed)
    task, hook, t0 = session.task, None, time.perf_counter()
    if method == "peft-adalora":
        init_r = int(math.ceil(1.5 * r))
        pc = peft.AdaLoraConfig(init_r=init_r, target_r=r, tinit=int(0.1 * steps), tfinal=int(0.4 * steps),
                                deltaT=1, total_step=steps, lora_alpha=32, orth_reg_weight=cfg.orth_reg,
                                target_modules=modules, task_type="CAUSAL_LM")
    else:
        kw = {"init_lora_weights": "eva", "eva_config": peft.EvaConfig(rho=2.0)} if method == "peft-eva" else {}
        pc = peft_lora_config(session, r, **kw)
    pm = peft.get_peft_model(session.model, pc)
    if method == "peft-eva":  # EVA's SVD of the layer inputs, on training batches (labels mask the prompt)
        data = list(batches(task.train[:cfg.batch_size * 16], cfg.batch_size, task.collate, shuffle=False))
        peft.initialize_lora_eva_weights(pm, data, show_progress_bar=False)
    if method == "peft-adalora":
        hook = PeftAllocate(pm)
        task = dataclasses.replace(task, objective=CausalLMWithModelLoss(task.objective))
    allocate_s = time.perf_counter() - t0
    outcome = Harness(task, cfg).train(pm, None, hook, progress=False)
    final = dict(outcome.final)
    t_test = time.perf_counter()
    final.update(session.loaded.test_scorer(pm) if session.loaded.test_scorer else {})
    params, type_ranks = peft_params(pm, session)
    return {"params": params, "ranks": type_ranks, "allocate_s": allocate_s, "test_s": time.perf_counter() - t_test,
            **metrics_row(final, outcome.train_s, outcome.eval_s, outcome.steps)}
