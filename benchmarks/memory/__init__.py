"""Peak memory of a training step on a bigger base: float32 against bfloat16 for the frozen base,
with and without gradient checkpointing (``--dtype``, ``--gradient-checkpointing``;
:mod:`rankscope.models.memory`).

One cell per variant, each in its own child process (:mod:`benchmarks.common.cells`), so that a
variant's peak is its own: the child loads the causal LM directly in the variant's dtype
(``rs.load_model(model, causal_lm=True, dtype=...)``), attaches uniform LoRA over the ``lora``
space, and trains ``--steps`` optimizer steps through the harness (AdamW, clipping) on one fixed
batch of random tokens of ``--batch-size`` × ``--seq-len``, every token a target.

What is measured, and why RSS. PyTorch keeps no allocator statistics on the CPU, so the figure is
the operating system's: the process's peak resident set size (``ru_maxrss``), the most memory it
ever held, load included. The child also records its resident set after its imports (the
interpreter, torch and rankscope, the same for every variant) and after the model loaded, so
``peak − imports`` is what the model, its training and the modules that loading imports lazily
(the model's code, the tokenizer: about 140 MiB, the same for every variant) took. RSS counts
freed memory that the allocator kept, so it is an upper bound of what the tensors needed,
measured the same way for every variant::

    python -m benchmarks.memory                            # SmolLM2-135M, batch 4 × 256, 2 steps
    python -m benchmarks.memory --model tiny-llama         # a quick check (rows to a temporary file)

Rows go to ``benchmarks/results/memory.jsonl`` (SmolLM2), one per variant with its commit,
machine and command; the table prints each variant's peak beside float32 without checkpointing.
bfloat16 is correct on any CPU but slow on one without native bfloat16 matmuls (AVX2 only: about
ten times float32's step time); the figures are about memory, not speed.
"""
