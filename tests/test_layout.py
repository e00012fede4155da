"""The layout of the code base: no import cycles, small files, no generic top-level packages.

The folders ``proxies/`` and ``search_spaces/`` sit at the top of the repository (the design
card's layout) but install as ``rankscope.proxies`` and ``rankscope.search_spaces``; every test
here reads that mapping from ``pyproject.toml``, so the tests and the packaging cannot disagree.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
from pathlib import Path

import networkx as nx
import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: pytest brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
MAX_LINES = 300
MAX_TOP_LEVEL_FILES = 10  # .py files directly under rankscope/: the rest lives in concept folders


def package_dirs() -> dict[str, Path]:
    """``{package: folder}`` as setuptools builds them: ``package-dir`` maps a package to a
    folder; any other package lives at its dotted path from the repository root."""
    mapped = SETUPTOOLS.get("package-dir", {})
    return {p: ROOT / mapped.get(p, p.replace(".", "/")) for p in SETUPTOOLS["packages"]}


def module_files() -> dict[str, Path]:
    """``{full module name: file}`` for every .py file of every package (``__init__`` is the
    package itself)."""
    out = {}
    for pkg, folder in package_dirs().items():
        for f in sorted(folder.glob("*.py")):
            out[pkg if f.stem == "__init__" else f"{pkg}.{f.stem}"] = f
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every import statement that can run, function bodies included; ``if TYPE_CHECKING:``
    bodies never run and are skipped (their ``else`` branch does run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def import_graph(files: dict[str, Path] | None = None) -> nx.DiGraph:
    """Module → module it imports, among ``files`` (``{module name: file}``; default every
    module of rankscope). ``from pkg import name`` is an edge to ``pkg.name`` when that is a
    module, else to ``pkg``. No implicit edges to parent packages."""
    files = module_files() if files is None else files
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    anchor = ".".join(parts[:len(parts) - node.level + 1])
                    base = f"{anchor}.{base}" if base else anchor
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            graph.add_edges_from((mod, t) for t in targets if t in files and t != mod)
    return graph


def test_the_graph_sees_function_level_and_relative_imports():
    g = import_graph()
    assert g.has_edge("rankscope.search_spaces.shortcuts", "rankscope.search_spaces.lora")  # from .lora
    assert g.has_edge("rankscope.proxies.grad_norm", "rankscope.scoring")  # from rankscope.scoring import Proxy
    assert g.has_edge("rankscope.checkpoints.native", "rankscope.adapters.attach")  # inside load_adapters
    assert g.has_edge("rankscope", "rankscope.adapters.attach")  # from rankscope.adapters.attach import attach


def test_the_graph_covers_every_file_of_rankscope_proxies_and_search_spaces():
    """The cycle check sees every module: each .py file under rankscope/, proxies/ and
    search_spaces/ (sub-folders included) is a node of the import graph."""
    graph, files = import_graph(), module_files()
    roots = {pkg: package_dirs()[pkg] for pkg in ("rankscope", "rankscope.proxies", "rankscope.search_spaces")}
    assert [f.name for f in roots.values()] == ["rankscope", "proxies", "search_spaces"]
    on_disk = {f.resolve() for folder in roots.values() for f in folder.rglob("*.py") if "__pycache__" not in f.parts}
    seen = {files[m].resolve() for m in graph.nodes}
    assert all(any(folder.glob("*.py")) for folder in roots.values())
    assert on_disk <= seen, sorted(str(f.relative_to(ROOT)) for f in on_disk - seen)


def test_no_import_cycles():
    cycles = sorted(nx.simple_cycles(import_graph()), key=len)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c + c[:1]) for c in cycles[:20])


def folder_graph() -> nx.DiGraph:
    """The import graph with every module collapsed to its folder under ``rankscope/`` (a ground
    floor module stays itself): ``rankscope.search.session`` → ``rankscope.search``."""
    def folder(module: str) -> str:
        return ".".join(module.split(".")[:2])

    graph = nx.DiGraph()
    for a, b in import_graph().edges():
        if "rankscope" not in (a, b) and folder(a) != folder(b):
            graph.add_edge(folder(a), folder(b))
    return graph


def test_the_folders_import_each_other_without_a_cycle():
    """The folders are floors of the data flow: no folder imports one that imports it back, even
    through others (function-level imports included), so each can be read after those below it."""
    cycles = sorted(nx.simple_cycles(folder_graph()), key=len)
    assert not cycles, "folder cycles:\n" + "\n".join(" -> ".join(c + c[:1]) for c in cycles[:20])
    assert nx.dag_longest_path_length(folder_graph()) + 1 <= 10  # floors; 8 when this test was written


def test_library_files_are_small():
    long = {str(f.relative_to(ROOT)): n for f in module_files().values()
            if (n := len(f.read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines (split them, one concept each): {long}"


def test_few_files_sit_directly_under_rankscope():
    top = sorted(f.name for f in (ROOT / "rankscope").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_FILES, (
        f"{len(top)} .py files directly under rankscope/ (at most {MAX_TOP_LEVEL_FILES}; put a new module in "
        f"the folder of its concept): {top}")


def test_packaging_lists_every_package_and_no_generic_top_level():
    packages = SETUPTOOLS["packages"]
    assert all(p == "rankscope" or p.startswith("rankscope.") for p in packages), packages
    mapped = SETUPTOOLS.get("package-dir", {})
    assert mapped.get("rankscope.proxies") == "proxies"
    assert mapped.get("rankscope.search_spaces") == "search_spaces"
    # every folder of .py files under a listed package is itself listed (a missing one would be
    # absent from the wheel while the editable install still finds it)
    on_disk = {pkg + "." + ".".join(d.relative_to(folder).parts) for pkg, folder in package_dirs().items()
               for d in folder.rglob("*") if d.is_dir() and any(d.glob("*.py"))}
    assert on_disk <= set(packages), sorted(on_disk - set(packages))


def test_entry_points_target_the_rankscope_namespace():
    groups = PYPROJECT["project"]["entry-points"]
    targets = {f"{g}:{n}": t for g, eps in groups.items() for n, t in eps.items()}
    assert targets and all(t.startswith("rankscope.") for t in targets.values()), targets
    files = module_files()
    assert all(t.partition(":")[0] in files for t in targets.values())


def test_installed_distribution_has_no_generic_top_level():
    dist = importlib.metadata.distribution("rankscope")
    eps = [ep for ep in dist.entry_points if ep.group in ("rankscope.proxies", "rankscope.search_spaces")]
    assert eps and all(ep.module.startswith("rankscope.") for ep in eps), (
        "the installed metadata is stale: pip install -e '.[test]'")
    assert dist.version == importlib.import_module("rankscope").__version__
    top = (dist.read_text("top_level.txt") or "").split()
    assert top == ["rankscope"], top
    if dist.read_text("RECORD") is not None:  # an installed wheel (an in-tree egg-info lists sources)
        installed = [str(f) for f in dist.files]
        assert not [f for f in installed if f.startswith(("proxies/", "search_spaces/"))]
    assert importlib.util.find_spec("rankscope.proxies.spectral") is not None
    assert importlib.util.find_spec("rankscope.search_spaces.lora") is not None


@pytest.mark.parametrize("group,name", [("rankscope.proxies", "spectral"), ("rankscope.search_spaces", "shortcuts")])
def test_entry_points_load_from_the_namespace(group, name):
    (ep,) = importlib.metadata.entry_points(group=group, name=name)
    assert ep.load().__module__.startswith(f"{group}.")
