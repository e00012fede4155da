"""Resumable benchmark cells: one finished measurement per line of a JSON Lines file.

A *cell* is one (method, setting, seed, …) measurement, described by a small dict. A benchmark
runs each cell in its own child process (a clean peak RSS; a crash or a timeout loses one cell),
and appends the row the child prints to the results file as soon as the cell ends, with where
it came from (``provenance``: commit, command, machine, date). A rerun reads the file and skips
every cell already in it, so a protocol that needs more hours than a session has is finished
over several sessions, and the documentation's tables are generated from the file alone::

    cells = CellFile(path, settings)          # refuses a file written with other settings
    row = cells.get(method="uniform", seed=0, lr=1e-3)        # None when not run yet
    row = cells.run("benchmarks.protocol", method="uniform", seed=0, lr=1e-3)   # run it (or return the row)
    cells.run_as_ready("benchmarks.protocol", ready, jobs=2)   # ready() lists the cells the finished
                                                # ones make known; child processes side by side

A child is ``python -m MODULE --cell … --settings …`` for a module name (a benchmark package,
whose ``__main__`` calls :func:`run_if_child`), or ``python FILE …`` for a path; either way it
finds the ``benchmarks`` package through ``PYTHONPATH`` (the repository root is put first).

Side by side (``jobs`` > 1), each child should use ``cores / jobs`` torch threads; timings of
such cells are then shared-machine timings, which the benchmark's table says.

**What is a result.** A row the child printed is a finished cell, a method's own failure (a
diverged run) included. A cell that timed out, was killed or crashed is *not* written: it is
reported and runs again on the next call, so an interrupted session never turns into a
permanent "failed" that would shrink a method's sweep. The child records the commit and the
machine (its own torch threads) when it *starts*, so a commit made while a cell runs does not
relabel it. A cell refuses to start from a tree with uncommitted code (``allow_dirty``,
``--allow-dirty``, runs it anyway, labelled ``+dirty``). ``selection`` names the settings that only choose *which* cells run (tasks, seeds,
the swept values): extending them keeps the finished cells valid.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # benchmarks/common/cells.py -> the repository


def provenance() -> dict:
    """The commit (``+dirty`` when the tree has uncommitted changes outside
    ``benchmarks/results/``), the command line, the
    machine (CPU count, accelerator, torch, transformers and peft versions: a library upgrade
    between sessions can move a cell's figure) and the UTC time of a cell."""
    import torch

    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    # the results files are what cells write, not code: a benchmark appending to its own tracked
    # file must not mark the next cell of the same run "+dirty"
    if git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/results"):
        commit += "+dirty"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"commit": commit, "command": command_line(),
            "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(), "threads": torch.get_num_threads(), "gpu": gpu,
                        "platform": platform.platform(terse=True), "torch": torch.__version__,
                        **{lib: version_of(lib) for lib in ("transformers", "peft")}},
            "finished": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def provenance_summary(name: str, rows: list[dict], by: tuple = ("task", "method")) -> str:
    """One sentence on how far a results file's rows can be traced to code: how many name a clean
    commit, how many ran from uncommitted code (``+dirty``: the commit does not hold what ran),
    counted per ``by`` group so a reader knows which figures they touch, and how many record no
    commit or no library versions (written before cells recorded them)."""
    clean = sum(bool(r.get("commit")) and not r["commit"].endswith("+dirty") for r in rows)
    dirty = [r for r in rows if str(r.get("commit", "")).endswith("+dirty")]
    parts = [f"{clean} of {len(rows)} rows ran from a clean commit"]
    if dirty:
        groups = Counter(" ".join(str(r.get(k)) for k in by if r.get(k) is not None) for r in dirty)
        where = ", ".join(f"{g} {n}" for g, n in sorted(groups.items()))
        parts.append(f"{len(dirty)} from uncommitted code ({where}; `+dirty`: the commit named is not the code "
                     f"that ran)")
    if missing := len(rows) - clean - len(dirty):
        parts.append(f"{missing} record no commit")
    if unversioned := sum("torch" not in (r.get("machine") or {}) for r in rows):
        parts.append(f"{unversioned} record no library versions")
    return f"Provenance of `{name}`: " + "; ".join(parts) + "."


