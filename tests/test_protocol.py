"""benchmarks/protocol.py: resumable cells, equal sweeps, the table from the results file alone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from cells import CellFile  # noqa: E402
from protocol import chosen_lr  # noqa: E402
from protocol_table import render, write_readme  # noqa: E402

SETTINGS = {"model": "minilm", "space": "lora", "budget": "r2", "batch_size": 32, "max_len": 128, "svd_alpha": 256.0,
            "tasks": ["mrpc"], "epochs": None, "steps": 50, "max_train_samples": None, "max_dev_samples": None,
            "eval_every": 50, "lr_sweep": [1e-3, 3e-3], "seeds": [0, 1, 2], "device": "cpu", "n_batches": None}


def row(method, lr, seed, acc, params=100):
    return {"task": "mrpc", "method": method, "lr": lr, "seed": seed, "primary": "accuracy",
            "final": {"accuracy": acc}, "params": params}


def filled(path):
    cells = CellFile(path, SETTINGS)
    for method, accs in (("uniform", {1e-3: [0.70, 0.72, 0.71], 3e-3: [0.74, 0.73, 0.75]}),
                         ("salient", {1e-3: [0.76, 0.75, 0.77], 3e-3: [0.70, 0.70, 0.70]})):
        for lr, values in accs.items():
            for seed, acc in enumerate(values):
                if seed == 0 or lr == max(accs, key=lambda k: accs[k][0]):
                    cells.add(row(method, lr, seed, acc))
    return cells


def test_cells_resume_and_refuse_other_settings(tmp_path):
    path = tmp_path / "r.jsonl"
    cells = filled(path)
    again = CellFile(path, SETTINGS)
    assert len(again.rows) == len(cells.rows) == 8
    assert again.get(method="uniform", lr=3e-3, seed=2)["final"]["accuracy"] == 0.75
    assert again.get(method="uniform", lr=1e-3, seed=2) is None  # not the chosen setting: never run
    first = json.loads(path.read_text().splitlines()[0])
    assert first["commit"] and first["command"] and first["machine"]["cpus"] and first["settings"] == SETTINGS
    with pytest.raises(SystemExit, match="other settings"):
        CellFile(path, {**SETTINGS, "steps": 60})


def test_each_method_gets_its_own_best_lr_and_paired_differences(tmp_path):
    cells = filled(tmp_path / "r.jsonl")
    assert chosen_lr(cells, "mrpc", "uniform", SETTINGS["lr_sweep"], 0) == 3e-3
    assert chosen_lr(cells, "mrpc", "salient", SETTINGS["lr_sweep"], 0) == 1e-3
    # a sweep that has not finished chooses nothing, even where its finished part looks best
    assert chosen_lr(cells, "mrpc", "uniform", [1e-3, 3e-3, 1e-2], 0) is None
    table = render(cells.rows, SETTINGS, ["uniform", "salient"],
                   lambda t, m: chosen_lr(cells, t, m, SETTINGS["lr_sweep"], 0))
    # salient 76/75/77 against tuned uniform 74/73/75: +2 points on every seed
    assert "| salient | 0.001 (α 256) | 100 | 76.0 | 75.0 | 77.0 | 76.0 ± 1.0 | +2.0 ± 0.0 | [+2.00, +2.00] |" in table
    assert "salient beats tuned uniform by 2.00 ± 0.00 points (3 seeds" in table
    assert "| salient | 1 of 1 | +2.00 |" in table
    assert "| uniform LoRA | 70.0 | 74.0 |" in table and "| salient | 76.0 | 70.0 |" in table  # the sweep
    pending = render(cells.rows, {**SETTINGS, "tasks": ["mrpc", "rte"]}, ["uniform", "salient"],
                     lambda t, m: chosen_lr(cells, t, m, SETTINGS["lr_sweep"], 0))
    assert "**RTE**: no cells yet." in pending and "| salient | 1 of 2 | +2.00 |" in pending


def test_readme_table_goes_between_its_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- protocol-table:start-quick -->\nold\n<!-- protocol-table:end-quick -->\nb\n")
    write_readme(readme, "new table", quick=True)
    assert readme.read_text() == "a\n<!-- protocol-table:start-quick -->\nnew table\n<!-- protocol-table:end-quick -->\nb\n"
    with pytest.raises(SystemExit, match="markers"):
        write_readme(readme, "x", quick=False)


@pytest.mark.slow
def test_protocol_runs_end_to_end_and_a_rerun_runs_nothing(tmp_path):
    out = tmp_path / "p.jsonl"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "protocol.py"), "--model", "tiny-bert", "--tasks", "mrpc",
           "--steps", "3", "--methods", "uniform,proxy,peft-eva", "--lr-sweep", "1e-3,5e-3", "--seeds", "0,1",
           "--max-train-samples", "256", "--max-dev-samples", "32", "--results", str(out), "--jobs", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 * 2 + 3 * 1  # the seed-0 sweep of every method, then seed 1 at its lr
    assert not [r for r in rows if r.get("failure")], [r["failure"] for r in rows if r.get("failure")]
    assert {r["method"] for r in rows} == {"uniform", "proxy", "peft-eva"}
    assert "**MRPC** (accuracy)" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0 and "cell " not in second.stdout
    assert len(out.read_text().splitlines()) == len(rows)
