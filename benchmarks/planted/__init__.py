"""Benchmarks of the planted-structure task, one module each, each run with ``python -m``::

    python -m benchmarks.planted.calibration   oracle against uniform dev error, per seed (the task's calibration)
    python -m benchmarks.planted.decoder       a planted step's cost against a causal-LM step on one decoder
    python -m benchmarks.planted.diagnosis     why allocators miss the plants: edges alone, proxy scores, λ
    python -m benchmarks.planted.greedy_cost   proxy-greedy's quality against its cost, rounds and scoring cut
    python -m benchmarks.planted.retrain       a finished run's allocation, retrained from a fresh start
    python -m benchmarks.planted.scaling       the allocators' gap_closed under alpha/r and under alpha/sqrt(r)

``python -m benchmarks.planted NAME [ARGS]`` runs the same (:mod:`.__main__`).
"""

#: the runnable modules of this package, by name
TOOLS = {"calibration": "oracle against uniform dev error, per seed (the task's calibration)",
         "decoder": "a planted step's cost against a causal-LM step on the same decoder",
         "diagnosis": "why allocators miss the plants: edges trained alone, proxy scores, λ trajectories",
         "greedy_cost": "proxy-greedy's gap_closed against its cost, with fewer rounds, round steps or scoring batches",
         "retrain": "a finished run's final allocation, retrained from a fresh start",
         "scaling": "the allocators' gap_closed under alpha/r and under alpha/sqrt(r), seeds 0-2"}
