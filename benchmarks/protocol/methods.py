"""The protocol's methods, and one cell of it: one task, method, learning rate and seed, in this process.

rankscope's methods run as ``rankscope search`` runs them (:func:`rankscope.search.pipeline.run` in a
:class:`~rankscope.search.session.Session`, no extra baselines). PEFT's EVA wraps the session's own
base model and trains through the session's harness (:class:`rankscope.harness.loop.Harness`):
the same rows, order, schedule, clipping, seeds and dev scoring.
"""

from __future__ import annotations

import time

#: method -> (label, rankscope allocator and options, or None for a PEFT method). ``proxy`` is the
#: best before-training proxy configuration on the planted task; ``greedy`` and ``grow`` are the
#: forward-selection allocators (``proxy-greedy``, ``proxy-grow``).
METHODS = {
    "uniform": ("uniform LoRA", ("uniform", {})),
    "proxy": ("proxy-static (spectral, on/off)", ("proxy-static", {"proxy": "spectral", "granularity": "edge"})),
    "salient": ("salient", ("salient", {})),
    "adalora": ("adalora", ("adalora", {})),
    "greedy": ("proxy-greedy (before training)", ("proxy-greedy", {})),
    "grow": ("proxy-grow (in training)", ("proxy-grow", {})),
    "peft-eva": ("PEFT EVA (ρ = 2)", None),
}
#: the same allocators over the ``shortcuts`` space (LoRA-adapted shortcut connections, the space
#: of HeteroLoRA's MRPC gain), at the parameters of the protocol's budget counted in its own space
#: (``--budget-space``): paired against uniform LoRA at equal parameters. Run them by name
#: (``--methods uniform,proxy@shortcuts``); the default method list is the first protocol's.
SPACE = {f"{m}@shortcuts": "shortcuts" for m in ("proxy", "salient", "greedy", "grow")}
DEFAULT_METHODS = list(METHODS)
METHODS.update({name: (f"{METHODS[name.split('@')[0]][0]} · shortcuts", METHODS[name.split("@")[0]][1])
                for name in SPACE})
def default_methods(rows: list) -> list[str]:
    """The first protocol's methods, then any other method a results file already holds."""
    held = [m for m in METHODS if m not in DEFAULT_METHODS and any(r.get("method") == m for r in rows)]
    return [*DEFAULT_METHODS, *held]


#: methods whose adapters are SVD-form (P·diag(λ)·Q): their sweep runs at ``svd_alpha``
SVD_FORM = ("salient", "adalora", "salient@shortcuts")
#: PEFT EVA's settings: ρ (EvaConfig.rho) and the training batches its SVD runs on
EVA = {"rho": 2.0, "svd_batches": 16}


def method_options(settings: dict, method: str) -> tuple[str, dict]:
    """(rankscope allocator, its options) of a method under ``settings``; PEFT EVA: ("peft-eva",
    :data:`EVA`). Every row records these, and the protocol refuses a results file whose rows
    were run with other options under the same method name (a changed method needs a new name)."""
    if METHODS[method][1] is None:
        return "peft-eva", dict(EVA)
    name, options = METHODS[method][1]
    if name.startswith("proxy-") and settings.get("n_batches"):  # --quick: fewer scoring batches
        options = {**options, "n_batches": settings["n_batches"]}
    return name, dict(options)


def scaling_of(settings: dict) -> str:
    """The LoRA form's rule the cells of ``settings`` train under (α/r where none is recorded:
    the first protocol's settings predate the key)."""
    return settings.get("scaling", "lora")


def config(settings: dict, task: str, method: str, seed: int, lr: float):
    from rankscope.search.config import SearchConfig

    name, options = method_options(settings, method)
    if name == "peft-eva":  # EVA's session is uniform's: its rank, modules and data
        name, options = "uniform", {}
    space = SPACE.get(method, settings["space"])
    return SearchConfig(
        model=settings["model"], task=task, space=space, allocator=name, allocator_options=dict(options),
        budget_space=settings["space"] if space != settings["space"] else None,
        budget=settings["budget"], seed=seed, epochs=settings["epochs"], max_steps=settings["steps"], lr=lr,
        batch_size=settings["batch_size"], max_len=settings["max_len"],
        max_train_samples=settings["max_train_samples"], max_dev_samples=settings["max_dev_samples"],
        eval_every=settings["eval_every"], svd_alpha=settings["svd_alpha"], device=settings["device"],
        scaling=scaling_of(settings),
    ).resolved()  # the data: $RANKSCOPE_GLUE_DIR, set by the CLI


