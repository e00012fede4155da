"""The documentation's results pages (``docs/results/``), generated from ``benchmarks/results/``.

``python -m benchmarks.docs`` (:mod:`.cli`); the prose is in ``templates/``, the generated tables
come from :mod:`.pages`, which reuses each benchmark's own table code.
"""
