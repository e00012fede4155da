"""``python -m benchmarks.protocol``: see :mod:`benchmarks.protocol.cli`."""

import os

from .cli import main

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
main()
