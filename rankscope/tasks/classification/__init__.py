"""Sequence classification and regression: the GLUE tasks (:mod:`.glue`) and custom CSV/JSONL
data (:mod:`.custom`)."""
