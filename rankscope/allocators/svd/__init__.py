"""The in-training SVD-form family: ``salient`` (SalientLoRA, NeurIPS 2024) and ``adalora``
(AdaLoRA, ICLR 2023, its baseline). Shared parts: the options (:mod:`.options`), triplet
budgets and schedules (:mod:`.triplets`) and the report section (:mod:`.report`)."""
