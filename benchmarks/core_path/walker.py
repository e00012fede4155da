"""Run one tiny ``rankscope search`` in this process and record every rankscope function call
that can see the run's configuration: a ``SearchConfig`` among its arguments, or held (two
attributes deep) by one of them (``self.cfg``, ``ctx.trainer.cfg``).

Run as a script by :mod:`.cli` with the checkout to walk first on ``PYTHONPATH``:
``python walker.py OUT.json PLANTED.toml``. Entry points are read from that checkout's
``pyproject.toml``, so an older checkout walks with its own module names.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

import tomllib


def _holds_cfg(value, depth: int) -> bool:
    if type(value).__name__ == "SearchConfig":
        return True
    if depth == 0 or type(value).__module__.split(".")[0] != "rankscope":
        return False
    fields = getattr(value, "__dict__", None)
    return bool(fields) and any(_holds_cfg(v, depth - 1) for v in list(fields.values()))


def walk(out: Path, planted_toml: Path) -> None:
    import rankscope

    repo = Path(rankscope.__file__).resolve().parents[1]
    groups = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["entry-points"]

    def entry_points(group=None, **_):  # this checkout's plugins, not the installed metadata's
        return [md.EntryPoint(n, t, group) for n, t in groups.get(group, {}).items()]

    md.entry_points = entry_points
    for sub in ("proxies", "search_spaces"):  # the top-level folders install inside rankscope
        spec = importlib.util.spec_from_file_location(f"rankscope.{sub}", repo / sub / "__init__.py",
                                                      submodule_search_locations=[str(repo / sub)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    import rankscope.registry

    rankscope.registry.entry_points = entry_points  # before any registry is built
    from rankscope.cli import main

    package = str(repo / "rankscope")
    calls = []

    def profile(frame, event, _arg):
        name = frame.f_code.co_filename
        if event == "call" and name.startswith(package) and any(_holds_cfg(v, 2) for v in frame.f_locals.values()):
            calls.append((str(Path(name).relative_to(repo)), frame.f_code.co_name))

    run_dir = Path(tempfile.mkdtemp()) / "run"
    argv = ["search", "--model", "tiny-bert", "--max-steps", "2", "--allocator", "proxy-static", "-o",
            "n_batches=1", "--out", str(run_dir), "--config", str(planted_toml)]
    sys.setprofile(profile)
    try:
        main(argv)
    except SystemExit:
        pass
    finally:
        sys.setprofile(None)
    if not (run_dir / "report.html").is_file():
        raise SystemExit("the run wrote no report.html")
    out.write_text(json.dumps({"repo": str(repo), "calls": calls}))


if __name__ == "__main__":
    os.environ["RANKSCOPE_CACHE"] = "off"
    walk(Path(sys.argv[1]), Path(sys.argv[2]))
