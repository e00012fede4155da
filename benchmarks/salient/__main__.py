"""``python -m benchmarks.salient``: see :mod:`benchmarks.salient.cli`."""

import os

from .cli import main

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
main()
