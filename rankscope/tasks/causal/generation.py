"""Greedy decoding with adapters attached, and the exact-match score of the answers it produces.

GSM8K is scored as PEFT's ``method_comparison/MetaMathQA`` benchmark scores it: decode each test
prompt greedily, take the final number of the generated solution and compare it with the gold
one (:func:`rankscope.tasks.causal.gsm8k.exact_match`)::

    prompt ids ──left-pad, batch──► model.generate(greedy, KV cache) ──► text up to EOS or a stop
                                                                         string ──► exact match

**Batching.** Prompts are sorted by length (less padding), padded on the *left* so every row's
next token sits in the last column, and decoded ``batch_size`` at a time; the texts come back in
the prompts' order. A row is finished at EOS (the token every trained response ends with), at
``max_new_tokens``, or once its text holds a stop string: ``"\\n\\n"`` or ``"Question:"``, where an
untrained model starts the next few-shot item; the text is cut there.

**Adapters.** The edges run as forward hooks on token positions (:mod:`rankscope.adapters.runtime`), so
decoding sees them with or without the KV cache: with the cache each step feeds only the new
token, and every hook, shortcuts included, acts on that token alone, which is what the uncached
forward computes at that position. ``tests/tasks/test_generation.py`` checks that both agree token for
token with every edge kind attached.

>>> from rankscope.models.loading import load_model
>>> from rankscope.tasks.causal.features import CausalRow, encode_prompts
>>> model, tok = load_model("tiny-llama", causal_lm=True)
>>> rows = [CausalRow("prompt_response", prompt="Question: 2+2?\\nAnswer:", response=" 4 #### 4")]
>>> texts = greedy_generate(model, tok, encode_prompts(rows, tok, 64), max_new_tokens=4)
>>> len(texts), isinstance(texts[0], str)
(1, True)
"""

from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

STOP_STRINGS = ("\n\n", "Question:")


class StopOnText(StoppingCriteria):
    """Finish a row once its generated text (after the ``start`` prompt columns) holds a stop string."""

    def __init__(self, tokenizer, start: int, stops=STOP_STRINGS):
        self.tokenizer, self.start, self.stops = tokenizer, start, tuple(stops)

    def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.start:], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in texts], device=input_ids.device)


def cut_at_stop(text: str, stops=STOP_STRINGS) -> str:
    """``text`` up to its first stop string."""
    ends = [text.find(s) for s in stops if s in text]
    return text[:min(ends)] if ends else text


def pad_token_id(tokenizer) -> int:
    from rankscope.tasks.causal.features import end_id

    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_id(tokenizer)


def greedy_generate(model, tokenizer, prompts: list[list[int]], *, max_new_tokens: int = 256,
                    batch_size: int = 16, device: str = "cpu", use_cache: bool = True,
                    stops=STOP_STRINGS, progress: bool = False, stats: dict | None = None) -> list[str]:
    """The greedy continuation of each prompt (token ids), as text, in the prompts' order.

    ``stats``, when given, receives ``generated_tokens`` (the tokens decoded, padding after a row
    finished excluded) and ``generate_s``.
    """
    from rankscope.tasks.causal.features import end_id

    t0, pad, eos = time.perf_counter(), pad_token_id(tokenizer), end_id(tokenizer)
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, use_cache=use_cache,
                              pad_token_id=pad, eos_token_id=eos)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    texts, generated = [""] * len(prompts), 0
    was = model.training
    model.to(device).eval()
    try:
        for lo in tqdm(range(0, len(order), batch_size), desc="generate", disable=not progress, leave=False):
            chunk = order[lo:lo + batch_size]
            width = max(len(prompts[i]) for i in chunk)
            ids = torch.tensor([[pad] * (width - len(prompts[i])) + list(prompts[i]) for i in chunk], device=device)
            mask = torch.tensor([[0] * (width - len(prompts[i])) + [1] * len(prompts[i]) for i in chunk],
                                device=device)
            with torch.no_grad():
                out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config,
                                     stopping_criteria=StoppingCriteriaList([StopOnText(tokenizer, width, stops)]))
            new = out[:, width:]
            for row, i in zip(new.tolist(), chunk):
                kept = row[:row.index(eos)] if eos in row else row
                generated += len(kept) + (eos in row)
                texts[i] = cut_at_stop(tokenizer.decode(kept, skip_special_tokens=True), stops)
    finally:
        model.train(was)
    if stats is not None:
        stats.update(generated_tokens=generated, generate_s=time.perf_counter() - t0)
    return texts
