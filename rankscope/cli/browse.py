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
    from ..rundir import check_dir_path, load_result

    names = ("report.md", "report.html")
    if out is not None:  # checked before reading anything; both files are rendered before either is written
        out_dir = check_dir_path(out, "--out")
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"--out {out} is a file; report writes {' and '.join(names)} into a directory: "
                             f"give a directory (new or existing)")
        taken = [out_dir / n for n in names if (out_dir / n).is_dir()]
        if taken:
            raise InputError(f"--out {out}: {taken[0]} is a directory, so the report cannot be written there; "
                             f"choose another --out")
    results = []
    for d in run_dirs:
        r = load_result(d)
        r.setdefault("run_name", Path(d).name)
        results.append(r)
    md = render_comparison_markdown(results)
    if out is None:
        typer.echo(md)
        return
    pages = {"report.md": md, "report.html": render_comparison_html(results)}
    made = [p for p in [out_dir, *out_dir.parents] if not p.exists()]
    try:
        for name, text in pages.items():
            atomic_write_text(out_dir / name, text)
    except OSError as exc:
        for p in made:  # directories this command created and left empty
            if p.is_dir() and not any(p.iterdir()):
                p.rmdir()
        raise InputError(f"cannot write the report into --out {out}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {out_dir / names[0]} and {out_dir / names[1]}")


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
    from ..rundir import check_dir_path, load_result

    result, out = load_result(run_dir), check_dir_path(peft, "--peft")
    if not (Path(run_dir) / "adapter" / "adapter.safetensors").is_file():
        raise InputError(f"{run_dir} has no trained adapters (adapter/): it failed, or an older rankscope wrote it")
    src, dst = Path(run_dir).resolve(), out.resolve()
    if dst == src or src in dst.parents or dst in src.parents:  # --overwrite would delete the run itself
        raise InputError(f"--peft {out} overlaps the run directory {run_dir}; write the export elsewhere")
    if out.exists() and not out.is_dir():
        raise InputError(f"--peft {out} exists and is a file; give a directory path")
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
    made = [p for p in [out.parent, *out.parent.parents] if not p.exists()]
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
        for p in made:  # parents this export created and left empty (it failed)
            if p.is_dir() and not any(p.iterdir()):
                p.rmdir()
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

    from ..models import MODELS
    from ..rundir import check_dir_path

    rs.SPACES.get(name)  # an unknown space is refused before the model loads
    if not model.strip():
        raise InputError(f"--model is empty; available: {', '.join(MODELS.names())} (or a local model directory, "
                         "or a hub id)")
    if max_rank < 1:
        raise InputError(f"--max-rank must be a positive integer, got {max_rank}")
    for flag, path, ext in (("--graphml", graphml, "graphml"), ("--dot", dot, "dot")):
        if path is None:
            continue
        if not path.strip():
            raise InputError(f"{flag} is empty; give a file path, e.g. {flag} space.{ext}")
        target = check_dir_path(path, flag)
        if target.is_dir():
            raise InputError(f"{flag} {path} is a directory; give a file path, e.g. {target / ('space.' + ext)}")
        if not target.parent.is_dir():
            raise InputError(f"{flag} {path}: the directory {target.parent} does not exist; create it or choose "
                             "another path")
    m, _ = rs.load_model(model)
    space = rs.build_space(name, m, max_rank=max_rank)
    typer.echo(space.summary())
    if graphml:
        space.write_graphml(graphml)
    if dot:
        space.write_dot(dot)
