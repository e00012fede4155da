"""``rankscope search``: its flags are the fields of :class:`~rankscope.search.config.SearchConfig`.

Every field whose metadata says ``flag`` becomes ``--field-name`` with the field's help text and
default (:meth:`SearchConfig.help_text`), so ``--help`` cannot drift from the config. Beside
them: the shortcut flags of the most used allocator options (:data:`OPTION_FLAGS`), ``-o
KEY=VALUE`` for any other option, and the flags about the run itself (:data:`RUN_FLAGS`).

The command resolves the settings (defaults < ``--config`` < flags), validates them all once
(:func:`rankscope.search.validate.validate`, which builds the allocator), checks ``--out``, and only then
loads anything: a mistake exits 2 having written nothing.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import sys
import time
import typing
from dataclasses import fields
from pathlib import Path
from typing import Optional

import typer

from rankscope.cli.app import app
from rankscope.errors import InputError
from rankscope.search.config import SearchConfig

# allocator options with a flag of their own: name → (type, help)
OPTION_FLAGS = {
    "proxy": (str, "proxy-static / proxy-dynamic: the proxy (rankscope ls proxies). Default: grad_norm."),
    "salience_mix": (str, "salient: how OAM and ID combine: paper (λ·OAM + (1−λ)·M·ID, default) or code "
                          "(the released code's plain sum)."),
    "n_trials": (int, "optuna: total trials of the study (a resumed study counts those it has). Default: 20."),
    "trial_steps": (int, "optuna: optimizer steps per trial. Default: a fifth of the full schedule."),
    "sampler": (str, "optuna: tpe (default), gp, cmaes, random, or nsga2 (dev metric vs parameters)."),
    "pruner": (str, "optuna: median (default), hyperband or none; single-objective samplers only."),
    "storage": (str, "optuna: study storage: journal:PATH or a database URL (default: SQLite in the run "
                     "directory; or $RANKSCOPE_STORAGE). Passwords are never printed."),
    "study_name": (str, "optuna: study name in --storage. Default: rankscope."),
    "workers": (int, "optuna: worker processes on this machine sharing the study. Default: 1."),
}
# flags about the run, not settings: name → (typer option)
RUN_FLAGS = {
    "trials_only": typer.Option(False, "--trials-only", help="optuna: only run trials (an extra worker, e.g. on "
                                "another machine); no final training, no report."),
    "option": typer.Option(None, "--option", "-o", help="Allocator option KEY=VALUE, value in TOML syntax "
                           "(repeatable), e.g. -o n_batches=8 -o mode=separated -o 'also=[\"snip\"]'."),
    "config": typer.Option(None, help="Read settings from a TOML file (e.g. a run's config.toml); flags override it."),
    "out": typer.Option(None, help="Run directory to write. Default: runs/<time>-<task>-<space>-<allocator>-s<seed>."),
    "overwrite": typer.Option(False, help="Replace --out if it exists."),
    "json_out": typer.Option(False, "--json", help="Print result.json to stdout."),
    "quiet": typer.Option(False, help="No progress bars."),
}
RUN_TYPES = {"trials_only": bool, "option": Optional[list[str]], "config": Optional[str], "out": Optional[str],
             "overwrite": bool, "json_out": bool, "quiet": bool}


# flags whose valid values come from a registry (or a fixed table): they are listed in --help and
# offered by shell completion; the values are checked by rankscope.search.validate with our message
CHOICES = {"space": "spaces", "allocator": "allocators", "model": "models", "task": "tasks", "proxy": "proxies",
           "sampler": "samplers", "pruner": "pruners", "preset": "presets"}


def choices(kind: str) -> list[str]:
    from rankscope.cli.browse import names_for

    if kind in ("samplers", "pruners"):
        from rankscope.allocators.optuna.samplers import PRUNERS, SAMPLERS

        return list(SAMPLERS if kind == "samplers" else PRUNERS)
    if kind == "presets":
        from rankscope.tasks import all_presets

        return list(all_presets())
    return names_for(kind)


def _option(name: str, help_text: str):
    """A typer option; a choice flag lists its values in the help and completes them in the shell."""
    kind = CHOICES.get(name)
    if kind is None:
        return typer.Option(None, help=help_text)
    names = choices(kind)
    return typer.Option(None, help=f"{help_text} Valid: {', '.join(names)}.",
                        autocompletion=lambda incomplete: [n for n in choices(kind) if n.startswith(incomplete)])


def _flag_type(annotation):
    """``X | None`` → ``Optional[X]``; a bare ``list`` → ``Optional[list[str]]`` (repeatable)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if args else annotation
    return Optional[list[str]] if base is list else Optional[base]


def _signature(exclude: tuple = ()) -> tuple[inspect.Signature, dict]:
    """The command's parameters: the config's flags, the option shortcuts and the run flags,
    less ``exclude`` (``plan`` has no baseline and no trials-only worker)."""
    hints = typing.get_type_hints(SearchConfig)
    params, annotations = [], {}
    for f in fields(SearchConfig):
        if f.metadata.get("flag") and f.name not in exclude:
            annotations[f.name] = _flag_type(hints[f.name])
            params.append((f.name, _option(f.name, SearchConfig.help_text(f.name))))
    for name, (kind, help_text) in OPTION_FLAGS.items():
        annotations[name] = Optional[kind]
        params.append((name, _option(name, help_text)))
    for name, option in RUN_FLAGS.items():
        if name in exclude:
            continue
        annotations[name] = RUN_TYPES[name]
        params.append((name, option))
    sig = inspect.Signature([inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=annotations[n])
                             for n, d in params])
    return sig, annotations


