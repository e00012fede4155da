"""Zero-cost proxies (HeteroLoRA): planted ground truth, and MRPC / RTE at equal budget.

``python -m benchmarks.proxies`` (:mod:`.cli`).
"""
