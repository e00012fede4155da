"""``python -m benchmarks.optuna``: see :mod:`benchmarks.optuna.cli`."""

import os

from .cli import main

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
main()
