"""``python -m benchmarks.causal``: see :mod:`benchmarks.causal.cli`."""

import os

from .cli import main

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
main()
