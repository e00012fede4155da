"""The core path of a run: which files a configuration passes through, from ``rankscope search``
to ``report.html``.

``python -m benchmarks.core_path`` (:mod:`.cli`).
"""
