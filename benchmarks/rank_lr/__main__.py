"""``python -m benchmarks.rank_lr``: see :mod:`benchmarks.rank_lr.cli`."""

import os

from .cli import main

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
main()
