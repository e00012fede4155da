"""Trained adapters on disk: the native safetensors format, shortcut edges included
(:mod:`.native`), serving-safe PEFT export (:mod:`.peft_export`), a merged transformers model
(:mod:`.merged_export`) and PEFT configs read back as allocations (:mod:`.peft_import`)."""
