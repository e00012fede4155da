"""The fair protocol: does an allocator beat a *tuned* uniform LoRA on real tasks?

MiniLM on MRPC, RTE and CoLA (GLUE v1 TSVs), every method at the same adapter budget (``--budget``,
default r2: uniform rank 2 on the ``lora`` space's 36 matrices, 82,944 parameters)::

    uniform    rankscope uniform LoRA
    proxy      proxy-static with the best before-training proxy on the planted task
    salient    SalientLoRA (SVD form)          adalora   rankscope AdaLoRA (SVD form)
    greedy     proxy-greedy, forward edge selection before training (issue 18)
    grow       proxy-grow, the same selection inside the run (issue 18)
    peft-eva   PEFT LoRA, init_lora_weights="eva", EvaConfig(rho=2), at uniform's rank

**Equal tuning.** Every method, uniform included, gets the same learning-rate sweep on seed 0
(``--lr-sweep``); the SVD-form methods (salient, adalora) sweep the same lrs at ``svd_alpha``,
so for them the sweep runs along lr × svd_alpha, the product that sets their step size. Each
method's setting is the one with the best final dev metric on seed 0 (ties: the smaller lr;
a best lr at an end of the grid grows that method's sweep by a ×2 step, up to ``--extend-sweep``
times, the same rule for every method);
then the held-out seeds (1, 2, 3) run at it, and only they are compared. Seed 0 is not counted:
its score is the best of four for each method, an optimistic pick that favours the noisier
methods most, so it appears in the sweep table only.

**Statistics** (per task, against tuned uniform): the paired per-seed differences, their mean ±
std and a 95 % interval (Student t below 10 pairs, so for 3 seeds;
:func:`rankscope.compare.summarize_pairs`, the function behind ``rankscope compare``), then the
mean over tasks of each method's mean difference.

**Cells.** Each (task, method, lr, seed) is one cell, run in its own process and appended to
``--results`` (JSON Lines, with commit, command and machine) as soon as it ends; a rerun skips
finished cells (:mod:`cells`). ``--jobs`` cells run side by side, each started as soon as it
is known (a method's held-out seeds once its sweep has chosen, while other sweeps still run;
:func:`ready_cells`), so no core waits for the end of a phase. The README table is printed from
that file alone (``--table-only``, and ``--write-readme`` puts it between the README's protocol
markers)::

    python benchmarks/protocol.py --quick            # SST-2, 24 steps: < 30 min on 2 CPU cores
    python benchmarks/protocol.py --device cuda      # the full protocol (3 tasks, 3 epochs)
    python benchmarks/protocol.py --table-only --write-readme
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cells import CellFile, add_cell_arguments, run_if_child  # noqa: E402
from protocol_cells import METHODS, SVD_FORM, method_options, run_cell  # noqa: E402
from protocol_table import render, write_readme  # noqa: E402

FULL = {"tasks": ["mrpc", "rte", "cola"], "epochs": 3.0, "steps": None, "max_train_samples": None,
        "max_dev_samples": None, "eval_every": 0, "lr_sweep": [2e-4, 5e-4, 1e-3, 2e-3], "seeds": [0, 1, 2, 3],
        "n_batches": None, "extend_sweep": 2}
# --quick: one task, 24 steps on a 768-row subset, one evaluation on 256 dev rows, 4 scoring batches
# (not 8) for the proxy allocators, two cells side by side: a check that the protocol runs end to
# end in 30 minutes of 2 CPU cores, too short to rank methods. SST-2 (short sentences, length 64)
# because it learns within 24 steps; MRPC at 24 steps left every method, at either lr, at the
# majority class (69.1 %, README), so its quick table told nothing. No sweep extension (smoke test)
QUICK = {"tasks": ["sst2"], "epochs": None, "steps": 24, "max_train_samples": 768, "max_dev_samples": 256,
         "eval_every": 24, "lr_sweep": [1e-3, 3e-3], "seeds": [0, 1, 2], "n_batches": 4, "max_len": 64,
         "extend_sweep": 0}
#: settings that only choose which cells run: extending them keeps the finished cells valid
SELECTION = ("tasks", "lr_sweep", "seeds", "extend_sweep")
COMMON = {"model": "minilm", "space": "lora", "budget": "r2", "batch_size": 32, "max_len": 128, "svd_alpha": 256.0}


def settings_from(args) -> dict:
    s = {**COMMON, **(QUICK if args.quick else FULL)}  # QUICK's max_len replaces COMMON's
    if args.tasks:
        s["tasks"] = args.tasks.split(",")
    if args.lr_sweep:
        s["lr_sweep"] = [float(x) for x in args.lr_sweep.split(",")]
    if args.extend_sweep is not None:
        s["extend_sweep"] = args.extend_sweep
    if args.seeds:
        s["seeds"] = [int(x) for x in args.seeds.split(",")]
    if args.steps:
        s["steps"], s["epochs"], s["eval_every"] = args.steps, None, args.steps
    for key in ("model", "budget", "max_train_samples", "max_dev_samples"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    s.update(device=args.device)
    return s


def use_data_dir(args) -> None:
    """Point the cells at the GLUE TSVs through ``$RANKSCOPE_GLUE_DIR`` (children inherit it). The
    path is not a setting: the committed results file must match a clean clone's settings anywhere."""
    data_dir = args.data_dir or os.environ.get("RANKSCOPE_GLUE_DIR") or str(HERE.parent.parent / "shared" / "data" / "glue")
    os.environ["RANKSCOPE_GLUE_DIR"] = str(Path(data_dir).resolve())


