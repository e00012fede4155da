"""The ``compare`` command: an allocator's runs against uniform's, paired by seed, with a
verdict in plain words (:mod:`rankscope.compare`)."""

from __future__ import annotations

import json

import typer

from .app import app


@app.command("compare")
def compare_runs(
    run_dirs: list[str] = typer.Argument(..., help="Run directories written by `rankscope search` (several "
                                                   "allocators and seeds of one task, model, budget and schedule)."),
    reference: str = typer.Option("uniform", help="The allocator every other one is paired against."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
):
    """Group runs by allocator, pair them by seed, and say whether each allocator beats the
    reference: mean ± std per allocator, the paired difference with its 95 % bootstrap interval,
    and a verdict. Runs whose task, model, space, budget or schedule differ are refused."""
    from ..compare import compare, fmt_interval
    from ..table import format_table

    out = compare(run_dirs, reference=reference)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    unit = out["unit"]
    arrow = "higher is better" if out["greater_is_better"] else "lower is better"
    head = ["allocator", "seeds", f"{out['primary']} ({unit})", f"vs {reference} (paired)", "95 % interval"]
    rows = []
    for g in out["groups"]:
        p = g.get("paired")
        rows.append([g["allocator"], ",".join(map(str, g["seeds"])), f"{g['mean']:.2f} ± {g['std']:.2f}",
                     f"{p['mean']:+.2f} ± {p['std']:.2f}" if p else "—", fmt_interval(p) if p else "—"])
    s = out["settings"]
    typer.echo(f"{s['task']} · {s['model']} · {s['space']} · budget {s['budget']:,.0f} · {out['primary']} "
               f"({arrow}; paired differences > 0 favour the allocator)")
    typer.echo(format_table(head, rows))
    for g in out["groups"]:
        if "verdict" in g:
            typer.echo(g["verdict"])
