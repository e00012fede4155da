"""``rankscope plan``: score and allocate, train nothing, and hand the plan to another trainer.

The same straight line as a search (:mod:`.pipeline`), stopped before the training::

    validate(cfg) ─► allocator            before-training allocators only (``before_training``)
    Session(cfg)                          model, space, task, budget: loaded once, as a search does
    allocator.propose(ctx) ─► Plan        the allocation (no step hook)
    planned_lora_config(allocation)       PEFT's LoraConfig for it (module edges only), checked by
                                          building it with get_peft_model
    ─► the plan directory                 adapter_config.json, allocation.json, plan.json,
                                          plan.md, config.toml; written beside --out and renamed

``plan.json`` is the machine-readable record (budget, ranks per edge, the PEFT summary or why
there is none, and where the time went: loading, the task's data, allocating). ``config.toml``
reproduces the plan (``rankscope plan --config``) or trains it in rankscope
(``rankscope search --config``).

>>> from rankscope.search.config import SearchConfig
>>> cfg = SearchConfig(model="tiny-llama", task="planted", space="lora", allocator="proxy-static",
...                    allocator_options={"n_batches": 2},
...                    planted={"n_train": 64, "n_dev": 16, "seq_len": 8, "n_plants": 2}).resolved()
>>> record, config, allocation = make_plan(cfg, progress=False)
>>> record["peft"]["written"], config.use_rslora, record["allocation"]["params"] <= record["budget"]["params"]
(True, True, True)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rankscope._version import __version__
from rankscope.adapters.lora import DEFAULT_SCALING
from rankscope.allocators import ALLOCATORS, Allocator
from rankscope.errors import InputError, TrainingError
from rankscope.io import atomic_write_text
from rankscope.search.config import SearchConfig
from rankscope.search.result import allocation_record
from rankscope.search.rundir import write_beside
from rankscope.search.session import Session
from rankscope.search.validate import validate

SCHEMA = 1


def before_training_allocators() -> list[str]:
    """The registered allocators that declare ``before_training``."""
    return [n for n in ALLOCATORS.names() if getattr(ALLOCATORS.get(n), "before_training", None)]


def refuse_in_training(name: str) -> InputError:
    return InputError(
        f"allocator {name!r} allocates during training (its ranks come from the training itself), so there is "
        f"nothing to plan before training. Train it with `rankscope search --allocator {name} ...`, then write "
        f"its final ranks as a PEFT config with `rankscope export RUN --peft-config DIR`. Allocators that plan "
        f"before training: {', '.join(before_training_allocators())}")


def check_plannable(cfg: SearchConfig) -> Allocator:
    """Validate ``cfg`` and refuse an allocator that declares it allocates during training."""
    allocator = validate(cfg)
    if allocator.before_training is False:
        raise refuse_in_training(cfg.allocator)
    return allocator


def make_plan(cfg: SearchConfig, progress: bool = True, allocator: Allocator | None = None) -> tuple:
    """Load the session, propose, and build the PEFT config: ``(plan.json's record, LoraConfig or
    None, Allocation)``. No config when the allocation gives rank to shortcut edges (the record
    says why)."""
    from rankscope.checkpoints.peft_config import check_builds, planned_lora_config, planned_ranks

    allocator = allocator or check_plannable(cfg)
    t0 = time.perf_counter()
    session = Session(cfg, progress)
    t1 = time.perf_counter()
    plan = allocator.propose(session.context())
    allocate_s = time.perf_counter() - t1
    if plan.hook is not None:  # an allocator that declared nothing
        raise refuse_in_training(cfg.allocator)
    allocation, budget = plan.allocation, session.budget
    if allocation.params > budget.params:
        raise TrainingError(f"allocator {cfg.allocator!r} proposed {allocation.params:,} parameters over the "
                            f"budget of {budget.params:,}")
    scaling = cfg.scaling or DEFAULT_SCALING
    peft, config = {"written": False, "reason": None}, None
    try:
        ranks = planned_ranks(allocation)
    except InputError as exc:
        peft["reason"] = str(exc)
    else:
        config = planned_lora_config(allocation, session.model, alpha=cfg.alpha, scaling=scaling)
        peft.update(written=True, modules=len(ranks), min_rank=min(ranks.values()), max_rank=max(ranks.values()),
                    lora_alpha=config.lora_alpha, use_rslora=config.use_rslora, task_type=config.task_type,
                    params=check_builds(config, session.model, ranks))
    record = {"schema": SCHEMA, "rankscope_version": __version__, "model": cfg.model, "task": cfg.task,
              "space": cfg.space, "allocator": cfg.allocator, "seed": cfg.seed, "scaling": scaling,
              "budget": budget.to_dict(), "allocation": allocation_record(allocation), "peft": peft,
              "train_steps": session.total_steps, "batch_size": cfg.batch_size, "lr": cfg.lr,
              "extras": {"allocator": plan.describe()},
              "timing": {**session.timing, "allocate_s": allocate_s, "total_s": time.perf_counter() - t0}}
    return record, config, allocation


def plan_markdown(record: dict) -> str:
    """``plan.md``: the header, the ranks by block × edge type, and the cost of planning."""
    from rankscope.display.tables import Table, fmt_int, fmt_seconds, text
    from rankscope.report.markdown import cell, table_md
    from rankscope.report.tables import rank_table

    budget, peft, timing = record["budget"], record["peft"], record["timing"]
    title = f"# Plan: {cell(text(record['allocator']))} on {cell(text(record['model']))} / {cell(text(record['task']))}"
    planned = (f"{cell(text(budget.get('spec')))} = {fmt_int(budget.get('params'))} adapter parameters; planned "
               f"{fmt_int(record['allocation']['params'])}")
    config = (f"adapter_config.json ({peft['modules']} modules, ranks {peft['min_rank']}–{peft['max_rank']})"
              if peft["written"] else f"not written: {cell(text(peft['reason']))}")
    head = [title, "", f"- **space**: {cell(text(record['space']))}", f"- **budget**: {planned}",
            f"- **scaling**: {record['scaling']}; seed {record['seed']}", f"- **PEFT config**: {config}"]
    cost = Table("cost", "Cost of planning", ["step", "seconds"],
                 [["load the model and the space", fmt_seconds(timing.get("load_s"))],
                  ["prepare the task's data", fmt_seconds(timing.get("task_s"))],
                  ["allocate (score, choose)", fmt_seconds(timing.get("allocate_s"))],
                  ["total", fmt_seconds(timing.get("total_s"))]],
                 f"the plan is for {record['train_steps']} optimizer steps of batch {record['batch_size']}")
    return "\n".join(head + ["", table_md(rank_table(record["allocation"]["edges"])), "", table_md(cost)]) + "\n"


def write_plan(out: Path, record: dict, config, allocation_json: str, config_toml: str, overwrite: bool) -> Path:
    """Write the plan directory beside ``out`` and rename it into place (:func:`.rundir.write_beside`):
    a failure leaves nothing behind, not even the parents it made."""
    def fill(tmp: Path) -> None:
        if config is not None:
            config.save_pretrained(str(tmp))  # adapter_config.json, as PEFT itself writes it
        atomic_write_text(tmp / "allocation.json", allocation_json + "\n")
        atomic_write_text(tmp / "plan.json", json.dumps(record, indent=2, allow_nan=False) + "\n")
        atomic_write_text(tmp / "plan.md", plan_markdown(record))
        atomic_write_text(tmp / "config.toml", config_toml)

    out = Path(out)
    made = [p for p in [out.parent, *out.parent.parents] if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        return write_beside(out, fill, overwrite)
    except BaseException:
        for p in sorted(made, key=lambda p: len(p.parts), reverse=True):
            if p.is_dir() and not any(p.iterdir()):
                p.rmdir()
        raise
