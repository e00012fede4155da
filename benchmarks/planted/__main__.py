"""``python -m benchmarks.planted NAME [ARGS]``: run one of the planted-task benchmarks
(the same as ``python -m benchmarks.planted.NAME [ARGS]``)."""

import importlib
import sys

from . import TOOLS


def usage() -> str:
    width = max(map(len, TOOLS))
    return ("usage: python -m benchmarks.planted NAME [ARGS]   (or python -m benchmarks.planted.NAME [ARGS])\n\n"
            "The planted-structure task's benchmarks; NAME --help for a benchmark's options:\n\n"
            + "\n".join(f"  {name:<{width}}  {what}" for name, what in TOOLS.items()))


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in TOOLS:
        print(f"error: unknown benchmark {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    return importlib.import_module(f"{__package__}.{argv[0]}").main(argv[1:]) or 0


sys.exit(main(sys.argv[1:]))
