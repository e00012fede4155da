"""The zero-cost proxy family (HeteroLoRA, arXiv 2406.14956): ``proxy-static`` (score once,
before training), ``proxy-dynamic`` (re-score during training), ``proxy-greedy`` (forward edge
selection before training) and ``proxy-grow`` (the same inside the run). Shared parts: the
options (:mod:`.options`), scoring a live supernet (:mod:`.scorer`), scores → allocation
(:mod:`.select`) and the report section (:mod:`.report`)."""
