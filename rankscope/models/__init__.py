"""Model loading (:mod:`.loading`: offline aliases, hub ids, local paths, the task head) and the
converted-model cache of models that are slow to load from their source (:mod:`.cache`)."""
