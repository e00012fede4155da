"""Rank stability of the LoRA scaling rules: uniform LoRA at several ranks × an lr grid × rule.

``python -m benchmarks.rank_lr`` (:mod:`.cli`); one cell is :func:`.cell.run_cell`.
"""
