"""GSM8K on SmolLM2: PEFT's MetaMathQA-style method comparison, small, with speed ratios.

``python -m benchmarks.causal`` (:mod:`.cli`). The methods and one training cell are in
:mod:`.methods`, the speed cell in :mod:`.speed`, the tables in :mod:`.table`.
"""
