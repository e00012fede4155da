"""Follow a configuration from ``rankscope search`` to ``report.html``, and count where it goes.

A tiny planted run (tiny random BERT, 2 steps, ``proxy-static``) is traced call by call
(:mod:`.walker`); every rankscope function that can see the run's ``SearchConfig`` is a call on
the path. Consecutive calls in one file are one *stay*; the table gives the stays, the files
they are in, and how often each file is entered again after the path left it. The ``--repo``
option walks another checkout (a ``git worktree`` of an older commit) for a side-by-side count::

    python -m benchmarks.core_path
    git worktree add /tmp/old 601395f && python -m benchmarks.core_path --repo /tmp/old
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLANTED = "[planted]\nn_train = 32\nn_dev = 16\nseq_len = 8\nn_plants = 2\n"


def stays(calls: list) -> list[tuple[str, list[str]]]:
    """``[(file, [function, …])]``: consecutive calls in one file joined."""
    out: list[tuple[str, list[str]]] = []
    for file, function in calls:
        if out and out[-1][0] == file:
            out[-1][1].append(function)
        else:
            out.append((file, [function]))
    return out


def summary(calls: list) -> dict:
    path = stays(calls)
    entered = Counter(file for file, _ in path)
    return {"calls": len(calls), "stays": len(path), "files": len(entered),
            "re-entered": {f: n - 1 for f, n in entered.items() if n > 1}}


def trace(repo: Path) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        toml, out = Path(tmp) / "planted.toml", Path(tmp) / "calls.json"
        toml.write_text(PLANTED)
        env = {**os.environ, "PYTHONPATH": str(repo), "TOKENIZERS_PARALLELISM": "false"}
        subprocess.run([sys.executable, str(HERE / "walker.py"), str(out), str(toml)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        return json.loads(out.read_text())["calls"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, default=HERE.parents[1],
                    help="the checkout to walk (default: this one)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    calls = trace(args.repo.resolve())
    if args.json:
        print(json.dumps({**summary(calls), "path": stays(calls)}, indent=1))
        return
    info = summary(calls)
    print(f"{info['calls']} calls, {info['stays']} stays in {info['files']} files")
    for file, n in info["re-entered"].items():
        print(f"  re-entered {n}x  {file}")
    for file, functions in stays(calls):
        print(f"{file:45s} {' '.join(dict.fromkeys(functions))}")
