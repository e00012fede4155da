"""The protocol's settings and its sweep rule: which cells run, and which lr each method keeps.

``FULL`` is the protocol (3 tasks, 3 epochs), ``QUICK`` its 30-minute smoke test; ``COMMON`` is
shared by both. Each method's lr is chosen on the first seed (:func:`chosen_lr`), over a sweep
that grows past an end of the grid where the best lr lies (:func:`method_sweep`); the other
seeds run at that lr and alone are compared (:mod:`.table`).
"""

from __future__ import annotations

from benchmarks.common.cells import CellFile

from .methods import METHODS, method_options

FULL = {"tasks": ["mrpc", "rte", "cola"], "epochs": 3.0, "steps": None, "max_train_samples": None,
        "max_dev_samples": None, "eval_every": 0, "lr_sweep": [2e-4, 5e-4, 1e-3, 2e-3], "seeds": [0, 1, 2, 3],
        "n_batches": None, "extend_sweep": 2}
# --quick: one task, 24 steps on a 768-row subset, one evaluation on 256 dev rows, 4 scoring batches
# (not 8) for the proxy allocators, two cells side by side: a check that the protocol runs end to
# end in 30 minutes of 2 CPU cores, too short to rank methods. SST-2 (short sentences, length 64)
# because it learns within 24 steps; MRPC at 24 steps left every method, at either lr, at the
# majority class (69.1 %, results/protocol-quick-mrpc.jsonl), so its quick table told nothing.
# No sweep extension (smoke test)
QUICK = {"tasks": ["sst2"], "epochs": None, "steps": 24, "max_train_samples": 768, "max_dev_samples": 256,
         "eval_every": 24, "lr_sweep": [1e-3, 3e-3], "seeds": [0, 1, 2], "n_batches": 4, "max_len": 64,
         "extend_sweep": 0}
#: settings that only choose which cells run: extending them keeps the finished cells valid
SELECTION = ("tasks", "lr_sweep", "seeds", "extend_sweep")
COMMON = {"model": "minilm", "space": "lora", "budget": "r2", "batch_size": 32, "max_len": 128, "svd_alpha": 256.0}


#: the LoRA form's scaling rule of a new protocol run (docs/architecture.md, "Rank-stable scaling")
SCALING = "rslora"


def default_settings(quick: bool = False, device: str = "cpu", scaling: str = SCALING) -> dict:
    """The protocol's settings before any command-line override (``--quick``: the smoke test).
    ``scaling`` is the LoRA form's rule; the first protocol ran α/r (``lora``) before the rule
    was a setting, so its settings, and its files' rows, carry no ``scaling`` key."""
    rule = {} if scaling == "lora" else {"scaling": scaling}
    return {**COMMON, **(QUICK if quick else FULL), "device": device, **rule}  # QUICK's max_len replaces COMMON's



def score(row: dict) -> float:
    """A row's final dev metric, signed so that larger is better (a row records
    ``greater_is_better``; rows written before it are GLUE rows, where it is true)."""
    value = row["final"][row["primary"]]
    return value if row.get("greater_is_better", True) else -value


def best_row(rows: list) -> dict | None:
    """The row with the best final dev metric (a tie goes to the first, i.e. the smaller lr)."""
    ok = [r for r in rows if r.get("final")]
    return max(ok, key=score) if ok else None  # max keeps the first


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
                    f"benchmarks/protocol/methods.py METHODS, or pass another --results file")
    return None
