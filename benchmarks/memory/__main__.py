"""``python -m benchmarks.memory``: see :mod:`benchmarks.memory`."""

import os

from .cli import main

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
main()
