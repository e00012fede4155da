"""python -m benchmarks.protocol: resumable cells, equal sweeps, the tables from the results file alone."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from benchmarks.common.cells import CellFile
from benchmarks.protocol.methods import EVA, METHODS, SVD_FORM, method_options
from benchmarks.protocol.sweep import (
    FULL,
    SELECTION,
    chosen_lr,
    method_sweep,
    options_mismatch,
    progress,
    ready_cells,
)
from benchmarks.protocol.table import render
from rankscope.search.config import SearchConfig

SETTINGS = {"model": "minilm", "space": "lora", "budget": "r2", "batch_size": 32, "max_len": 128, "svd_alpha": 256.0,
            "tasks": ["mrpc"], "epochs": None, "steps": 50, "max_train_samples": None, "max_dev_samples": None,
            "eval_every": 50, "lr_sweep": [1e-3, 3e-3], "seeds": [0, 1, 2, 3], "device": "cpu", "n_batches": None}


def row(method, lr, seed, acc, params=100):
    return {"task": "mrpc", "method": method, "lr": lr, "seed": seed, "primary": "accuracy",
            "final": {"accuracy": acc}, "params": params}


def filled(path):
    cells = CellFile(path, SETTINGS)
    for method, accs in (("uniform", {1e-3: [0.70, 0.72, 0.71, 0.70], 3e-3: [0.74, 0.73, 0.75, 0.74]}),
                         ("salient", {1e-3: [0.76, 0.75, 0.77, 0.76], 3e-3: [0.70, 0.70, 0.70, 0.70]})):
        for lr, values in accs.items():
            for seed, acc in enumerate(values):
                if seed == 0 or lr == max(accs, key=lambda k: accs[k][0]):
                    cells.add(row(method, lr, seed, acc))
    return cells


def test_cells_resume_and_refuse_other_settings(tmp_path):
    path = tmp_path / "r.jsonl"
    cells = filled(path)
    again = CellFile(path, SETTINGS)
    assert len(again.rows) == len(cells.rows) == 10  # per method: 2 sweep cells + 3 held-out seeds
    assert again.get(method="uniform", lr=3e-3, seed=2)["final"]["accuracy"] == 0.75
    assert again.get(method="uniform", lr=1e-3, seed=2) is None  # not the chosen setting: never run
    first = json.loads(path.read_text().splitlines()[0])
    assert first["commit"] and first["command"] and first["machine"]["cpus"] and first["settings"] == SETTINGS
    with pytest.raises(SystemExit, match="other settings"):
        CellFile(path, {**SETTINGS, "steps": 60})
    # more seeds, tasks or swept lrs only add cells: the finished ones stay valid
    wider = CellFile(path, {**SETTINGS, "seeds": [0, 1, 2, 3, 4], "lr_sweep": [1e-3, 3e-3, 1e-2]}, selection=SELECTION)
    assert len(wider.rows) == 10
    with pytest.raises(SystemExit, match="other settings"):
        CellFile(path, {**SETTINGS, "seeds": [0, 1], "steps": 60}, selection=SELECTION)
    # settings holding tuples are the same settings once the file has spelled them as lists
    tuples = CellFile(tmp_path / "t.jsonl", {"methods": {"a": ("proxy-static", {})}})
    tuples.path.write_text(json.dumps({"settings": {"methods": {"a": ["proxy-static", {}]}}}) + "\n")
    assert len(CellFile(tuples.path, {"methods": {"a": ("proxy-static", {})}}).rows) == 1


def test_a_cut_off_last_row_is_skipped_and_a_broken_middle_row_is_an_error(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    filled(path)
    good = path.read_text()
    path.write_text(good + '{"task": "mrpc", "meth')  # the machine stopped mid-append
    assert len(CellFile(path, SETTINGS).rows) == 10
    assert "partly written row" in capsys.readouterr().err
    lines = good.splitlines()
    path.write_text("\n".join(lines[:3] + ["{oops"] + lines[3:]) + "\n")
    with pytest.raises(SystemExit, match=r"r.jsonl:4 is not a JSON row"):
        CellFile(path, SETTINGS)


# a cell's child, started as ``python FILE``: it finds the benchmarks package through the
# PYTHONPATH the parent gives it (benchmarks.common.cells.child_env), from any directory
CHILD = """import argparse, sys
from benchmarks.common.cells import add_cell_arguments, run_if_child
ap = argparse.ArgumentParser(); add_cell_arguments(ap, timeout=60); args = ap.parse_args()
if {crash}:
    sys.exit(3)
