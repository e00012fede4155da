"""``python -m rankscope.cli``: the same as the ``rankscope`` command."""

from rankscope.cli import main

main()
