"""The commands that read what runs wrote, and list what is registered: ``ls``, ``show``,
``report``, ``export`` and ``show-space``."""

from __future__ import annotations

from enum import Enum

import typer

from ..errors import InputError
from .app import app


class Listable(str, Enum):
    spaces = "spaces"
    allocators = "allocators"
    proxies = "proxies"
    models = "models"
    tasks = "tasks"


def names_for(kind: str) -> list[str]:
    """The names a CLI choice accepts: exactly the registry's."""
    from .. import MODELS, SPACES
    from ..allocators import ALLOCATORS
    from ..scoring import PROXIES
    from ..tasks import task_names

    if kind == "tasks":
        return task_names()
    return {"spaces": SPACES, "models": MODELS, "allocators": ALLOCATORS, "proxies": PROXIES}[kind].names()


@app.command("ls")
def ls(kind: Listable = typer.Argument(..., help="What to list.")):
    """List registered names: spaces, allocators, proxies, models or tasks."""
    for name in names_for(kind.value):
        typer.echo(name)


@app.command("show")
def show(run_dir: str = typer.Argument(..., help="A run directory written by `rankscope search`.")):
    """Print a terminal summary of one run."""
    from ..report import render_terminal
    from ..rundir import load_result

    typer.echo(render_terminal(load_result(run_dir)))


@app.command("report")
def report(
    run_dirs: list[str] = typer.Argument(..., help="Run directories to compare."),
    out: str = typer.Option(None, help="Write report.md and report.html into this directory (default: print Markdown)."),
):
    """Compare several runs in one report (Markdown to stdout, or Markdown + HTML files)."""
    from pathlib import Path

    from ..io import atomic_write_text
    from ..report import render_comparison_html, render_comparison_markdown
    from ..rundir import load_result

    results = []
    for d in run_dirs:
        r = load_result(d)
        r.setdefault("run_name", Path(d).name)
        results.append(r)
    md = render_comparison_markdown(results)
    if out:
        atomic_write_text(Path(out) / "report.md", md)
        atomic_write_text(Path(out) / "report.html", render_comparison_html(results))
        typer.echo(f"wrote {out}/report.md and {out}/report.html")
    else:
        typer.echo(md)


@app.command("export")
def export(
    run_dir: str = typer.Argument(..., help="A run directory written by `rankscope search` (it holds adapter/)."),
    peft: str = typer.Option(..., "--peft", help="Write a PEFT LoRA adapter (adapter_config.json + weights) here."),
    drop_shortcuts: bool = typer.Option(False, help="Export only the module edges of an allocation with shortcut edges (PEFT cannot hold shortcuts; outputs will differ)."),
    overwrite: bool = typer.Option(False, help="Replace --peft if it exists."),
    global_scaling: str = typer.Option("trained", help="The one scale rule written at the top level: trained (the run's, lora or rslora), lora (lora_alpha/r, for a loader that ignores use_rslora) or rslora (lora_alpha/sqrt(r)). Every choice gives the same function."),
):
    """Export a run's trained LoRA allocation to plain PEFT, serving-safe: each module's scale is
    folded into lora_B so that one global lora_alpha/r (what vLLM and LoRAX apply) and PEFT's
    rank_pattern/alpha_pattern give the same model. Then load it back with PEFT and check every
    module's r and scaling, and the outputs."""
    import shutil
    import tempfile
    import tomllib
    from pathlib import Path

    from ..adapter_io import load_adapters
    from ..attach import DEFAULT_ALPHA
    from ..export import export_peft
    from ..harness.loop import seed_everything
    from ..models import load_model
    from ..rundir import load_result

    result, out = load_result(run_dir), Path(peft)
    if not (Path(run_dir) / "adapter" / "adapter.safetensors").is_file():
        raise InputError(f"{run_dir} has no trained adapters (adapter/): it failed, or an older rankscope wrote it")
    if out.exists() and not overwrite:
        raise InputError(f"--peft {out} already exists; pass --overwrite or choose another directory")
    if global_scaling not in ("trained", "lora", "rslora"):
        raise InputError(f"unknown --global-scaling {global_scaling!r}; valid: trained, lora, rslora")

    def base():  # the search seeds before loading (random tiny models depend on it)
        seed_everything(result.get("seed", 0))
        return load_model(result["model"], result.get("num_labels"))[0]
    model = base()
    handle = load_adapters(model, Path(run_dir) / "adapter")
    # the training scaling and α as the top-level use_rslora / lora_alpha (full-rank LoRA-form
    # modules then keep their B as trained); any choice gives the same function
    toml = Path(run_dir) / "config.toml"
    cfg = tomllib.loads(toml.read_text()) if toml.is_file() else {}
    alpha = (cfg.get("alpha") or DEFAULT_ALPHA["lora"]["lora"]) if handle.form == "lora" else None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        summary, _ = export_peft(model, handle, tmp, drop_shortcuts=drop_shortcuts, fresh_model=base(),
                                 alpha=alpha, scaling=(cfg.get("scaling") or "lora") if global_scaling == "trained"
                                 else global_scaling)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rule = "lora_alpha/sqrt(r)" if summary["use_rslora"] else "lora_alpha/r"
    vllm = summary["vllm_max_lora_rank"] or f"a supported value >= {summary['max_rank']}"
    typer.echo(f"wrote {out}: {summary['modules']} modules, ranks {summary['min_rank']}-{summary['max_rank']}, "
               f"{summary['params']:,} adapter parameters, round trip {summary['round_trip']}; serving-safe: one "
               f"global scale {rule} = {summary['scale']:.4g} (per-module scales folded into lora_B); largest rank "
               f"{summary['max_rank']}, so serve with vLLM --max-lora-rank {vllm}"
               + (f"; the head is in modules_to_save ({', '.join(summary['modules_to_save'])}), which vLLM "
                  "refuses" if summary["modules_to_save"] else "")
               + (f"; dropped shortcut edges: {', '.join(summary['dropped_shortcuts'])}" if summary["dropped_shortcuts"] else ""))


@app.command("show-space")
def show_space(
    name: str = typer.Argument(..., help="A registered search space (see `rankscope ls spaces`)."),
    model: str = typer.Option("minilm", "--model", "-m", help="Model alias, hub id or local path."),
    max_rank: int = typer.Option(64, help="Largest rank any edge may take."),
    graphml: str = typer.Option(None, help="Also write the graph as GraphML to this path."),
    dot: str = typer.Option(None, help="Also write the graph as Graphviz DOT to this path."),
):
    """Print the edge table of a search space built on a model."""
    import rankscope as rs

    m, _ = rs.load_model(model)
    space = rs.build_space(name, m, max_rank=max_rank)
    typer.echo(space.summary())
    if graphml:
        space.write_graphml(graphml)
    if dot:
        space.write_dot(dot)