run_if_child(args, lambda cell, settings: {{**cell, "final": {{"accuracy": 0.5}}, "primary": "accuracy"}})
"""


def test_crashed_cells_are_not_recorded_and_finished_ones_carry_the_childs_provenance(tmp_path, monkeypatch):
    import torch

    crash, ok = tmp_path / "crash.py", tmp_path / "ok.py"
    crash.write_text(CHILD.format(crash=True))
    ok.write_text(CHILD.format(crash=False))
    path = tmp_path / "r.jsonl"
    cells = CellFile(path, SETTINGS, allow_dirty=True)  # a developer's checkout may be dirty
    row = cells.run(crash, task="mrpc", method="uniform", lr=1e-3, seed=0)
    assert "exit 3" in row["interrupted"] and not path.exists() and cells.get(method="uniform") is None
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the child's threads, not the parent's
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        row = cells.run(ok, task="mrpc", method="uniform", lr=1e-3, seed=0)
    finally:
        torch.set_num_threads(threads)
    assert row["final"] == {"accuracy": 0.5} and row["machine"]["threads"] == 1 and row["commit"]
    assert row["machine"]["transformers"] and row["machine"]["peft"]  # library versions travel with the row
    assert json.loads(path.read_text())["machine"]["threads"] == 1


# accuracy rises with lr for uniform (its sweep grows upwards) and falls for salient (downwards);
# salient's held-out seed 1 crashes
SWEEPING_CHILD = """import argparse, sys
from benchmarks.common.cells import add_cell_arguments, run_if_child
ap = argparse.ArgumentParser(); add_cell_arguments(ap, timeout=60); args = ap.parse_args()
def cell_row(cell, settings):
    if cell["method"] == "salient" and cell["seed"] == 1:
        sys.exit(3)
    acc = cell["lr"] * 100 if cell["method"] == "uniform" else 1 - cell["lr"] * 100
    return {{**cell, "final": {{"accuracy": acc}}, "primary": "accuracy"}}
