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
    models = "models"


def registry_for(kind: str):
    from . import MODELS, SPACES

    return {"spaces": SPACES, "models": MODELS}[kind]


@app.command("ls")
def ls(kind: Listable = typer.Argument(..., help="What to list.")):
    """List registered names: search spaces, models, ..."""
    for name in registry_for(kind.value).names():
        typer.echo(name)


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
        app(args=argv, standalone_mode=False)
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
