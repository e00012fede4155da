"""The ``export`` command: a run's trained allocation as a plain PEFT adapter (``--peft``,
:mod:`rankscope.checkpoints.peft_export`), as a plain transformers model with the module edges merged into the
weights (``--merged``, :mod:`rankscope.checkpoints.merged_export`), its final ranks as a PEFT
``adapter_config.json`` to train from scratch (``--peft-config``,
:mod:`rankscope.checkpoints.peft_config`), or several. Each output is written into a
temporary directory beside it and renamed into place only once every requested output has been
written and checked, so a failure leaves nothing behind."""

from __future__ import annotations

import typer

from rankscope.cli.app import app
from rankscope.errors import InputError


def _check_target(flag: str, path: str, run_dir: str, overwrite: bool):
    """The output directory for ``flag``, refused if it overlaps the run, is a file, or exists
    without ``overwrite``."""
    from pathlib import Path

    from rankscope.search.rundir import check_dir_path

    out = check_dir_path(path, flag)
    src, dst = Path(run_dir).resolve(), out.resolve()
    if dst == src or src in dst.parents or dst in src.parents:  # --overwrite would delete the run itself
        raise InputError(f"{flag} {out} overlaps the run directory {run_dir}; write the export elsewhere")
    if out.exists() and not out.is_dir():
        raise InputError(f"{flag} {out} exists and is a file; give a directory path")
    if out.exists() and not overwrite:
        raise InputError(f"{flag} {out} already exists; pass --overwrite or choose another directory")
    return out


def _peft_line(out, summary: dict) -> str:
    rule = "lora_alpha/sqrt(r)" if summary["use_rslora"] else "lora_alpha/r"
    vllm = summary["vllm_max_lora_rank"] or f"a supported value >= {summary['max_rank']}"
    return (f"wrote {out}: {summary['modules']} modules, ranks {summary['min_rank']}-{summary['max_rank']}, "
            f"{summary['params']:,} adapter parameters, round trip {summary['round_trip']}; serving-safe: one "
            f"global scale {rule} = {summary['scale']:.4g} (per-module scales folded into lora_B); largest rank "
            f"{summary['max_rank']}, so serve with vLLM --max-lora-rank {vllm}"
            + ("; task_type CAUSAL_LM" if summary.get("task_type") == "CAUSAL_LM" else "")
            + (f"; the head is in modules_to_save ({', '.join(summary['modules_to_save'])}), which vLLM "
               "refuses" if summary["modules_to_save"] else "")
            + (f"; dropped shortcut edges: {', '.join(summary['dropped_shortcuts'])}" if summary["dropped_shortcuts"]
               else ""))


def _merged_line(out, summary: dict) -> str:
    return (f"wrote {out}: a plain transformers model ({summary['auto_class']}.from_pretrained) with "
            f"{summary['modules']} modules merged (W + s·B·A), round trip {summary['round_trip']}"
            + (f"; dropped shortcut edges: {', '.join(summary['dropped_shortcuts'])}" if summary["dropped_shortcuts"]
               else ""))


def _write_peft_config(run_dir, result: dict, model, tmp, out) -> str:
    """The run's final ranks (allocation.json) as a PEFT ``LoraConfig`` in ``tmp``
    (:mod:`rankscope.checkpoints.peft_config`): trained from scratch in the LoRA form at the run's α
    and scaling rule; an SVD-form run's ranks get the LoRA form's defaults (α 16, α/√r)."""
    from pathlib import Path

    import tomllib

    from rankscope.allocation.allocation import Allocation
    from rankscope.checkpoints.peft_config import check_builds, planned_lora_config, planned_ranks
    from rankscope.registry import SPACES

    toml = Path(run_dir) / "config.toml"
    cfg = tomllib.loads(toml.read_text()) if toml.is_file() else {}
    space = SPACES.get(result["space"])(model, max_rank=cfg.get("max_rank", 64))
    allocation = Allocation.from_json(Path(run_dir) / "allocation.json", space)
    lora_form = allocation.form == "lora"
    config = planned_lora_config(allocation, model, alpha=cfg.get("alpha") if lora_form else None,
                                 scaling=(cfg.get("scaling") or result.get("scaling")) if lora_form else None)
    ranks = planned_ranks(allocation)
    params = check_builds(config, model, ranks)
    config.save_pretrained(str(tmp))
    rule = "lora_alpha/sqrt(r_m)" if config.use_rslora else "lora_alpha/r_m"
    return (f"wrote {out}: adapter_config.json, {len(ranks)} modules, ranks {min(ranks.values())}-{max(ranks.values())}, "
            f"{params:,} adapter parameters as get_peft_model builds them, each module scaled by {rule} (lora_alpha "
            f"{config.lora_alpha})" + ("" if lora_form else "; the run trained the SVD form: these are its final "
                                       "ranks in the LoRA form at its defaults"))