def cpu_model() -> str | None:
    """The CPU's model name (Linux ``/proc/cpuinfo``), or ``None``: two machines of one kind can
    differ in speed, so seconds from different sessions compare only on the same CPU."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def command_line() -> str:
    """How this process was started: ``python -m benchmarks.protocol --quick`` for a module run
    (rows written before the benchmarks became packages record the script, ``protocol.py --quick``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return " ".join(["python -m", spec.name.removesuffix(".__main__"), *sys.argv[1:]])
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])


def version_of(package: str) -> str | None:
    """An installed package's version; ``None`` when it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


class CellFile:
    """The rows of one results file that were run with ``settings`` (the protocol's knobs)."""

    def __init__(self, path: Path, settings: dict, timeout: float = 3600.0, selection: tuple = (),
                 allow_dirty: bool = False):
        self.path, self.settings, self.timeout, self.allow_dirty = Path(path), settings, timeout, allow_dirty
        self._lock = threading.Lock()  # run_as_ready's threads append to one file
        self.rows = read_rows(self.path)

        def fixed(s):  # the settings that change how a cell is computed, as the file spells them
            return json.loads(json.dumps({k: v for k, v in (s or {}).items() if k not in selection}))
        other = [r for r in self.rows if fixed(r.get("settings")) != fixed(settings)]
        if other:
            raise SystemExit(f"{self.path} holds cells run with other settings ({other[0].get('settings')}); pass "
                             f"another --results file to run these settings ({settings})")

    def get(self, **cell) -> dict | None:
        return next((r for r in self.rows if all(r.get(k) == v for k, v in cell.items())), None)

    def run(self, target: str | Path, **cell) -> dict:
        """The finished row of ``cell``: from the file, else from running ``target`` (a module
        name or a script path) with ``--cell`` now."""
        done = self.get(**cell)
        if done is not None:
            return done
        self.refuse_a_dirty_tree()
        name = ' '.join(f'{k}={v}' for k, v in cell.items())
        print(f"cell {name} ...", flush=True)
        row = spawn(target, cell, self.settings, self.timeout)
        if row.get("interrupted"):  # not a result: the next run tries again
            print(f"  not finished, not recorded ({name}): {row['interrupted']}", flush=True)
            return row
        row = self.add(row)
        print(f"  {row.get('failure') or 'done'} ({row.get('wall_s', 0):.0f} s)", flush=True)
        return row

    def refuse_a_dirty_tree(self) -> None:
        """Stop before a cell runs from uncommitted code (``allow_dirty`` runs it, labelled
        ``+dirty``): a row must name a commit that holds the code it ran."""
        if self.allow_dirty or not provenance()["commit"].endswith("+dirty"):
            return
        raise SystemExit("the working tree has uncommitted changes outside benchmarks/results (git status), so a "
                         "cell could not name the code it ran: commit them, or run the benchmark from a pinned "
                         "worktree (git worktree add --detach ../rankscope-cells HEAD); --allow-dirty runs anyway "
                         "and labels the rows +dirty")

    def add(self, row: dict) -> dict:
        """Append one finished row (with the settings and its provenance) to the file; a child's
        own commit and machine (recorded when it started) win over the parent's."""
        started = {k: row[k] for k in ("commit", "machine") if k in row}
        row = {**row, "settings": self.settings, **provenance(), **started}
        with self._lock:
            self.rows.append(row)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")
                f.flush()
                os.fsync(f.fileno())
        return row

    def run_as_ready(self, target: str | Path, ready, jobs: int = 1) -> None:
        """Run cells as they become ready, ``jobs`` child processes at a time. ``ready()`` lists,
        from the rows finished so far, the cells that can run now, most wanted first: in a
        protocol, which sweep extensions and held-out seeds run depends on finished cells, so a
        fixed list per phase would leave a core idle while a phase's last cell runs. Each worker
        takes the first listed cell that this call has not started, waits while none is listed
        but others run (their rows may list new ones), and stops when none is listed and none
        runs. A cell that does not finish is not started again in this call."""
        started: set[str] = set()
        running = 0
        turn = threading.Condition()

        def worker():
            nonlocal running
            while True:
                with turn:
                    while True:
                        todo = [c for c in ready() if json.dumps(c, sort_keys=True) not in started]
                        if todo or running == 0:
                            break
                        turn.wait()
                    if not todo:
                        return
                    cell = todo[0]
                    started.add(json.dumps(cell, sort_keys=True))
                    running += 1
                try:
                    self.run(target, **cell)
                finally:
                    with turn:
                        running -= 1
                        turn.notify_all()

        workers = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()


def read_rows(path: Path) -> list[dict]:
    """The rows of a results file. A last line cut off mid-write (the machine stopped while a row
    was appended) is skipped with a warning, and that cell simply runs again; an unreadable line
    anywhere else is an error that names it."""
    if not path.is_file():
        return []
    lines = [(i, line) for i, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    rows = []
    for pos, (i, line) in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if pos != len(lines) - 1:
                raise SystemExit(f"{path}:{i} is not a JSON row ({exc}); fix or remove that line") from None
            print(f"warning: {path}:{i} is a partly written row; ignored (its cell runs again)", file=sys.stderr)
    return rows


def add_cell_arguments(ap, timeout: float, results: Path | None = None) -> None:
    """The options every cell benchmark shares: the per-cell timeout, and the hidden pair a child
    process is started with (:func:`spawn`). With ``results`` (the default results file), also
    ``--jobs``, ``--results`` and ``--table-only``."""
    import argparse

    if results is not None:
        ap.add_argument("--jobs", type=int, default=1, help="cells side by side")
        ap.add_argument("--results", type=Path, default=results, help="the results file (JSON Lines)")
        ap.add_argument("--table-only", action="store_true", help="print the table from the results file; run nothing")
    ap.add_argument("--cell-timeout", type=float, default=timeout, help="seconds before a cell is killed")
    ap.add_argument("--allow-dirty", action="store_true",
                    help="run cells from uncommitted code (their rows say +dirty); by default a dirty tree is refused")
    ap.add_argument("--cell", help=argparse.SUPPRESS)
    ap.add_argument("--settings", help=argparse.SUPPRESS)


def run_if_child(args, run_cell) -> bool:
    """In a child process (``--cell`` given): run the one cell, print its row as the last stdout
    line, and return True so the caller stops."""
    if not args.cell:
        return False
    started = provenance()  # before the cell: the code it actually ran
    row = run_cell(json.loads(args.cell), json.loads(args.settings))
    print(json.dumps({**row, "commit": started["commit"], "machine": started["machine"]}), flush=True)
    return True


def child_command(target: str | Path) -> list[str]:
    """``python -m MODULE`` for a module name (``"benchmarks.protocol"``), ``python FILE`` for a path."""
    return [sys.executable, str(target)] if isinstance(target, Path) else [sys.executable, "-m", target]


def child_env() -> dict:
    """This process's environment with the repository first on ``PYTHONPATH``, so that a child
    started from any directory imports this checkout's ``benchmarks`` package."""
    paths = [str(REPO), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def spawn(target: str | Path, cell: dict, settings: dict, timeout: float) -> dict:
    """Run one cell as ``python -m MODULE --cell JSON --settings JSON`` (or ``python FILE …``);
    its last stdout line is the row."""
    cmd = [*child_command(target), "--cell", json.dumps(cell), "--settings", json.dumps(settings)]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env())
    except subprocess.TimeoutExpired:
        return {**cell, "interrupted": f"timed out after {timeout:.0f} s (raise --cell-timeout)"}
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return {**cell, "interrupted": f"exit {p.returncode}: {' | '.join(tail)}"}
    row = json.loads(p.stdout.strip().splitlines()[-1])
    return {**row, "wall_s": time.perf_counter() - t0}
