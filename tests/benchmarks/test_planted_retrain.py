"""python -m benchmarks.planted.retrain: a finished run's allocation, retrained from a fresh start."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

RETRAIN = ("-m", "benchmarks.planted.retrain")
pytestmark = pytest.mark.slow  # every test starts processes


def run(*args, cwd):
    """``python ARGS`` in ``cwd``, with this checkout's benchmarks package importable from there."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=env)


def test_retrains_the_same_allocation_with_the_runs_settings(tmp_path):
    grown = tmp_path / "grow"
    first = run("-m", "rankscope.cli", "search", "--model", "tiny-bert", "--space", "shortcuts", "--allocator",
                "proxy-grow", "-o", "rounds=3", "--max-steps", "12", "--seed", "1", "--quiet", "--out", grown,
                cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = run(*RETRAIN, grown, "--quiet", "--out", tmp_path / "fixed", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    a, b = (json.loads((tmp_path / d / "allocation.json").read_text()) for d in ("grow", "fixed"))
    assert a["ranks"] == b["ranks"] and b["form"] == "lora"
    result = json.loads((tmp_path / "fixed" / "result.json").read_text())
    config = (tmp_path / "fixed" / "config.toml").read_text()
    assert 'allocator = "fixed"' in config and "seed = 1" in config and "max_steps = 12" in config
    assert "rounds" not in config  # proxy-grow's options are not the fixed allocator's
    assert "gap_closed" in json.dumps(result)


def test_not_a_run_directory_is_exit_2_and_writes_nothing(tmp_path):
    out = run(*RETRAIN, tmp_path / "missing", "--out", tmp_path / "x", cwd=tmp_path)
    assert out.returncode == 2 and "not a finished run directory" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x").exists()
