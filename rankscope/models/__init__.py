"""Model loading (:mod:`.loading`: offline aliases, hub ids, local paths, the task head), the
converted-model cache of models that are slow to load from their source (:mod:`.cache`), and
what makes a bigger base fit (:mod:`.memory`: the frozen base's dtype, gradient checkpointing)."""
