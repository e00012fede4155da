"""The harness: the one training loop (:mod:`.loop`), its per-step hook protocol (:mod:`.hooks`),
what a run returns (:mod:`.outcome`), tokenised data with dynamic padding (:mod:`.data`) and the
objectives that turn a batch into a loss and metrics (:mod:`.objectives`), with a causal LM's
head on target positions only (:mod:`.target_head`)."""
