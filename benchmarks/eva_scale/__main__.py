"""``python -m benchmarks.eva_scale``: see :mod:`benchmarks.eva_scale.cli`."""

import os

from .cli import main

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
main()
