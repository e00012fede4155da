"""Folded against hooked adapters at inference: what :meth:`rankscope.AdapterHandle.folded` saves.

On one decoder (default SmolLM2-135M) with a uniform LoRA allocation of ``--budget`` over the
``lora`` space, its B drawn nonzero as after training, two timings, each the median of
``--rounds`` repeats with the variants interleaved round by round (hooked, folded, base, ...),
so that a slow spell of a shared machine hits all of them:

* the harness's dev evaluation (:func:`rankscope.harness.loop.evaluate_batches`) over
  ``--rows`` GSM8K rows, batched by length as the harness does;
* greedy decoding of ``--prompts`` GSM8K problems, ``--new-tokens`` tokens each.

It prints the ratios folded / hooked and hooked / base (no adapters), the largest difference
in dev NLL between folded and hooked, and appends the row, with the provenance of
:mod:`benchmarks.common.cells`, to ``benchmarks/results/fold.jsonl``::

    python -m benchmarks.fold                   # SmolLM2, r8, 48 rows, 8 problems × 64 tokens
    python -m benchmarks.fold --table-only
"""
