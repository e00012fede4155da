"""The commands that read what runs wrote, and list what is registered: ``ls``, ``show``,
``report`` and ``show-space`` (``export`` is :mod:`.export_cmd`)."""

from __future__ import annotations

from enum import Enum

import typer

from rankscope.cli.app import app
from rankscope.errors import InputError


class Listable(str, Enum):
    spaces = "spaces"
    allocators = "allocators"
    proxies = "proxies"
    models = "models"
    tasks = "tasks"


def names_for(kind: str) -> list[str]:
    """The names a CLI choice accepts: exactly the registry's."""
    from rankscope import MODELS, SPACES
    from rankscope.allocators import ALLOCATORS
    from rankscope.scoring import PROXIES
    from rankscope.tasks import task_names

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
    from rankscope.report import render_terminal
    from rankscope.search.rundir import load_result

    typer.echo(render_terminal(load_result(run_dir)))


@app.command("report")
def report(
    run_dirs: list[str] = typer.Argument(..., help="Run directories to compare."),
    out: str = typer.Option(None, help="Write report.md and report.html into this directory (default: print Markdown)."),
):
    """Compare several runs in one report (Markdown to stdout, or Markdown + HTML files): a row
    per run, then the runs paired by seed against uniform with verdicts, as `rankscope compare`
    prints them (or the reason they cannot be paired)."""
    from pathlib import Path

    from rankscope.io import atomic_write_text
    from rankscope.report import render_comparison_html, render_comparison_markdown
    from rankscope.search.compare import comparison_or_reason
    from rankscope.search.rundir import check_dir_path, load_result

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
    paired = comparison_or_reason(run_dirs)  # runs that are not one experiment still get a report
    md = render_comparison_markdown(results, paired)
    if out is None:
        typer.echo(md)
        return
    pages = {"report.md": md, "report.html": render_comparison_html(results, paired)}
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
    from rankscope.models.loading import MODELS
    from rankscope.search.rundir import check_dir_path

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
