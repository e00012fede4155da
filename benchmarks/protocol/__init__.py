"""The fair protocol on GLUE: does an allocator beat a *tuned* uniform LoRA at the same budget?

``python -m benchmarks.protocol`` (:mod:`.cli`). The settings and the sweep rule are in
:mod:`.sweep`, the methods and one cell in :mod:`.methods`, the tables in :mod:`.table`, the
GLUE defaults drawn from the sweeps in :mod:`.defaults`.
"""
