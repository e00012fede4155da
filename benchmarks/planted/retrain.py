"""Retrain a finished run's final allocation from a fresh start, on the same task, seed and schedule.

Separates what an in-training allocator *chose* from how well its *run* trained that choice. An
in-training allocator (``proxy-grow``, ``salient``, …) is judged on one run in which it also
decided; the same allocation trained as a fixed allocation for the whole schedule (what a
before-training allocator gets) tells which half loses::

    r2(in-run)  < r2(retrained)  ≈ r2(before-training rival)   → the choice is good, the run is not
    r2(retrained) < r2(before-training rival)                  → the choice itself is worse

Usage (any ``rankscope search`` flags after the run directory; the task, seed and schedule must
be the ones the run used, which the run's ``config.toml`` holds)::

    rankscope search --space shortcuts --allocator proxy-grow --seed 2 --out runs/grow-s2
    python -m benchmarks.planted.retrain runs/grow-s2 --out runs/grow-s2-retrained

The retrained run is an ordinary run directory (allocator ``fixed``), with the planted task's
uniform floor, oracle ceiling and ``gap_closed`` in its ``result.json``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import tomli_w
import tomllib

from rankscope import Allocation
from rankscope.allocators import ALLOCATORS, Allocator, Plan


def fixed_allocator(path: Path):
    class Fixed(Allocator):
        """The allocation in ``path``, trained as is (before-training family, no hook)."""

        name = "fixed"

        def propose(self, ctx):
            alloc = Allocation.from_json(path, ctx.space)
            if alloc.form != "lora":  # an SVD-form run's ranks, retrained as LoRA ranks of the same count
                alloc = Allocation(ctx.space, dict(alloc.ranks))
            return Plan(alloc, record={"retrained_from": str(path)})

    return Fixed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if not argv or argv[0].startswith("-"):
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        return 2
    run = Path(argv[0])
    alloc, config = run / "allocation.json", run / "config.toml"
    if not alloc.is_file() or not config.is_file():
        print(f"error: {run} is not a finished run directory (needs allocation.json and config.toml)",
              file=sys.stderr)
        return 2
    from rankscope.cli import main as cli_main

    ALLOCATORS.register("fixed", fixed_allocator(alloc), overwrite=True)
    settings = tomllib.loads(config.read_text())
    settings.pop("allocator_options", None)  # the original allocator's, not the fixed one's
    settings["allocator"] = "fixed"
    with tempfile.TemporaryDirectory() as tmp:  # the config lives only as long as the run
        fixed_config = Path(tmp) / "config.toml"
        fixed_config.write_text(tomli_w.dumps(settings))
        try:
            cli_main(["search", "--config", str(fixed_config), *argv[1:]])
        except SystemExit as exc:
            return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main() or 0)
