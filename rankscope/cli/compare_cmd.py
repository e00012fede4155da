"""The ``compare`` command: an allocator's runs against uniform's, paired by seed, with a
verdict in plain words (:mod:`rankscope.search.compare`)."""

from __future__ import annotations

import json

import typer

from rankscope.cli.app import app


@app.command("compare")
def compare_runs(
    run_dirs: list[str] = typer.Argument(..., help="Run directories written by `rankscope search` (several "
                                                   "allocators and seeds of one task, model, budget and schedule)."),
    reference: str = typer.Option("uniform", help="The group every other one is paired against: an allocator, or "
                                                  "one of its settings as compare names it (e.g. "
                                                  "'uniform\\[lr=0.001]') when its runs differ in lr or options."),
    effect: float = typer.Option(None, help="The smallest paired difference worth detecting, for the power line: "
                                            "in points for accuracy, F1, MCC or r2 (default 1), else in the metric's "
                                            "unit (default 0.01, e.g. nats of dev NLL)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
):
    """Group runs by allocator (and by method settings, such as lr or -o options, where one
    allocator's runs differ), pair them by seed, and say whether each group beats the
    reference: mean ± std per group, the paired difference with its 95 % interval
    (Student t below 10 pairs, percentile bootstrap from 10), a verdict, and the power to see
--effect with these seeds (and the seeds 80 % power needs). Runs whose task,
    model, space, budget or schedule differ are refused."""
    from rankscope.display.paired import paired_table, paired_verdicts
    from rankscope.display.tables import format_table
    from rankscope.search.compare import compare

    out = compare(run_dirs, reference=reference, effect=effect)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    table = paired_table(out)  # the same table report.md and report.html show
    typer.echo(table.note)  # what was compared, above the numbers
    typer.echo(format_table(table.head, table.rows))
    for line in paired_verdicts(out):
        typer.echo(line)
    for group in out["groups"]:
        if "power" in group:
            typer.echo(group["power"]["line"])
