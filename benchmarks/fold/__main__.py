"""``python -m benchmarks.fold``: see :mod:`benchmarks.fold`."""

import os

from .cli import main

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
main()
