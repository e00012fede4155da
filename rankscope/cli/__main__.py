"""``python -m rankscope.cli``: the same as the ``rankscope`` command."""

from . import main

main()