def best_row(rows: list) -> dict | None:
    """The row with the best final dev metric (a tie goes to the first, i.e. the smaller lr)."""
    ok = [r for r in rows if r.get("final")]
    return max(ok, key=lambda r: r["final"][r["primary"]]) if ok else None  # max keeps the first


def method_sweep(cells: CellFile, task: str, method: str, grid: list, seed: int, extend: int = 0):
    """(lrs, finished): the lrs one method's sweep on ``seed`` consists of. It starts as the
    shared ``grid``; while the best finished lr is at an end of it, the sweep grows by one step
    of ×2 (or ÷2) beyond that end, at most ``extend`` times. The same rule for every method: a
    method whose optimum lies outside the shared grid (the SVD-form methods on MRPC peaked at the
    grid's top) is not compared at a setting the grid cut off. ``finished`` is False while a cell
    of the current sweep has not run; ``lrs`` then lists the cells to run."""
    lrs = sorted(grid)
    for grown in range(extend + 1):
        rows = [cells.get(task=task, method=method, lr=lr, seed=seed) for lr in lrs]
        if None in rows:
            return lrs, False
        best = best_row(rows)
        if best is None or grown == extend or len(lrs) < 2 or best["lr"] not in (lrs[0], lrs[-1]):
            return lrs, True
        lrs = lrs + [float(f"{lrs[-1] * 2:.6g}")] if best["lr"] == lrs[-1] else [float(f"{lrs[0] / 2:.6g}")] + lrs
    return lrs, True


def chosen_lr(cells: CellFile, task: str, method: str, grid: list, seed: int, extend: int = 0) -> float | None:
    """The lr of :func:`method_sweep` with the best final dev metric on ``seed`` (a tie goes to
    the smaller lr); ``None`` while the sweep has not finished (a partly run sweep chooses
    nothing), or when every setting failed."""
    lrs, finished = method_sweep(cells, task, method, grid, seed, extend)
    return best_lr(cells, task, method, lrs, seed) if finished else None


def best_lr(cells: CellFile, task: str, method: str, lrs: list, seed: int) -> float | None:
    """The lr among ``lrs`` (all finished on ``seed``) with the best final dev metric."""
    best = best_row([cells.get(task=task, method=method, lr=lr, seed=seed) for lr in lrs])
    return best["lr"] if best else None


def ready_cells(cells: CellFile, settings: dict, methods: list) -> list[dict]:
    """The cells that can run now, task by task (so a partly run protocol has whole tasks), each
    task's sweep cells before its held-out ones: for every method, the unfinished cells of its
    sweep on the first seed (:func:`method_sweep`, which grows it once the grid's cells are in),
    or, once the sweep has chosen an lr, that lr on each held-out seed."""
    grid, extend = settings["lr_sweep"], settings["extend_sweep"]
    first, rest = settings["seeds"][0], settings["seeds"][1:]
    todo = []
    for t in settings["tasks"]:
        sweep, held_out = [], []
        for m in methods:
            lrs, finished = method_sweep(cells, t, m, grid, first, extend)
            if not finished:
                sweep += [{"task": t, "method": m, "lr": lr, "seed": first} for lr in lrs]
            elif (lr := best_lr(cells, t, m, lrs, first)) is not None:
                held_out += [{"task": t, "method": m, "lr": lr, "seed": s} for s in rest]
        todo += [c for c in sweep + held_out if cells.get(**c) is None]
    return todo


def progress(cells: CellFile, settings: dict, methods: list) -> str:
    """How far the protocol is: its finished cells, and how many are still to run. While a sweep
    may still grow (:func:`method_sweep`), each growth it has left adds one cell, so the count is
    a range until every sweep has chosen."""
    grid, extend = settings["lr_sweep"], settings["extend_sweep"]
    first, rest = settings["seeds"][0], settings["seeds"][1:]
    done = todo = growth = 0
    for t in settings["tasks"]:
        for m in methods:
            lrs, finished = method_sweep(cells, t, m, grid, first, extend)
            lr = best_lr(cells, t, m, lrs, first) if finished else None
            # the held-out seeds, at the lr still to be chosen; none when every setting failed
            held_out = [] if finished and lr is None else [(lr, s) for s in rest]
            planned = [(x, first) for x in lrs] + held_out
            ran = sum(lr_ is not None and cells.get(task=t, method=m, lr=lr_, seed=s) is not None for lr_, s in planned)
            done, todo = done + ran, todo + len(planned) - ran
            growth += 0 if finished else extend - (len(lrs) - len(grid))
    more = f", up to {todo + growth} if sweeps grow past the grid" if growth else ""
    return f"{done} protocol cells finished, {todo} to go{more}"


