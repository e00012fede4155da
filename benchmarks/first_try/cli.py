"""``python -m benchmarks.first_try``: one timed run of the command in :mod:`benchmarks.first_try`."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common.cells import REPO, provenance, read_rows

RESULTS = REPO / "benchmarks" / "results" / "first-try.jsonl"
COMMAND = "--model smollm2 --task gsm8k --space lora --allocator proxy-static --max-steps 20"
TARGET_S, TARGET_SHARE = 15 * 60, 0.35


def timed_run(command: str) -> dict:
    """Run ``rankscope search COMMAND`` in a child process; the wall time and the run's timing."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        argv = [sys.executable, "-m", "rankscope.cli", "search", *shlex.split(command), "--quiet", "--out", str(out)]
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        result = json.loads((out / "result.json").read_text())
    t = result["timing"]
    evaluation = t["eval_s"] + t["test_s"]
    return {"command": f"rankscope search {command}", "wall_s": wall, **{k: t[k] for k in (
        "load_s", "task_s", "allocate_s", "train_s", "eval_s", "test_s", "total_s", "peak_rss_mb")},
        "eval_share": evaluation / wall, "evaluations": [(h["step"], h["dev_rows"]) for h in result["history"]],
        "exact_match_problems": result["metrics"]["final"].get("test_problems"),
        "dev_nll": result["metrics"]["final"].get("nll")}


def table(rows: list[dict]) -> str:
    """One line per timed run: minutes, the breakdown, the evaluation share, against the targets.
    "flags added": what the run typed beyond :data:`COMMAND` (the command as typed: none)."""
    head = ("| commit | machine | flags added | wall (min) | allocate (s) | train without eval (s) "
            "| allocate / train | dev eval (s) | decoding (s) | eval + decoding | within targets |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        ok = r["wall_s"] <= TARGET_S and r["eval_share"] <= TARGET_SHARE
        m, train = r["machine"], r["train_s"] - r["eval_s"]
        added = r["command"].removeprefix(f"rankscope search {COMMAND}").strip()
        note = f", {r['note']}" if r.get("note") else ""
        lines.append(f"| {r['commit']} | {m['cpus']} CPUs, {m['threads']} threads{note} "
                     f"| {'`' + added + '`' if added else 'none'} | {r['wall_s'] / 60:.1f} | {r['allocate_s']:.0f} "
                     f"| {train:.0f} | {100 * r['allocate_s'] / train:.0f} % | {r['eval_s']:.0f} | {r['test_s']:.0f} "
                     f"| {100 * r['eval_share']:.0f} % | {'yes' if ok else 'no'} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.first_try", description=__doc__)
    ap.add_argument("--command", default=COMMAND, help="the flags after `rankscope search`")
    ap.add_argument("--note", default="", help="a word on the machine's state (idle, shared)")
    ap.add_argument("--results", default=str(RESULTS))
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args(argv)
    path = Path(args.results)
    if not args.table_only:
        row = {**timed_run(args.command), "note": args.note, **{k: v for k, v in provenance().items()
                                                                  if k != "command"}}
        row["benchmark_command"] = provenance()["command"]
        with path.open("a") as f:
            f.write(json.dumps(row) + "\n")
    print(table(read_rows(path)) if path.is_file() else f"{path}: no rows yet")
