"""``rankscope plan``: the flags of ``search`` (less ``--baseline`` and ``--trials-only``) for
before-training allocators; it scores and allocates, trains nothing, and writes a plan directory
whose ``adapter_config.json`` PEFT, TRL, axolotl or an ``accelerate`` script train
(:mod:`rankscope.search.planning`). Settings are resolved and validated exactly as ``search``
resolves them, and ``--out`` is checked before anything loads."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from rankscope.cli.app import app
from rankscope.cli.search import _signature, resolve

EXCLUDED = ("baseline", "trials_only")


def peft_line(record: dict, out: Path) -> str:
    peft = record["peft"]
    if not peft["written"]:
        return f"no adapter_config.json: {peft['reason']}"
    rule = "lora_alpha/sqrt(r_m)" if peft["use_rslora"] else "lora_alpha/r_m"
    return (f"adapter_config.json: {peft['modules']} modules, ranks {peft['min_rank']}-{peft['max_rank']}, "
            f"{peft['params']:,} adapter parameters as get_peft_model builds them; each module scaled by {rule} "
            f"(lora_alpha {peft['lora_alpha']}). Train it: LoraConfig.from_pretrained({str(out)!r})")


def plan(**flags):
    """Plan a LoRA budget without training it: score and allocate with a before-training
    allocator (uniform, proxy-static, proxy-greedy, optuna), then write a PEFT adapter_config.json
    (LoraConfig.from_pretrained(DIR) builds exactly the planned ranks), allocation.json, plan.json,
    plan.md and config.toml. Train the plan in your own stack (PEFT, TRL's SFTTrainer, axolotl),
    or in rankscope with `rankscope search --config DIR/config.toml`."""
    from rankscope.display.tables import fmt_seconds
    from rankscope.report.tables import rank_table
    from rankscope.report.terminal import table_text
    from rankscope.search.planning import check_plannable, make_plan, write_plan
    from rankscope.search.rundir import check_dir_path, check_out, default_out

    cfg = resolve(flags)
    allocator = check_plannable(cfg)  # every setting, once, before anything loads
    out = check_dir_path(flags["out"], "--out") if flags["out"] is not None else default_out(cfg, root="plans")
    check_out(out, flags["overwrite"])
    record, config, allocation = make_plan(cfg, progress=not flags["quiet"], allocator=allocator)
    write_plan(out, record, config, allocation.to_json(), cfg.to_toml(), flags["overwrite"])
    if flags["json_out"]:
        typer.echo(json.dumps(record, indent=2))
        return
    t = record["timing"]
    typer.echo(table_text(rank_table(record["allocation"]["edges"])))
    typer.echo(f"\nplanned {record['allocation']['params']:,} of {record['budget']['params']:,} adapter parameters "
               f"(budget {record['budget']['spec']}); allocating took {fmt_seconds(t['allocate_s'])} s "
               f"(loading {fmt_seconds(t['load_s'])} s, data {fmt_seconds(t['task_s'])} s)")
    typer.echo(peft_line(record, out))
    typer.echo(f"plan directory: {out}")


plan.__signature__, plan.__annotations__ = _signature(exclude=EXCLUDED)
app.command("plan")(plan)
