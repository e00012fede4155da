"""A decoder run as a new user types it, timed: where its time goes.

``rankscope search --model smollm2 --task gsm8k --space lora --allocator proxy-static
--max-steps 20``, with no evaluation flags, in a child process on this machine; the row records
the wall time and ``result.json``'s breakdown (loading, the task's data, allocating, training,
evaluating on dev, decoding GSM8K test problems), the share that evaluation and decoding take,
and the provenance of :mod:`benchmarks.common.cells`. The target: within 15 minutes on 2 idle
cores, evaluation and decoding at most 35 % of the time.

::

    python -m benchmarks.first_try                 # one timed run, appended to the results file
    python -m benchmarks.first_try --table-only    # the table from benchmarks/results/first-try.jsonl
"""