def _parse_option(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InputError(f"--option {text!r} must look like KEY=VALUE")
    import tomllib

    try:
        return key, tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value


def resolve(flags: dict) -> SearchConfig:
    """The run's settings: defaults < ``--config`` < the flags given (``None`` = not given)."""
    base = SearchConfig.from_toml(flags["config"]) if flags["config"] else SearchConfig()
    overrides = {f.name: flags.get(f.name) for f in fields(SearchConfig) if f.metadata.get("flag")}
    overrides["baseline"] = overrides["baseline"] or None
    shortcuts = {k: flags[k] for k in OPTION_FLAGS if flags[k] is not None}
    if flags.get("trials_only"):
        shortcuts["trials_only"] = True
    if flags["option"] or shortcuts:
        overrides["allocator_options"] = {**base.allocator_options, **shortcuts,
                                          **dict(_parse_option(o) for o in flags["option"] or [])}
    if flags["max_steps"] is not None and flags["epochs"] is None:
        base.epochs = None  # --max-steps alone replaces the config file's epochs
    return base.merged(overrides).resolved()


def _clean(staging: Path, made: list) -> None:
    """Remove the adapter staging directory and the directories this run created and left empty
    (a refused, failed or interrupted run leaves nothing behind)."""
    shutil.rmtree(staging, ignore_errors=True)
    for p in made:
        if p.is_dir() and not any(p.iterdir()):
            p.rmdir()


def search(**flags):
    """Allocate a LoRA budget over a search space, train it, and write a run directory
    (result.json, allocation.json, report.md, report.html, config.toml)."""
    from rankscope import distributed
    from rankscope.search.pipeline import run_search, run_trials_only
    from rankscope.search.rundir import (
        check_dir_path,
        check_out,
        default_out,
        remove_leftovers,
        staging_prefix,
        write_run,
    )
    from rankscope.search.validate import validate

    cfg = resolve(flags)
    allocator = validate(cfg)  # every setting, once, before anything loads
    quiet, persistent = flags["quiet"], allocator.persistent
    out_dir = check_dir_path(flags["out"], "--out") if flags["out"] is not None else default_out(cfg, persistent)
    if distributed.launched():  # torchrun / accelerate launch: data-parallel, rank 0 writes
        cfg.device = distributed.init_from_env(cfg.device)
        if not distributed.is_main():
            check_out(out_dir, flags["overwrite"])  # refuse what rank 0 refuses, so no rank trains alone
            run_search(cfg, progress=False, allocator=allocator)
            return
    if cfg.allocator_options.get("trials_only"):
        summary = run_trials_only(cfg, out_dir if persistent else None, progress=not quiet, allocator=allocator)
        typer.echo(json.dumps(summary) if flags["json_out"] else
                   f"trials run here: {summary['trials_run_here']}; study {summary['study_name']!r} in "
                   f"{summary['storage']}: {summary['counts']}")
        return
    check_out(out_dir, flags["overwrite"], resumable=persistent)
    remove_leftovers(out_dir)  # what a killed run of the same --out left mid-write
    made = [p for p in [out_dir.parent, *out_dir.parent.parents] if not p.exists()]  # e.g. runs/
    # created only when the trained adapters are saved, at the very end (a killed run leaves nothing)
    staging = out_dir.parent / f"{staging_prefix(out_dir, 'adapter')}{int(time.time())}"
    try:
        result = run_search(cfg, progress=not quiet, workdir=out_dir if persistent else None,
                            save_adapters_to=staging, allocator=allocator)
        result.run_name = out_dir.name
        record = result.to_dict()
        write_run(out_dir, record, result.final.to_json(), cfg.to_toml(), flags["overwrite"],
                  adapter_dir=staging if (staging / "adapter.safetensors").exists() else None)
    except KeyboardInterrupt:
        kept = persistent and out_dir.is_dir()
        typer.echo(f"interrupted; the study's finished trials are kept in {out_dir}: re-run the same command to "
                   "resume" if kept else "interrupted; nothing was written", err=True)
        _clean(staging, made)
        sys.stdout.flush(), sys.stderr.flush()
        # exit now: an interrupted study can leave a storage thread or engine that blocks a normal
        # interpreter exit (seen once in CI); the trials it finished are already committed
        os._exit(130)
    finally:
        _clean(staging, made)
    if flags["json_out"]:
        typer.echo(json.dumps(record, indent=2))
    else:
        from rankscope.report import render_terminal

        typer.echo(render_terminal(record))
        typer.echo(f"\nrun directory: {out_dir}\nreport: {out_dir / 'report.html'}")
    if not result.completed:
        raise typer.Exit(1)


search.__signature__, search.__annotations__ = _signature()
app.command("search")(search)
