"""``python -m benchmarks.docs``: see :mod:`benchmarks.docs.cli`."""

import sys

from .cli import main

sys.exit(main())
