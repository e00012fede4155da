"""CLI: choices equal the registries, bad input exits 2 without a traceback."""

import subprocess
import sys

import rankscope as rs


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "rankscope.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_ls_spaces_equals_registry():
    out = run("ls", "spaces")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == rs.SPACES.names()


def test_ls_models_equals_registry():
    out = run("ls", "models")
    assert out.stdout.split() == rs.MODELS.names()


def test_show_space_prints_edge_table(tmp_path):
    out = run("show-space", "shortcuts", "--model", "tiny-bert", "--graphml", str(tmp_path / "g.graphml"))
    assert out.returncode == 0, out.stderr
    assert "S2@1" in out.stdout and "19 edges (12 lora, 7 shortcut)" in out.stdout
    assert (tmp_path / "g.graphml").exists()


def test_unknown_space_exits_2_without_traceback():
    out = run("show-space", "nope", "--model", "tiny-bert")
    assert out.returncode == 2
    assert "unknown search space 'nope'" in out.stderr and "Traceback" not in out.stderr
