"""The Optuna outer search: trials to reach proxy-static on the planted task; MRPC against uniform.

``python -m benchmarks.optuna`` (:mod:`.cli`).
"""
