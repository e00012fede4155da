"""The ``rankscope`` command line (typer). User mistakes exit with code 2 and a one-paragraph
message, failures with code 1; nothing prints a traceback for bad input."""

from __future__ import annotations

import logging
import sys
from enum import Enum

import typer

from .errors import InputError, RankscopeError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Decide where the LoRA budget of a fine-tuning run goes.")


class Listable(str, Enum):
    spaces = "spaces"
    allocators = "allocators"
    proxies = "proxies"
    models = "models"
    tasks = "tasks"


def names_for(kind: str) -> list[str]:
    """The names a CLI choice accepts: exactly the registry's (a test asserts it)."""
    from . import MODELS, SPACES
    from .allocators import ALLOCATORS
    from .scoring import PROXIES

    if kind == "tasks":
        from .search import task_names

        return task_names()
    reg = {"spaces": SPACES, "models": MODELS, "allocators": ALLOCATORS,
           "proxies": PROXIES}[kind]
    return reg.names()


@app.command("ls")
def ls(kind: Listable = typer.Argument(..., help="What to list.")):
    """List registered names: spaces, allocators, proxies, models or tasks."""
    for name in names_for(kind.value):
        typer.echo(name)


def _parse_option(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InputError(f"--option {text!r} must look like KEY=VALUE")
    import tomllib

    try:
        return key, tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value


@app.command("search")
def search(
    space: str = typer.Option(None, help="Search space (rankscope ls spaces). Default: shortcuts."),
    allocator: str = typer.Option(None, help="Allocator (rankscope ls allocators). Default: uniform."),
    model: str = typer.Option(None, help="Model alias, hub id or local path. Default: minilm."),
    task: str = typer.Option(None, help="Task (rankscope ls tasks). Default: planted (offline ground truth)."),
    data_dir: str = typer.Option(None, help="GLUE v1 TSV directory (or $RANKSCOPE_GLUE_DIR), or a custom task's directory."),
    budget: str = typer.Option(None, help="Adapter parameters: 250k, 1.2M, 300000 or rN (= uniform rank N). Default: r2; planted: the planted count."),
    seed: int = typer.Option(None, help="Seed for data order, init and allocation. Default: 0."),
    epochs: float = typer.Option(None, help="Training epochs (GLUE default 3)."),
    max_steps: int = typer.Option(None, help="Optimizer steps; overrides --epochs (planted default 200)."),
    lr: float = typer.Option(None, help="Peak AdamW learning rate (GLUE 5e-4, planted 3e-3)."),
    batch_size: int = typer.Option(None, help="Training batch size. Default: 32."),
    max_len: int = typer.Option(None, help="Truncate inputs to this many tokens. Default: 128."),
    max_train_samples: int = typer.Option(None, help="Train on a seeded random subset of this size."),
    eval_every: int = typer.Option(None, help="Evaluate on dev every N steps (0 = ten times per run)."),
    max_rank: int = typer.Option(None, help="Largest rank an edge may take. Default: 64."),
    alpha: float = typer.Option(None, help="LoRA alpha for every edge (default: 16 modules / 4 shortcuts; SVD 32)."),
    svd_alpha: float = typer.Option(None, help="Alpha of SVD-form adapters only (salient, adalora); default: --alpha, else 32 (the paper's). Larger values learn faster on short schedules."),
    scaling: str = typer.Option(None, help="Adapter scaling: lora (alpha/r, as PEFT; GLUE default) or rslora (alpha/sqrt(r); planted default)."),
    baseline: list[str] = typer.Option(None, help="Also train this baseline at the same budget (uniform)."),
    proxy: str = typer.Option(None, help="Proxy for proxy-static / proxy-dynamic (rankscope ls proxies). Default: grad_norm."),
    salience_mix: str = typer.Option(None, help="salient: how OAM and ID combine: paper (λ·OAM + (1−λ)·M·ID, default) or code (the released code's plain sum)."),
    n_trials: int = typer.Option(None, help="optuna: total trials of the study (a resumed study counts those it has). Default: 20."),
    trial_steps: int = typer.Option(None, help="optuna: optimizer steps per trial. Default: a fifth of the full schedule."),
    sampler: str = typer.Option(None, help="optuna: tpe (default), gp, cmaes, random, or nsga2 (dev metric vs parameters)."),
    pruner: str = typer.Option(None, help="optuna: median (default), hyperband or none; single-objective samplers only."),
    storage: str = typer.Option(None, help="optuna: study storage: journal:PATH or a database URL (default: SQLite in the run directory; or $RANKSCOPE_STORAGE). Passwords are never printed."),
    study_name: str = typer.Option(None, help="optuna: study name in --storage. Default: rankscope."),
    workers: int = typer.Option(None, help="optuna: worker processes on this machine sharing the study. Default: 1."),
    trials_only: bool = typer.Option(False, "--trials-only", help="optuna: only run trials (an extra worker, e.g. on another machine); no final training, no report."),
    option: list[str] = typer.Option(None, "--option", "-o", help="Allocator option KEY=VALUE, value in TOML syntax (repeatable), e.g. -o n_batches=8 -o mode=separated -o 'also=[\"snip\"]'."),
    device: str = typer.Option(None, help="cpu or cuda. Default: cpu."),
    trust_remote_code: bool = typer.Option(None, help="Allow model code from the hub (off by default)."),
    config: str = typer.Option(None, help="Read settings from a TOML file (e.g. a run's config.toml); flags override it."),
    out: str = typer.Option(None, help="Run directory to write. Default: runs/<time>-<task>-<space>-<allocator>-s<seed>."),
    overwrite: bool = typer.Option(False, help="Replace --out if it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print result.json to stdout."),
    quiet: bool = typer.Option(False, help="No progress bars."),
):
    """Allocate a LoRA budget over a search space, train it, and write a run directory
    (result.json, allocation.json, report.md, report.html, config.toml)."""
    import json
    import os
    import shutil
    import time
    from pathlib import Path

    from . import distributed
    from .rundir import check_out, default_out, write_run
    from .search import make_allocator, refuse_persistent_under_launcher, run_search, run_trials_only
    from .search_config import SearchConfig

    base = SearchConfig.from_toml(config) if config else SearchConfig()
    overrides = dict(space=space, allocator=allocator, model=model, task=task, data_dir=data_dir,
                     budget=budget, seed=seed, epochs=epochs, max_steps=max_steps, lr=lr,
                     batch_size=batch_size, max_len=max_len, max_train_samples=max_train_samples,
                     eval_every=eval_every, max_rank=max_rank, alpha=alpha, svd_alpha=svd_alpha, scaling=scaling,
                     baseline=baseline or None, device=device, trust_remote_code=trust_remote_code)
    # shortcut flags for the most used allocator options
    shortcuts = {k: v for k, v in (("proxy", proxy), ("salience_mix", salience_mix), ("n_trials", n_trials),
                                   ("trial_steps", trial_steps), ("sampler", sampler), ("pruner", pruner),
                                   ("storage", storage), ("study_name", study_name), ("workers", workers),
                                   ("trials_only", trials_only or None)) if v is not None}
    if option or shortcuts:
        overrides["allocator_options"] = {**base.allocator_options, **shortcuts,
                                          **dict(_parse_option(o) for o in option or [])}
    if max_steps is not None and epochs is None:
        overrides["epochs"] = None
        base.epochs = None
    cfg = base.merged(overrides).resolved()
    if cfg.max_steps is not None and cfg.max_steps <= 0:
        raise InputError(f"--max-steps must be a positive integer, got {cfg.max_steps}")
    allocator_obj = make_allocator(cfg)
    persistent = getattr(allocator_obj, "persistent", False)
    out_dir = Path(out) if out else default_out(cfg, persistent)
    if distributed.launched():  # torchrun / accelerate launch: data-parallel, rank 0 writes
        refuse_persistent_under_launcher(allocator_obj, cfg.allocator)  # before check_out may delete
        cfg.device = distributed.init_from_env(cfg.device)
        if not distributed.is_main():
            check_out(out_dir, overwrite)  # refuse what rank 0 refuses, so no rank trains alone
            run_search(cfg, progress=False)
            return
    if cfg.allocator_options.get("trials_only"):
        summary = run_trials_only(cfg, out_dir if persistent else None, progress=not quiet)
        typer.echo(json.dumps(summary) if json_out else
                   f"trials run here: {summary['trials_run_here']}; study {summary['study_name']!r} in "
                   f"{summary['storage']}: {summary['counts']}")
        return
    check_out(out_dir, overwrite, resumable=persistent)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # created only when the trained adapters are saved, at the very end (a killed run leaves nothing)
    staging = out_dir.parent / f".{out_dir.name}.adapter-{os.getpid()}-{int(time.time())}"
    try:
        result, final = run_search(cfg, progress=not quiet, workdir=out_dir if persistent else None,
                                   save_adapters_to=staging)
        result["run_name"] = out_dir.name
        write_run(out_dir, result, final.to_json(), cfg.to_toml(), overwrite,
                  adapter_dir=staging if (staging / "adapter.safetensors").exists() else None)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if json_out:
        typer.echo(json.dumps(result, indent=2))
    else:
        from .report import render_terminal

        typer.echo(render_terminal(result))
        typer.echo(f"\nrun directory: {out_dir}")
    if result["status"] != "completed":
        raise typer.Exit(1)


@app.command("show")
def show(run_dir: str = typer.Argument(..., help="A run directory written by `rankscope search`.")):
    """Print a terminal summary of one run."""
    from .report import render_terminal
    from .rundir import load_result

    typer.echo(render_terminal(load_result(run_dir)))


@app.command("report")
def report(
    run_dirs: list[str] = typer.Argument(..., help="Run directories to compare."),
    out: str = typer.Option(None, help="Write report.md and report.html into this directory (default: print Markdown)."),
):
    """Compare several runs in one report (Markdown to stdout, or Markdown + HTML files)."""
    from pathlib import Path

    from .io import atomic_write_text
    from .report import render_comparison_html, render_comparison_markdown
    from .rundir import load_result

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
):
    """Export a run's trained LoRA allocation to plain PEFT (LoraConfig with rank_pattern and
    alpha_pattern), then load it back with PEFT and check every module's r and scaling."""
    import shutil
    import tempfile
    from pathlib import Path

    from .adapter_io import load_adapters
    from .export import export_peft
    from .harness.loop import seed_everything
    from .models import load_model
    from .rundir import load_result

    result, out = load_result(run_dir), Path(peft)
    if not (Path(run_dir) / "adapter" / "adapter.safetensors").is_file():
        raise InputError(f"{run_dir} has no trained adapters (adapter/): it failed, or an older rankscope wrote it")
    if out.exists() and not overwrite:
        raise InputError(f"--peft {out} already exists; pass --overwrite or choose another directory")

    def base():  # the search seeds before loading (random tiny models depend on it)
        seed_everything(result.get("seed", 0))
        return load_model(result["model"], result.get("num_labels"))[0]
    model = base()
    handle = load_adapters(model, Path(run_dir) / "adapter")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        summary, _ = export_peft(model, handle, tmp, drop_shortcuts=drop_shortcuts, fresh_model=base())
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    typer.echo(f"wrote {out}: {summary['modules']} modules, {summary['params']:,} adapter parameters, "
               f"round trip {summary['round_trip']}"
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


def main(argv=None):
    """Entry point: run the app, mapping InputError → exit 2 and other errors → exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:  # click returns 130 (Ctrl-C) rather than raising Abort
            if code == 130:
                typer.echo("interrupted; finished trials of a study are kept: re-run the command to resume", err=True)
            sys.exit(code)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except RankscopeError as exc:
        typer.echo(f"failed: {exc}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2 if isinstance(exc, click.UsageError) else 1)
        raise


if __name__ == "__main__":
    main()
