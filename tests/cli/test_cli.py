"""CLI: `show-space` prints the edge table and writes the graph; bad input exits 2 without a
traceback, in-process (fast) and through a real ``python -m rankscope.cli`` process (slow).
`ls` and the names each choice accepts: tests/cli/test_search_cli.py."""

import subprocess
import sys

import networkx as nx
import pytest
from conftest import run_cli_out


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "rankscope.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_show_space_prints_edge_table_and_writes_the_graph_in_process(capsys, tmp_path):
    code, out, err = run_cli_out(capsys, "show-space", "shortcuts", "--model", "tiny-bert", "--max-rank", "8",
                                 "--graphml", tmp_path / "g.graphml", "--dot", tmp_path / "g.dot")
    assert code == 0, err
    assert "19 edges (12 lora, 7 shortcut)" in out and "S2@1" in out and "R1@0" in out
    rows = [ln.split() for ln in out.splitlines() if ln.startswith(("query@", "S2@"))]
    assert len(rows) == 3 and all(r[-1] == "8" for r in rows)  # --max-rank reaches every edge
    graph = nx.read_graphml(tmp_path / "g.graphml", force_multigraph=True)
    assert graph.number_of_edges() == 19 and {k for *_, k in graph.edges(keys=True)} >= {"S2@1", "R1@0"}
    assert (tmp_path / "g.dot").read_text().count(" -> ") == 19


@pytest.mark.slow  # starts a `python -m rankscope.cli` process
def test_show_space_prints_edge_table(tmp_path):
    out = run("show-space", "shortcuts", "--model", "tiny-bert", "--graphml", str(tmp_path / "g.graphml"))
    assert out.returncode == 0, out.stderr
    assert "S2@1" in out.stdout and "19 edges (12 lora, 7 shortcut)" in out.stdout
    assert (tmp_path / "g.graphml").exists()


@pytest.mark.slow  # starts a `python -m rankscope.cli` process
def test_unknown_space_exits_2_without_traceback():
    out = run("show-space", "nope", "--model", "tiny-bert")
    assert out.returncode == 2
    assert "unknown search space 'nope'" in out.stderr and "Traceback" not in out.stderr
