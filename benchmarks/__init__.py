"""rankscope's benchmarks: one folder per benchmark, each run as a module from the repository root.

::

    python -m benchmarks.protocol     the fair GLUE protocol (MiniLM; MRPC, RTE, CoLA)
    python -m benchmarks.causal       GSM8K on SmolLM2, with speed ratios against PEFT
    python -m benchmarks.planted      the planted-structure task: calibration, decoder step cost,
                                      diagnosis, retraining a run's allocation
    python -m benchmarks.proxies      zero-cost proxies on the planted task and GLUE
    python -m benchmarks.salient      SalientLoRA / AdaLoRA: speed, scale, planted, GLUE
    python -m benchmarks.optuna       the Optuna outer search on the planted task and MRPC
    python -m benchmarks.eva_scale    diagnosis of PEFT EVA's initial scale on GLUE
    python -m benchmarks.docs         the documentation's results pages, from benchmarks/results/

``benchmarks.common`` holds what they share: resumable result cells (:mod:`benchmarks.common.cells`)
and the rows every allocator produces through one session (:mod:`benchmarks.common.rows`).
Committed results files are in ``benchmarks/results/``; the results pages of the documentation
(``docs/results/``) are generated from them alone.
"""
