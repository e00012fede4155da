"""Decoder tasks trained on next-token loss over response tokens: rows (:mod:`.rows`), rows from
a ``datasets`` source (:mod:`.hf_dataset`, :mod:`.columns`), GSM8K (:mod:`.gsm8k`), tokenisation
into features (:mod:`.features`), greedy decoding (:mod:`.generation`) and the GSM8K exact-match
score (:mod:`.exact_match`)."""
