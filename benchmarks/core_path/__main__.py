"""``python -m benchmarks.core_path``: see :mod:`benchmarks.core_path.cli`."""

from .cli import main

main()
