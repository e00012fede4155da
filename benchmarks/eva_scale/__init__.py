"""Diagnosis of PEFT EVA's protocol rows: |A·x| under EVA against PEFT's default initialisation.

``python -m benchmarks.eva_scale`` (:mod:`.cli`).
"""
