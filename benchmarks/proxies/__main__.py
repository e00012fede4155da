"""``python -m benchmarks.proxies``: see :mod:`benchmarks.proxies.cli`."""

import os

from .cli import main

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
main()
