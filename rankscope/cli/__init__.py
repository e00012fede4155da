"""The ``rankscope`` command line (typer). User mistakes exit with code 2 and a one-paragraph
message, failures with code 1; nothing prints a traceback for bad input.

Commands: ``search`` (:mod:`.search`: flags built from the one config dataclass), ``plan``
(:mod:`.plan`: the same flags, no training), ``ls``,
``show``, ``report``, ``show-space`` (:mod:`.browse`), ``export`` (:mod:`.export_cmd`) and ``compare`` (:mod:`.compare_cmd`).
"""

from __future__ import annotations

import logging
import sys

import typer

from rankscope.cli import browse, compare_cmd, export_cmd, plan, search  # noqa: F401  (registers the commands on ``app``)
from rankscope.cli.app import app
from rankscope.cli.browse import names_for
from rankscope.errors import InputError, RankscopeError

__all__ = ["app", "main", "names_for"]


def main(argv=None):
    """Entry point: run the app, mapping InputError → exit 2 and other errors → exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:  # click returns 130 (Ctrl-C) rather than raising Abort
            if code == 130:
                typer.echo("interrupted", err=True)
            sys.exit(code)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except RankscopeError as exc:
        typer.echo(f"failed: {exc}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # the command line itself: a mistyped flag or value
        errors = _click_errors()
        if isinstance(exc, (typer.Abort, getattr(errors, "Abort", typer.Abort))):
            sys.exit(130)
        if isinstance(exc, errors.UsageError):
            typer.echo(f"error: {usage_message(exc, argv)}", err=True)
            sys.exit(2)
        if isinstance(exc, errors.ClickException):
            typer.echo(f"failed: {exc.format_message()}", err=True)
            sys.exit(1)
        raise


def _click_errors():
    """Click's exception classes as typer raises them (recent typer vendors click)."""
    try:
        from typer._click import exceptions
    except ImportError:  # typer that uses the click package
        from click import exceptions
    return exceptions


def _given(opts, argv) -> str | None:
    """The value the user gave a flag on the command line (``--flag VALUE`` or ``--flag=VALUE``)."""
    for i, token in enumerate(argv):
        for opt in opts:
            if token == opt and i + 1 < len(argv):
                return argv[i + 1]
            if token.startswith(opt + "="):
                return token[len(opt) + 1:]
    return None


def usage_message(exc, argv=None) -> str:
    """One paragraph: what was wrong on the command line, and where the valid flags are."""
    ctx = getattr(exc, "ctx", None)
    command = f"rankscope {ctx.info_name}" if ctx is not None and ctx.parent is not None else "rankscope"
    message = exc.format_message().rstrip(".")
    opts = getattr(getattr(exc, "param", None), "opts", None) or []
    given = _given(opts, sys.argv[1:] if argv is None else argv)
    if given is not None and repr(given) not in message:
        message += f" (got {given!r})"
    return f"{message}; see `{command} --help` for the valid flags and values"