def options_mismatch(rows: list, settings: dict) -> str | None:
    """Why the file's rows cannot be reused, if a row of a method records other options than the
    method has now (a method whose options change must take a new name, or its old cells would
    be mixed with new ones); ``None`` when they agree. Rows from before options were recorded
    carry none and are accepted."""
    for r in rows:
        method = r.get("method")
        now = method_options(settings, method)[1] if method in METHODS else None
        if now is not None and "options" in r and r["options"] != now:
            return (f"cells of method {method!r} in this results file ran with options {r['options']}, but "
                    f"{method!r} now means {now}; give the changed method a new name in "
                    f"benchmarks/protocol_cells.py METHODS, or pass another --results file")
    return None


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="SST-2, 24 steps, 2 lrs, seed 0 + 2 held-out seeds "
                                                         "(< 30 min on 2 CPU cores)")
    ap.add_argument("--tasks", help="comma-separated GLUE tasks (default mrpc,rte,cola)")
    ap.add_argument("--methods", help="comma-separated subset of: " + ", ".join(METHODS))
    ap.add_argument("--lr-sweep", help="comma-separated learning rates (the same for every method)")
    ap.add_argument("--extend-sweep", type=int, help="times a method's sweep may grow by ×2 beyond an end where its "
                                                     "best lr lies (default 2; --quick 0)")
    ap.add_argument("--seeds", help="comma-separated seeds; the first one runs the sweep, the others are compared "
                                    "(default 0,1,2,3)")
    ap.add_argument("--steps", type=int, help="optimizer steps (replaces the 3 epochs; one evaluation, at the end)")
    ap.add_argument("--model", help="model alias or path (default minilm)")
    ap.add_argument("--budget", help="adapter parameters, rankscope --budget syntax (default r2)")
    ap.add_argument("--max-train-samples", type=int, help="train on a seeded subset of this many rows")
    ap.add_argument("--max-dev-samples", type=int, help="evaluate on a fixed subset of this many dev rows")
    ap.add_argument("--data-dir", help="GLUE v1 TSV directory (default $RANKSCOPE_GLUE_DIR, else ../shared/data/glue)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jobs", type=int, help="cells side by side (default: 2 with --quick, else 1)")
    ap.add_argument("--results", help="JSON Lines file of finished cells (default benchmarks/results/protocol"
                                      "[-quick][-DEVICE].jsonl; -DEVICE unless cpu: cells of one device only)")
    ap.add_argument("--table-only", action="store_true", help="print the table from --results; run nothing")
    ap.add_argument("--write-readme", action="store_true", help="also put the table into README.md")
    add_cell_arguments(ap, timeout=7200.0)
    args = ap.parse_args()
    if run_if_child(args, run_cell):
        return
    settings = settings_from(args)
    use_data_dir(args)
    device = "" if args.device == "cpu" else f"-{args.device.split(':')[0]}"
    out = Path(args.results or HERE / "results" / f"protocol{'-quick' if args.quick else ''}{device}.jsonl")
    cells = CellFile(out, settings, timeout=args.cell_timeout, selection=SELECTION)
    methods = args.methods.split(",") if args.methods else list(METHODS)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        fail(f"unknown methods {unknown}; valid: {', '.join(METHODS)}")
    mismatch = options_mismatch(cells.rows, settings)
    if mismatch:
        fail(mismatch)
    if "uniform" not in methods:
        methods.insert(0, "uniform")  # the reference every difference is paired against
    t0 = time.perf_counter()
    sweep_args = (settings["lr_sweep"], settings["seeds"][0], settings["extend_sweep"])
    if not args.table_only:
        jobs = args.jobs or (2 if args.quick else 1)
        if jobs > 1:  # children share the cores
            os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 2) // jobs))
        print(progress(cells, settings, methods), flush=True)
        cells.run_as_ready(HERE / "protocol.py", lambda: ready_cells(cells, settings, methods), jobs)
        for t in settings["tasks"]:
            for m in methods:
                print(f"{t} {m}: lr {chosen_lr(cells, t, m, *sweep_args)} chosen on seed {sweep_args[1]}"
                      + (f" (svd_alpha {settings['svd_alpha']:g})" if m in SVD_FORM else ""), flush=True)
    table = render(cells.rows, settings, methods, chosen_lr=lambda t, m: chosen_lr(cells, t, m, *sweep_args),
                   sweep_of=lambda t, m: method_sweep(cells, t, m, *sweep_args)[0], defaults=not args.quick)
    print(table)
    if args.write_readme:
        write_readme(HERE.parent / "README.md", table, quick=args.quick)
    print(f"\n{out}: {len(cells.rows)} cells; {progress(cells, settings, methods)}; this run "
          f"{time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
