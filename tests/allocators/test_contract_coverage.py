"""Every built-in allocator has a contract test: a ``Test*`` class deriving from
:class:`rankscope.testing.AllocatorContract`, somewhere under tests/, for each ``rankscope.allocators``
entry point that ``pyproject.toml`` declares. A newly registered allocator without one fails here.

The contract classes live beside each allocator's own tests (test_contract_uniform.py,
test_contract_svd.py, test_greedy.py, test_sparse.py, test_optuna.py, and the proxy allocators in
tests/scoring/test_contract_proxies.py), so they are found by reading the test files, not by
importing them: ``class TestX(AllocatorContract): allocator = "name"``, written out."""

import ast

from conftest import REPO, declared_entry_points

from rankscope.allocators import ALLOCATORS


def contract_classes() -> dict[str, set[str]]:
    """``{allocator name: {"path::class", ...}}`` of the collectable AllocatorContract classes."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.ClassDef) and node.name.startswith("Test") and any(
                    (b.id if isinstance(b, ast.Name) else getattr(b, "attr", None)) == "AllocatorContract"
                    for b in node.bases)):
                continue
            for stmt in node.body:
                if (isinstance(stmt, ast.Assign) and [getattr(t, "id", None) for t in stmt.targets] == ["allocator"]
                        and isinstance(stmt.value, ast.Constant)):
                    found.setdefault(stmt.value.value, set()).add(f"{path.relative_to(REPO)}::{node.name}")
    return found


def test_the_reader_finds_the_contract_classes():
    found = contract_classes()
    assert "tests/allocators/test_contract_uniform.py::TestUniformContract" in found["uniform"]
    assert "tests/scoring/test_contract_proxies.py::TestProxyDynamicContract" in found["proxy-dynamic"]


def test_the_builtin_allocators_are_all_covered():
    declared = set(declared_entry_points("rankscope.allocators"))
    covered = set(contract_classes())
    assert declared <= covered, (f"allocators without an AllocatorContract test class: {sorted(declared - covered)}")
    # the registry (installed metadata) offers every declared allocator: a stale install fails here
    assert declared <= set(ALLOCATORS.names()), "reinstall: pip install -e '.[test]'"