def run_cell(cell: dict, settings: dict) -> dict:
    from rankscope.search.pipeline import peak_rss_mb
    from rankscope.search.session import Session

    cfg = config(settings, cell["task"], cell["method"], cell["seed"], cell["lr"])
    session = Session(cfg, progress=False)
    t0 = time.perf_counter()
    row = rankscope_row(session, cfg) if METHODS[cell["method"]][1] else peft_eva_row(session)
    return {**cell, **row, "options": method_options(settings, cell["method"])[1],
            "primary": session.objective.primary, "total_s": time.perf_counter() - t0, "steps": session.total_steps,
            "budget_params": session.budget.params, "peak_rss_mb": peak_rss_mb()}


def rankscope_row(session, cfg) -> dict:
    from rankscope.search.pipeline import run
    from rankscope.search.validate import build_allocator

    result = run(session, build_allocator(cfg))
    if not result.completed:
        return {"failure": result.failure["reason"]}
    t = result.timing
    return {"params": result.final.params, "final": result.metrics["final"], "best": result.metrics["best"],
            "allocate_s": t["allocate_s"], "train_s": t["train_s"], "eval_s": t["eval_s"]}


def peft_eva_row(session) -> dict:
    """PEFT LoRA with EVA initialisation (Paischer et al. 2024): ``init_lora_weights="eva"``,
    ``EvaConfig(rho=2)``, r = uniform's rank on the same modules, α as rankscope's LoRA, the
    classifier in ``modules_to_save``; EVA's SVD runs on 16 training batches (:data:`EVA`).

    **The same parameter budget.** PEFT's EVA keeps the total *rank* (r × modules) and moves it
    to the modules whose inputs explain the most variance, up to ρ·r each. On MiniLM a rank of
    a query costs 384 + 384 parameters and one of an FFN matrix 384 + 1536, so moving rank from
    attention to the FFN went 11 % over uniform's parameter count on MRPC (92,160 vs 82,944).
    So EVA runs once per group of modules with the same cost per rank (d_in + d_out) through
    PEFT's own ``get_eva_state_dict``: it redistributes within each group with its own rule,
    and every group keeps exactly uniform's parameters. The cell refuses to train if the result
    is still above the budget."""
    from benchmarks.common.rows import peft_params
    from rankscope.harness.loop import Harness

    t0 = time.perf_counter()
    pm = eva_model(session)
    allocate_s = time.perf_counter() - t0
    params, mean_rank = peft_params(pm, session)
    if params > session.budget.params:
        return {"params": params, "failure": f"EVA allocated {params:,} adapter parameters, above the budget of "
                                             f"{session.budget.params:,}"}
    outcome = Harness(session.task, session.cfg).train(pm, None, None, progress=False)
    return {"params": params, "final": outcome.final, "best": outcome.best, "allocate_s": allocate_s,
            "train_s": outcome.train_s, "eval_s": outcome.eval_s, "mean_rank": mean_rank}


def eva_model(session):
    """The PeftModel of :func:`peft_eva_row`, EVA-initialised on the session's base model (seeded
    with the session's seed): per cost group, PEFT's ``get_eva_state_dict`` on the first
    :data:`EVA` ``["svd_batches"]`` training batches, then ``initialize_lora_eva_weights``."""
    import peft

    from rankscope.adapters.attach import DEFAULT_ALPHA
    from rankscope.harness.data import batches
    from rankscope.harness.loop import seed_everything
    from rankscope.models.loading import head_modules

    cfg, task = session.cfg, session.task
    r = max(session.uniform().ranks.values())
    by_cost = {}
    for e in session.space.edges:
        by_cost.setdefault(e.d_in + e.d_out, set()).add(e.module)
    seed_everything(cfg.seed)
    alpha = cfg.alpha or DEFAULT_ALPHA["lora"]["lora"]

    def lora_config(modules):
        return peft.LoraConfig(r=r, lora_alpha=alpha, use_rslora=cfg.scaling == "rslora", lora_dropout=0.0,
                               target_modules=sorted(modules),
                               task_type="SEQ_CLS", modules_to_save=sorted(head_modules(session.model)),
                               init_lora_weights="eva", eva_config=peft.EvaConfig(rho=EVA["rho"]))
    data = [{k: v for k, v in b.items() if k != "labels"}
            for b in batches(task.train[:cfg.batch_size * EVA["svd_batches"]], cfg.batch_size, task.collate,
                             shuffle=False)]
    components = {}  # on the base model, before PEFT wraps it; keys as the PeftModel names them
    for modules in by_cost.values():
        group = peft.get_eva_state_dict(session.model, data, peft_config=lora_config(modules), show_progress_bar=False)
        components.update({f"base_model.model.{name}": u for name, u in group.items()})
    pm = peft.get_peft_model(session.model, lora_config(set().union(*by_cost.values())))
    peft.initialize_lora_eva_weights(pm, eva_state_dict=components, show_progress_bar=False)
    return pm
