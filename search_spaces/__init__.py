"""Built-in search spaces, registered through the ``rankscope.search_spaces`` entry-point group.

===========  ===================================================================================
``lora``     every attention and FFN projection of every block (q, k, v, o, ffn_in, ffn_out;
             LLaMA-like models add gate; GPT-2 has a fused qkv)
``lora-qv``  q and v only (HeteroLoRA's experiments; GPT-2: the fused qkv)
``shortcuts``  ``lora`` plus four LoRA-adapted shortcut edges per block (R1, R2, S1, S2)
===========  ===================================================================================

Each builder has the signature ``build(model, *, max_rank=64, family=None) -> SearchSpace``.
"""
