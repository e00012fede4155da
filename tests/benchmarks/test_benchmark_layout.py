"""The layout of benchmarks/: a package of folders, run as modules, with no import cycle and no
sys.path edits (the repository root is on the path: ``python -m`` from the root, or pytest)."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from conftest import REPO
from test_layout import import_graph as library_import_graph

BENCHMARKS = REPO / "benchmarks"
#: folders of benchmarks/ that are not benchmarks (results/ holds committed data, no code)
NOT_RUNNABLE = {"common", "results", "__pycache__"}
SYS_PATH_EDIT = re.compile(r"sys\.path\.(insert|append|extend)\s*\(|sys\.path\s*\+?=")


def module_files() -> dict[str, Path]:
    """``{module name: file}`` of every .py file under benchmarks/ (a package is its ``__init__``)."""
    out = {}
    for f in sorted(BENCHMARKS.rglob("*.py")):
        parts = f.relative_to(REPO).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def import_graph() -> nx.DiGraph:
    """Module → benchmarks module it imports, function-level and relative imports included (the
    library's own graph builder, :func:`test_layout.import_graph`, over benchmarks/)."""
    return library_import_graph(module_files())


def test_the_graph_sees_function_level_and_relative_imports():
    g = import_graph()
    assert g.has_edge("benchmarks.causal.cli", "benchmarks.causal.speed")  # inside run_cell: from .speed import
    assert g.has_edge("benchmarks.causal.speed", "benchmarks.causal.methods")  # inside speed_row
    assert g.has_edge("benchmarks.protocol.methods", "benchmarks.common.rows")  # inside peft_eva_row
    assert g.has_edge("benchmarks.protocol.sweep", "benchmarks.common.cells")  # absolute, at the top
    assert g.has_edge("benchmarks.protocol.__main__", "benchmarks.protocol.cli")  # from .cli import main


def test_no_import_cycles_in_benchmarks():
    cycles = sorted(nx.simple_cycles(import_graph()), key=len)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c + c[:1]) for c in cycles[:20])


def test_the_causal_cells_do_not_import_the_speed_cell():
    """The speed cell needs the methods' module names; the methods never need the speed cell."""
    assert not nx.has_path(import_graph(), "benchmarks.causal.methods", "benchmarks.causal.speed")


def test_no_sys_path_edits_in_benchmarks_or_their_tests():
    files = [*BENCHMARKS.rglob("*.py"), *Path(__file__).parent.rglob("*.py")]
    edits = [f"{f.relative_to(REPO)}:{i}" for f in files if f.resolve() != Path(__file__).resolve()
             for i, line in enumerate(f.read_text().splitlines(), 1) if SYS_PATH_EDIT.search(line)]
    assert not edits, f"sys.path edited (import benchmarks.… from the repository root instead): {edits}"


def runnable() -> list[str]:
    return sorted(d.name for d in BENCHMARKS.iterdir() if d.is_dir() and d.name not in NOT_RUNNABLE)


def test_every_benchmark_is_a_package_run_with_python_m():
    assert (BENCHMARKS / "__init__.py").is_file() and (BENCHMARKS / "common" / "__init__.py").is_file()
    assert {"protocol", "causal", "planted", "proxies", "salient", "optuna", "eva_scale", "docs"} <= set(runnable())
    for name in runnable():
        assert (BENCHMARKS / name / "__init__.py").is_file(), name
        assert (BENCHMARKS / name / "__main__.py").is_file(), f"python -m benchmarks.{name} needs a __main__.py"
    assert not list(BENCHMARKS.glob("*.py"))[1:], "benchmark code lives in a folder, not at benchmarks/ itself"
    assert not (REPO / "rankscope" / "benchmarking.py").exists()  # moved to benchmarks.common.rows


def test_every_benchmark_module_imports():
    """Every module but the ``__main__`` ones (which run their benchmark) imports cleanly."""
    for name in module_files():
        if not name.endswith("__main__"):
            importlib.import_module(name)


@pytest.mark.slow
@pytest.mark.parametrize("module", [*runnable(), "planted.calibration", "planted.decoder", "planted.diagnosis",
                                    "planted.retrain"])
def test_help_works(module):
    out = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--help"], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert f"benchmarks.{module.split('.')[0]}" in out.stdout or "usage" in out.stdout.lower()