@app.command("export")
def export(
    run_dir: str = typer.Argument(..., help="A run directory written by `rankscope search` (it holds adapter/)."),
    peft: str = typer.Option(None, "--peft", help="Write a PEFT LoRA adapter (adapter_config.json + weights) here."),
    peft_config: str = typer.Option(None, "--peft-config", help="Write only a PEFT adapter_config.json here: the run's final ranks as a LoraConfig to train from scratch in your own stack (LoraConfig.from_pretrained(DIR)); works for every allocator, in-training ones included."),
    merged: str = typer.Option(None, "--merged", help="Write a plain transformers model here (safetensors + tokenizer) with the module edges merged into the weights: W + s*B*A."),
    drop_shortcuts: bool = typer.Option(False, help="Export only the module edges of an allocation with shortcut edges (neither PEFT nor a merged model can hold shortcuts; outputs will differ)."),
    overwrite: bool = typer.Option(False, help="Replace --peft / --merged if they exist."),
    global_scaling: str = typer.Option("trained", help="The one scale rule written at the top level of --peft: trained (the run's, lora or rslora), lora (lora_alpha/r, for a loader that ignores use_rslora) or rslora (lora_alpha/sqrt(r)). Every choice gives the same function."),
):
    """Export a run's trained allocation: a PEFT adapter (--peft), a merged transformers model
    (--merged), its final ranks as a PEFT config to train elsewhere (--peft-config), or several.

    --peft: plain PEFT, serving-safe (each module's
    scale is folded into lora_B so that one global lora_alpha/r, what vLLM and LoRAX apply, and
    PEFT's rank_pattern/alpha_pattern give the same model); a causal-LM run gets task_type
    CAUSAL_LM. --merged: a plain transformers model with W <- W + s*B*A, loadable without
    rankscope or PEFT. Each is loaded back and its outputs checked against rankscope's."""
    import itertools
    import os
    import shutil
    import tempfile
    from pathlib import Path

    import tomllib

    from rankscope.adapters.attach import DEFAULT_ALPHA
    from rankscope.checkpoints.native import load_adapters
    from rankscope.harness.loop import seed_everything
    from rankscope.models.memory import prepare_base
    from rankscope.search.rundir import load_result
    from rankscope.tasks import task_kind

    if peft is None and merged is None and peft_config is None:
        raise InputError("nothing to export: give --peft DIR (a PEFT adapter), --merged DIR (a plain transformers "
                         "model with the adapters merged into its weights), --peft-config DIR (the final ranks as a "
                         "PEFT LoraConfig to train), or several")
    result = load_result(run_dir)
    if (peft or merged) and not (Path(run_dir) / "adapter" / "adapter.safetensors").is_file():
        raise InputError(f"{run_dir} has no trained adapters (adapter/): it failed, or an older rankscope wrote it")
    asked = {flag: path for flag, path in (("--peft", peft), ("--merged", merged), ("--peft-config", peft_config))
             if path is not None}
    outs = {flag: _check_target(flag, path, run_dir, overwrite) for flag, path in asked.items()}
    for (f1, a), (f2, b) in itertools.combinations(((f, p.resolve()) for f, p in outs.items()), 2):
        if a == b or a in b.parents or b in a.parents:
            raise InputError(f"{f1} {asked[f1]} and {f2} {asked[f2]} overlap; give separate directories")
    if global_scaling not in ("trained", "lora", "rslora"):
        raise InputError(f"unknown --global-scaling {global_scaling!r}; valid: trained, lora, rslora")
    kind = task_kind(result.get("task"))  # the base as the run loaded it (a decoder: its causal LM)

    def base():  # the search seeds before loading (random tiny models depend on it)
        seed_everything(result.get("seed", 0))
        dtype = result.get("dtype") or "float32"  # a run written before the setting: float32
        model, tokenizer = kind.load_model(result["model"], num_labels=result.get("num_labels"), dtype=dtype)
        return prepare_base(model, dtype), tokenizer  # the base as the run held it

    made, tmps, lines = [], {}, []
    umask = os.umask(0o22)
    os.umask(umask)
    try:
        for flag, out in outs.items():
            made += [p for p in [out.parent, *out.parent.parents] if not p.exists() and p not in made]
            out.parent.mkdir(parents=True, exist_ok=True)
            tmps[flag] = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
            tmps[flag].chmod(0o777 & ~umask)  # as a plain mkdir would make it (mkdtemp: owner only)
        if "--peft" in outs:
            from rankscope.checkpoints.peft_export import export_peft

            model = base()[0]
            handle = load_adapters(model, Path(run_dir) / "adapter")
            # the training scaling and α as the top-level use_rslora / lora_alpha (full-rank LoRA-form
            # modules then keep their B as trained); any choice gives the same function
            toml = Path(run_dir) / "config.toml"
            cfg = tomllib.loads(toml.read_text()) if toml.is_file() else {}
            alpha = (cfg.get("alpha") or DEFAULT_ALPHA["lora"]["lora"]) if handle.form == "lora" else None
            scaling = (cfg.get("scaling") or "lora") if global_scaling == "trained" else global_scaling
            summary, _ = export_peft(model, handle, tmps["--peft"], drop_shortcuts=drop_shortcuts,
                                     fresh_model=base()[0], alpha=alpha, scaling=scaling)
            lines.append(_peft_line(outs["--peft"], summary))
        if "--peft-config" in outs:
            lines.append(_write_peft_config(run_dir, result, base()[0], tmps["--peft-config"], outs["--peft-config"]))
        if "--merged" in outs:
            from rankscope.checkpoints.merged_export import export_merged

            model, tok = base()
            handle = load_adapters(model, Path(run_dir) / "adapter")
            summary = export_merged(model, handle, tmps["--merged"], tokenizer=tok, drop_shortcuts=drop_shortcuts)
            lines.append(_merged_line(outs["--merged"], summary))
        for flag, out in outs.items():  # every output written and checked: put them in place
            if out.exists():
                shutil.rmtree(out)
            tmps[flag].rename(out)
    finally:
        for tmp in tmps.values():
            shutil.rmtree(tmp, ignore_errors=True)
        for p in sorted(made, key=lambda p: len(p.parts), reverse=True):  # parents it made, left empty
            if p.is_dir() and not any(p.iterdir()):
                p.rmdir()
    for line in lines:
        typer.echo(line)