run_if_child(args, cell_row)
"""


def test_cells_run_as_soon_as_finished_ones_make_them_known(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(SWEEPING_CHILD.format())
    settings = {**SETTINGS, "lr_sweep": [1e-3, 2e-3], "extend_sweep": 1, "seeds": [0, 1, 2]}
    cells = CellFile(tmp_path / "r.jsonl", settings, allow_dirty=True)
    methods = ["uniform", "salient"]
    first = ready_cells(cells, settings, methods)  # nothing finished: the grid of each method
    assert [(c["method"], c["lr"], c["seed"]) for c in first] == [
        ("uniform", 1e-3, 0), ("uniform", 2e-3, 0), ("salient", 1e-3, 0), ("salient", 2e-3, 0)]
    cells.run_as_ready(script, lambda: ready_cells(cells, settings, methods), jobs=2)
    done = sorted((r["method"], r["lr"], r["seed"]) for r in cells.rows)
    assert done == sorted([("uniform", 1e-3, 0), ("uniform", 2e-3, 0), ("uniform", 4e-3, 0),  # grown once
                           ("uniform", 4e-3, 1), ("uniform", 4e-3, 2),
                           ("salient", 5e-4, 0), ("salient", 1e-3, 0), ("salient", 2e-3, 0),
                           ("salient", 5e-4, 2)])  # seed 1 crashed: not recorded, not retried in this call
    assert ready_cells(cells, settings, methods) == [{"task": "mrpc", "method": "salient", "lr": 5e-4, "seed": 1}]


def test_each_method_gets_its_own_best_lr_and_paired_differences(tmp_path):
    cells = filled(tmp_path / "r.jsonl")
    assert chosen_lr(cells, "mrpc", "uniform", SETTINGS["lr_sweep"], 0) == 3e-3
    assert chosen_lr(cells, "mrpc", "salient", SETTINGS["lr_sweep"], 0) == 1e-3
    # a sweep that has not finished chooses nothing, even where its finished part looks best
    assert chosen_lr(cells, "mrpc", "uniform", [1e-3, 3e-3, 1e-2], 0) is None
    table = render(cells.rows, SETTINGS, ["uniform", "salient"],
                   lambda t, m: chosen_lr(cells, t, m, SETTINGS["lr_sweep"], 0))
    # held-out seeds 1-3: salient 75/77/76 against tuned uniform 73/75/74, +2 points on each; seed 0
    # (which chose the lr) is in the sweep table only; 1e-3 is the sweep's lower end (†)
    assert "| salient | 0.001† (α 256) | 100 | 75.0 | 77.0 | 76.0 | 76.0 ± 1.0 | +2.0 ± 0.0 | [+2.00, +2.00] |" in table
    assert "| method | lr | params | seed 1 | seed 2 | seed 3 |" in table
    assert "salient beats tuned uniform by 2.00 ± 0.00 points (3 seeds" in table
    assert "| salient | 1 of 1 | +2.00 |" in table
    assert "| uniform LoRA | 70.0 | 74.0 |" in table and "| salient | 76.0 | 70.0 |" in table  # the sweep
    # the defaults table: the task's pick, the rule's, and what rankscope search ships on GLUE
    shipped = SearchConfig(task="mrpc").resolved().lr
    assert f"| uniform LoRA | 0.003 | 0.003 | {shipped:g} |" in table and "| salient | 0.001 | 0.001 | 0.002 |" in table
    smoke = render(cells.rows, SETTINGS, ["uniform", "salient"],
                   lambda t, m: chosen_lr(cells, t, m, SETTINGS["lr_sweep"], 0), defaults=False)  # --quick
    assert "Defaults from the sweep" in table and "Defaults from the sweep" not in smoke
    pending = render(cells.rows, {**SETTINGS, "tasks": ["mrpc", "rte"]}, ["uniform", "salient"],
                     lambda t, m: chosen_lr(cells, t, m, SETTINGS["lr_sweep"], 0))
    assert "**RTE**: no cells yet." in pending and "| salient | 1 of 2 | +2.00 |" in pending


def test_any_method_can_be_the_reference_a_method_is_paired_against(tmp_path):
    """The decoder arm also pairs every method against the baselines users run (q/v, EVA)."""
    from benchmarks.docs.pages import versus

    cells = filled(tmp_path / "r.jsonl")
    text = versus(cells, SETTINGS, "salient", ["uniform", "salient"])
    # held-out seeds 1-3 at each method's own lr: uniform 73/75/74 against salient 75/77/76
    assert text.startswith("Against `salient`, paired by held-out seed (points")
    assert "- uniform trails salient by 2.00 ± 0.00 points (3 seeds" in text and "- salient " not in text
    assert versus(cells, SETTINGS, "peft-eva", ["uniform", "salient"]) == ""  # no reference rows: no section


def test_a_best_lr_at_an_end_of_the_grid_grows_that_methods_sweep(tmp_path):
    cells = CellFile(tmp_path / "r.jsonl", SETTINGS)
    grid = [1e-3, 2e-3]
    for lr, acc in ((1e-3, 0.70), (2e-3, 0.75)):  # best at the top end of the grid
        cells.add(row("salient", lr, 0, acc))
    assert method_sweep(cells, "mrpc", "salient", grid, 0, extend=0) == ([1e-3, 2e-3], True)
    assert chosen_lr(cells, "mrpc", "salient", grid, 0, extend=0) == 2e-3
    assert method_sweep(cells, "mrpc", "salient", grid, 0, extend=2) == ([1e-3, 2e-3, 4e-3], False)
    assert chosen_lr(cells, "mrpc", "salient", grid, 0, extend=2) is None  # waits for the 4e-3 cell
    cells.add(row("salient", 4e-3, 0, 0.77))  # still the end: one more step, the last allowed
    assert method_sweep(cells, "mrpc", "salient", grid, 0, extend=2) == ([1e-3, 2e-3, 4e-3, 8e-3], False)
    cells.add(row("salient", 8e-3, 0, 0.60))
    assert method_sweep(cells, "mrpc", "salient", grid, 0, extend=2)[1] is True
    assert chosen_lr(cells, "mrpc", "salient", grid, 0, extend=2) == 4e-3
    for lr, acc in ((1e-3, 0.74), (2e-3, 0.70), (5e-4, 0.72)):  # best at the bottom, then interior
        cells.add(row("uniform", lr, 0, acc))
    assert method_sweep(cells, "mrpc", "uniform", grid, 0, extend=2) == ([5e-4, 1e-3, 2e-3], True)
    assert chosen_lr(cells, "mrpc", "uniform", grid, 0, extend=2) == 1e-3
    table = render(cells.rows, {**SETTINGS, "lr_sweep": grid, "extend_sweep": 2}, ["uniform", "salient"],
                   lambda t, m: chosen_lr(cells, t, m, grid, 0, 2), lambda t, m: method_sweep(cells, t, m, grid, 0, 2)[0])
    assert "| method | lr 0.0005 | lr 0.001 | lr 0.002 | lr 0.004 | lr 0.008 |" in table
    assert "| uniform LoRA | 72.0 | 74.0 | 70.0 |  |  |" in table and "| salient |  | 70.0 | 75.0 | 77.0 | 60.0 |" in table


def test_progress_counts_what_is_left_and_what_sweeps_may_add(tmp_path):
    settings = {**SETTINGS, "lr_sweep": [1e-3, 2e-3, 4e-3], "extend_sweep": 2, "seeds": [0, 1, 2]}
    cells = CellFile(tmp_path / "r.jsonl", settings)
    # nothing run: per method 3 sweep cells and 2 held-out seeds; each sweep may grow twice
    assert progress(cells, settings, ["uniform", "salient"]) == \
        "0 protocol cells finished, 10 to go, up to 14 if sweeps grow past the grid"
    for lr, acc in ((1e-3, 0.70), (2e-3, 0.75), (4e-3, 0.72)):  # uniform's best is inside: it has chosen
        cells.add(row("uniform", lr, 0, acc))
    cells.add(row("uniform", 2e-3, 1, 0.74))
    for lr, acc in ((1e-3, 0.70), (2e-3, 0.71), (4e-3, 0.72)):  # salient's best is at the top: it grows once
        cells.add(row("salient", lr, 0, acc))
    assert progress(cells, settings, ["uniform", "salient"]) == \
        "7 protocol cells finished, 4 to go, up to 5 if sweeps grow past the grid"
    cells.add(row("salient", 8e-3, 0, 0.60))  # 4e-3 wins: the sweep has chosen, nothing more can grow
    assert progress(cells, settings, ["uniform", "salient"]) == "8 protocol cells finished, 3 to go"


@pytest.mark.slow
def test_protocol_runs_end_to_end_and_a_rerun_runs_nothing(tmp_path):
    out = tmp_path / "p.jsonl"
    cmd = [sys.executable, "-m", "benchmarks.protocol", "--model", "tiny-bert", "--tasks", "mrpc",
           "--steps", "3", "--methods", "uniform,proxy,peft-eva", "--lr-sweep", "1e-3,5e-3", "--seeds", "0,1",
           "--max-train-samples", "256", "--max-dev-samples", "32", "--results", str(out), "--jobs", "1",
           "--extend-sweep", "1", "--allow-dirty"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, cwd=REPO)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # per method: the 2-lr grid on seed 0, one ×2 step beyond an end where its best lay, then seed 1
    settings = {**rows[0]["settings"], "seeds": [0, 1]}
    cells = CellFile(out, settings, selection=SELECTION)
    for m in ("uniform", "proxy", "peft-eva"):
        lrs, finished = method_sweep(cells, "mrpc", m, [1e-3, 5e-3], 0, extend=1)
        assert finished and sorted(r["lr"] for r in rows if r["method"] == m and r["seed"] == 0) == lrs
        assert [r["lr"] for r in rows if r["method"] == m and r["seed"] == 1] == [chosen_lr(cells, "mrpc", m, [1e-3, 5e-3], 0, 1)]
    assert not [r for r in rows if r.get("failure")], [r["failure"] for r in rows if r.get("failure")]
    assert {r["method"] for r in rows} == {"uniform", "proxy", "peft-eva"}
    assert "**MRPC** (accuracy)" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=REPO)
    assert second.returncode == 0 and "cell " not in second.stdout
    assert len(out.read_text().splitlines()) == len(rows)


def test_a_method_whose_options_changed_cannot_reuse_its_cells():
    """Rows record their method's options; the same name with other options is refused (the old
    cells would be mixed with new ones), rows from before options were recorded are accepted."""
    name, opts = method_options(SETTINGS, "proxy")
    assert name == "proxy-static" and opts == {"proxy": "spectral", "granularity": "edge"}
    assert method_options({**SETTINGS, "n_batches": 4}, "grow")[1]["n_batches"] == 4  # --quick's scoring
    assert method_options(SETTINGS, "peft-eva") == ("peft-eva", EVA)
    same = {**row("proxy", 1e-3, 0, 0.7), "options": opts}
    assert options_mismatch([same, row("salient", 1e-3, 0, 0.7)], SETTINGS) is None
    changed = {**same, "options": {"proxy": "grad_norm", "granularity": "edge"}}
    message = options_mismatch([same, changed], SETTINGS)
    assert "'proxy'" in message and "grad_norm" in message and "new name" in message


def test_the_cross_task_default_is_the_majoritys_lr_else_the_median():
    from benchmarks.protocol.defaults import cross_task_lr

    assert cross_task_lr([1e-3, 1e-3, 5e-4]) == 1e-3  # two of three tasks agree
    assert cross_task_lr([4e-3, 5e-4, 1e-3]) == 1e-3  # no majority: the middle one
    assert cross_task_lr([2e-3, 5e-4]) == 5e-4  # two tasks that disagree: the lower middle one
    assert cross_task_lr([2e-3, 2e-3, 5e-4, 5e-4]) == 5e-4  # a tied vote is no majority
    with pytest.raises(ValueError, match="no task"):
        cross_task_lr([])


# A shipped default that departs from the rule, and why (rankscope/search/config.py says the same)
DEFAULT_EXCEPTIONS = {
    # the vote picks 4e-3, where held-out MRPC seed 1 fell to the majority class and CoLA's seed-0
    # sweep ended at MCC 0: adalora's cliff; 2e-3 is one step below it
    "adalora": 2e-3,
}


def test_the_shipped_glue_defaults_are_the_committed_sweeps_picks():
    """Every method's GLUE default is what the rule picks from the committed results file of its
    form, once every task's sweep has chosen for it (docs/results/glue-protocol.md, "Defaults
    from the sweep"): the LoRA form's from the sweeps under the rule the task ships, the SVD
    form's (whose fixed α/r₀ no rule changes) from the first protocol's (α/r)."""
    from benchmarks.protocol.cli import results_path
    from benchmarks.protocol.defaults import cross_task_lr, shipped_lr
    from benchmarks.protocol.sweep import default_settings
    from rankscope.search.config import SearchConfig

    shipped_rule = SearchConfig(task="mrpc").resolved().scaling  # the rule the GLUE lrs are for
    sweep = (FULL["lr_sweep"], FULL["seeds"][0], FULL["extend_sweep"])
    checked = []
    for scaling, methods in ((shipped_rule, [m for m in METHODS if m not in SVD_FORM]), ("lora", list(SVD_FORM))):
        cells = CellFile(results_path(False, "cpu", scaling), default_settings(scaling=scaling), selection=SELECTION)
        for method in methods:
            picks = [chosen_lr(cells, task, method, *sweep) for task in FULL["tasks"]]
            if None in picks or shipped_lr(method) is None:
                continue
            assert shipped_lr(method) == DEFAULT_EXCEPTIONS.get(method, cross_task_lr(picks)), (method, picks)
            checked.append(method)
    assert "uniform" in checked and "salient" in checked  # the files have every task of these


def test_a_cell_is_dirty_for_changed_code_not_for_its_own_results_file(tmp_path, monkeypatch):
    """A benchmark appends to its tracked results file while it runs; that alone is not "+dirty"."""
    import benchmarks.common.cells as cells_module

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "cells.jsonl").write_text("{}\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    monkeypatch.setattr(cells_module, "REPO", tmp_path)
    (tmp_path / "benchmarks" / "results" / "cells.jsonl").write_text("{}\n{}\n")
    assert not cells_module.provenance()["commit"].endswith("+dirty")
    (tmp_path / "code.py").write_text("x = 2\n")
    assert cells_module.provenance()["commit"].endswith("+dirty")
    # and a dirty tree runs no cell unless asked to (nothing written, no child started)
    refusing = cells_module.CellFile(tmp_path / "r.jsonl", SETTINGS)
    with pytest.raises(SystemExit, match="uncommitted changes .* --allow-dirty runs anyway"):
        refusing.run(tmp_path / "no-such-child.py", method="uniform", seed=0)
    assert not (tmp_path / "r.jsonl").exists()
    allowed = cells_module.CellFile(tmp_path / "r.jsonl", SETTINGS, allow_dirty=True)
    assert "exit" in allowed.run(tmp_path / "no-such-child.py", method="uniform", seed=0)["interrupted"]


def test_the_provenance_summary_names_which_figures_ran_from_uncommitted_code():
    from benchmarks.common.cells import provenance_summary

    versions = {"torch": "2", "transformers": "5", "peft": "0"}
    rows = [{"task": "mrpc", "method": "salient", "commit": "abc1234+dirty", "machine": versions},
            {"task": "mrpc", "method": "salient", "commit": "abc1234+dirty", "machine": versions},
            {"task": "cola", "method": "uniform", "commit": "abc1234", "machine": versions},
            {"task": "cola", "method": "uniform"}]
    text = provenance_summary("p.jsonl", rows)
    assert text.startswith("Provenance of `p.jsonl`: 1 of 4 rows ran from a clean commit; 2 from uncommitted code "
                           "(mrpc salient 2;")
    assert "1 record no commit; 1 record no library versions." in text
    clean = provenance_summary("p.jsonl", rows[2:3])
    assert clean == "Provenance of `p.jsonl`: 1 of 1 rows ran from a clean commit."


def test_a_loss_is_minimised_and_read_in_its_own_unit(tmp_path):
    """A decoder task's dev NLL: the sweep keeps the lowest, the table keeps nats (no points), and
    the paired difference is positive when a method's NLL is lower than uniform's."""
    settings = {**SETTINGS, "tasks": ["gsm8k"], "seeds": [0, 1, 2, 3]}
    cells = CellFile(tmp_path / "r.jsonl", settings)
    nll = {("uniform", 1e-3): [0.90, 0.91, 0.92, 0.90], ("uniform", 3e-3): [0.85, 0.86, 0.85, 0.87],
           ("salient", 1e-3): [0.84, 0.84, 0.84, 0.85], ("salient", 3e-3): [0.95, 0.95, 0.95, 0.95]}
    for (method, lr), values in nll.items():
        for seed, v in enumerate(values):
            cells.add({"task": "gsm8k", "method": method, "lr": lr, "seed": seed, "primary": "nll",
                       "greater_is_better": False, "final": {"nll": v}, "params": 100})
    assert chosen_lr(cells, "gsm8k", "uniform", [1e-3, 3e-3], 0) == 3e-3
    assert chosen_lr(cells, "gsm8k", "salient", [1e-3, 3e-3], 0) == 1e-3
    text = render(cells.rows, settings, ["uniform", "salient"],
                  chosen_lr=lambda t, m: chosen_lr(cells, t, m, [1e-3, 3e-3], 0))
    assert ("| salient | 0.001† (α 256) | 100 | 0.8400 | 0.8400 | 0.8500 | 0.8433 ± 0.0058 | +0.0167 ± 0.0058 | "
            "[+0.0023, +0.0310] |") in text  # lower NLL than uniform's 0.86, 0.85, 0.87: a positive difference
    assert "salient beats tuned uniform by 0.0167 ± 0.0058 (3 seeds, 95 % t interval [+0.0023, +0.0310]" in text
    assert "power 0.39 at 0.01 nll (80 % needs 5 seeds)" in text
    assert "(final dev metric, nll)" in text


def test_a_shortcuts_method_spends_the_protocols_budget_counted_in_its_space():
    from benchmarks.protocol.methods import DEFAULT_METHODS, SPACE, config, default_methods

    cfg = config(SETTINGS, "mrpc", "greedy@shortcuts", 0, 1e-3)
    assert (cfg.space, cfg.budget_space, cfg.budget, cfg.allocator) == ("shortcuts", "lora", "r2", "proxy-greedy")
    plain = config(SETTINGS, "mrpc", "greedy", 0, 1e-3)
    assert (plain.space, plain.budget_space) == ("lora", None)
    assert METHODS["greedy@shortcuts"][1] == METHODS["greedy"][1] and set(SPACE) <= set(METHODS)
    assert default_methods([]) == DEFAULT_METHODS and "greedy@shortcuts" not in DEFAULT_METHODS
    assert default_methods([{"method": "grow@shortcuts"}])[-1] == "grow@shortcuts"


def test_the_pilot_reads_the_paired_noise_and_the_seeds_it_asks_for(tmp_path):
    from benchmarks.protocol.pilot import markdown, pilot
    from rankscope.search.power import seeds_for_power

    cells = filled(tmp_path / "r.jsonl")  # uniform 3e-3: 0.73, 0.75, 0.74; salient 1e-3: 0.75, 0.77, 0.76
    for r in cells.rows:
        r["wall_s"] = 600.0
    (record,) = pilot(cells, SETTINGS)
    assert (record["task"], record["method"], record["n"]) == ("mrpc", "salient", 3)
    assert record["mean"] == pytest.approx(2.0) and record["sd"] == pytest.approx(0.0, abs=1e-9)
    for r in cells.rows:
        if r["method"] == "salient" and r["seed"] == 2:
            r["final"] = {"accuracy": 0.80}
    (record,) = pilot(cells, SETTINGS)
    assert record["seeds_needed"] == seeds_for_power(1.0, record["sd"])
    assert record["powered_cpu_h"] == pytest.approx(record["seeds_needed"] * 2 * 600 / 3600)
    assert "| mrpc | salient | 3 | +3.00 | 1.73 | 1 point |" in markdown([record])


def test_the_detectable_effect_is_where_the_power_reaches_80_percent():
    from rankscope.search.power import detectable_effect, paired_power

    for sd, n in ((2.9, 6), (0.0055, 6), (1.0, 30)):
        effect = detectable_effect(sd, n)
        assert paired_power(effect, sd, n) == pytest.approx(0.8, abs=1e-6)
    assert detectable_effect(1.0, 1) is None and detectable_effect(0.0, 5) == 0.0
