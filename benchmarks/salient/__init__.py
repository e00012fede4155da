"""SalientLoRA / AdaLoRA: speed, quality at equal budget, planted recovery, scale.

``python -m benchmarks.salient`` (:mod:`.cli`).
"""
