"""Causal-LM task data: rows (:mod:`.causal_rows`, :mod:`.gsm8k`) -> token features -> batches.

Two tasks give rows, :class:`~rankscope.tasks.causal.rows.CausalRow` s:

* ``--task gsm8k``: :func:`~rankscope.tasks.causal.gsm8k.load_gsm8k` (splits ``train``/``dev``/``test``);
* ``--task causal --data-dir DIR``: :func:`~rankscope.tasks.causal.rows.load_causal` (``train``/
  ``dev``), in the ``prompt_response``, ``messages`` or ``text`` format;
* ``--task causal --dataset NAME_OR_PATH``: the same rows from any ``datasets`` source
  (:func:`~rankscope.tasks.causal.hf_dataset.load_dataset_rows`).

**Masking.** :func:`tokenize_causal` turns each row into ``input_ids``, ``attention_mask`` and
``labels``, with ``labels = -100`` (ignored by the loss) wherever the token is not a target::

    input_ids:  [BOS] Question : ... Answer :   Natalia sold ... #### 72  [EOS]
    labels:     -100  -100  ...          -100   Natalia sold ... #### 72  [EOS]
                └────────── prompt ──────────┘  └──────────── response ───────┘

* ``prompt_response`` (GSM8K too): prompt and response are tokenized separately (no special
  tokens) and concatenated, so the model is trained on exactly the prompt tokens it will be given
  at inference (:func:`encode_prompts`). The prompt starts with BOS exactly when the tokenizer
  itself adds one (LLaMA: yes; GPT-2, SmolLM2, Qwen2, BERT: no). The response ends with EOS (a
  tokenizer without one, such as the BERT tokenizer of the ``tiny-*`` models, uses its SEP);
* ``text``: every token is a target, BOS and EOS as for prompt/response;
* ``messages``: the conversation is rendered by ``tokenizer.apply_chat_template``. Assistant turn
  *i* spans the text between the rendering of ``messages[:i]`` with the generation prompt and the
  rendering of ``messages[:i+1]``; those spans (the content and the template's end-of-turn
  marker, which is the stop token to generate to) are the targets, and the system, user and
  template tokens around them are not. Each span is tokenized on its own, so the masking is exact.
  A template that rewrites earlier turns when later ones are added is an error. No EOS is added.

**Truncation** to ``max_len`` tokens. A row's *response* is its last target span (prompt/response:
the response and EOS; messages: the last assistant turn; text: all of it), its *prompt* everything
before. A row that is too long keeps its response and loses prompt tokens from the left (the end of
the prompt, next to the answer, survives). If the response does not fit even so, the row keeps the
last prompt token (so every response token is predicted from something; a text row has none) and
the first tokens of the response: the response is trimmed from the right and loses its EOS. The
stats count the rows that lost prompt tokens and those that lost response tokens (a row can be in
both).

>>> from transformers import AutoTokenizer
>>> from rankscope.models.loading import minilm_path
>>> tok = AutoTokenizer.from_pretrained(minilm_path())     # the tokenizer of the tiny-* models
>>> rows = [CausalRow("prompt_response", prompt="Question: 2+2?\\nAnswer:", response=" 4")]
>>> (f,), stats = tokenize_causal(rows, tok, max_len=16)
>>> tok.convert_ids_to_tokens(f["input_ids"])                 # BERT has no BOS; its SEP ends
['question', ':', '2', '+', '2', '?', 'answer', ':', '4', '[SEP]']
>>> f["labels"][-3:] == [-100] + f["input_ids"][-2:]          # targets: " 4" and the end token
True
>>> stats
{'rows': 1, 'prompt_trimmed': 0, 'response_trimmed': 0, 'target_tokens': 2}
>>> (g,), stats = tokenize_causal(rows, tok, max_len=4)     # the prompt loses tokens on the left
>>> tok.convert_ids_to_tokens(g["input_ids"]), stats["prompt_trimmed"]
(['answer', ':', '4', '[SEP]'], 1)
>>> batch = causal_collate(tok)([f, g])                       # right padding, labels with -100
>>> batch["labels"][1].tolist()
[-100, -100, 1018, 102, -100, -100, -100, -100, -100, -100]
"""

from __future__ import annotations

from rankscope.errors import InputError
from rankscope.tasks.base import DataError
from rankscope.tasks.causal.gsm8k import exact_match, gsm8k_answer, load_gsm8k
from rankscope.tasks.causal.rows import (
    FORMATS,
    CausalRow,
    load_causal,
    read_causal_jsonl,
)

IGNORE = -100  # the label PyTorch's cross-entropy (and every HF causal LM) ignores
CAUSAL_TASKS = ("causal", "gsm8k")


def load_causal_rows(task: str, split: str, *, data_dir=None, seed: int = 0) -> list[CausalRow]:
    """The rows of ``split`` of a causal task, ``gsm8k`` or ``causal`` (needs ``data_dir``)."""
    if task == "gsm8k":
        return load_gsm8k(split, data_dir, seed=seed)
    if task == "causal":
        return load_causal(data_dir, split)
    raise InputError(f"unknown causal-LM task {task!r}; valid: {', '.join(CAUSAL_TASKS)}")


def tokenize_causal(rows, tokenizer, max_len: int) -> tuple[list[dict], dict]:
    """``(features, stats)``: one ``{"input_ids", "attention_mask", "labels"}`` (lists) per row.

    See the module docstring for the masking and truncation rules. ``stats`` is ``{"rows",
    "prompt_trimmed", "response_trimmed", "target_tokens"}``.
    """
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 2:
        raise InputError(f"max_len must be an integer >= 2, got {max_len!r}")
    stats = {"rows": 0, "prompt_trimmed": 0, "response_trimmed": 0, "target_tokens": 0}
    features = []
    for ids, labels, start in encode_rows(rows, tokenizer):
        ids, labels, prompt_cut, response_cut = fit(ids, labels, start, max_len)
        features.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
        stats["rows"] += 1
        stats["prompt_trimmed"] += prompt_cut
        stats["response_trimmed"] += response_cut
        stats["target_tokens"] += sum(label != IGNORE for label in labels)
    return features, stats


def encode_prompts(rows, tokenizer, max_len: int) -> list[list[int]]:
    """The tokens each row's response is generated from (greedy decoding, e.g. GSM8K exact match).

    They are the prompt tokens of :func:`tokenize_causal` (messages: the conversation up to its
    last assistant turn, with the generation prompt), trimmed from the left to ``max_len``.
    """
    return [ids[:start][-max_len:] for ids, _, start in encode_rows(rows, tokenizer)]


def fit(ids: list[int], labels: list[int], start: int, max_len: int):
    """``(ids, labels, prompt_cut, response_cut)`` within ``max_len``; the response starts at
    ``start`` (the truncation rule is in the module docstring)."""
    if len(ids) <= max_len:
        return ids, labels, False, False
    keep = min(start, 1)  # at least one prompt token, when there is a prompt
    if len(ids) - start <= max_len - keep:
        return ids[-max_len:], labels[-max_len:], True, False
    lo = start - keep
    return ids[lo:lo + max_len], labels[lo:lo + max_len], lo > 0, True


def encode_rows(rows, tokenizer):
    """``(ids, labels, response_start)`` per row, untruncated: segments encoded in one batch."""
    rows = list(rows)
    if any(row.format == "messages" for row in rows):
        require_chat_template(tokenizer)
    ends = ([bos_prefix(tokenizer)], [end_id(tokenizer)]) \
        if any(row.format != "messages" for row in rows) else None
    per_row = [segments(row, tokenizer, ends) for row in rows]
    texts = [piece for segs in per_row for piece, _, _ in segs if isinstance(piece, str)]
    encoded = iter(tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else [])
    for segs in per_row:
        ids, labels, start = [], [], None
        for piece, target, response in segs:
            tokens = list(next(encoded)) if isinstance(piece, str) else piece
            if response and start is None:
                start = len(ids)
            ids += tokens
            labels += tokens if target else [IGNORE] * len(tokens)
        yield ids, labels, len(ids) if start is None else start


def segments(row: CausalRow, tokenizer, ends) -> list[tuple]:
    """``(text or token ids, is_target, is_response)`` pieces of one row, in order."""
    if row.format == "messages":
        return message_segments(row, tokenizer)
    (bos,), (eos,) = ends
    if row.format == "text":
        return [(bos, True, True), (row.text, True, True), ([eos], True, True)]
    if row.format != "prompt_response":
        raise InputError(f"unknown row format {row.format!r}; valid: {', '.join(FORMATS)}")
    return [(bos, False, False), (row.prompt, False, False), (row.response, True, True),
            ([eos], True, True)]


def message_segments(row: CausalRow, tokenizer) -> list[tuple]:
    """A conversation's rendered text cut at the assistant spans (see the module docstring)."""
    messages = list(row.messages)
    full = render(tokenizer, messages, False, row.where)
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    pieces, cursor = [], 0
    for n, i in enumerate(turns):
        before = render(tokenizer, messages[:i], True, row.where)
        through = render(tokenizer, messages[:i + 1], False, row.where)
        if not (cursor <= len(before) < len(through) and full.startswith(through)
                and through.startswith(before)):
            raise InputError(
                f"{row.where}: the tokenizer's chat template does not render this conversation "
                f"incrementally (the rendering of the first {i} messages plus the generation "
                f"prompt is not a prefix of the rendering with assistant turn {i}, or that is "
                f"not a prefix of the whole), so the assistant tokens cannot be found; use a "
                f"template that only appends, or convert the rows to prompt/response")
        last = n == len(turns) - 1
        pieces += [(full[cursor:len(before)], False, False),
                   (full[len(before):len(through)], True, last)]
        cursor = len(through)
    return pieces + [(full[cursor:], False, True)]


def render(tokenizer, messages: list[dict], generation_prompt: bool, where: str) -> str:
    from jinja2 import TemplateError  # transformers renders chat templates with jinja2

    try:
        return tokenizer.apply_chat_template(messages, tokenize=False,
                                             add_generation_prompt=generation_prompt)
    except TemplateError as err:  # e.g. a template's raise_exception("roles must alternate")
        raise InputError(f"{where}: the tokenizer's chat template failed on this conversation: "
                         f"{type(err).__name__}: {err}") from None


def require_chat_template(tokenizer) -> None:
    """An error unless ``tokenizer`` has a chat template (needed by ``messages`` rows)."""
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(f"rows in the messages format are rendered with the tokenizer's chat "
                         f"template, and the tokenizer {type(tokenizer).__name__} "
                         f"({getattr(tokenizer, 'name_or_path', '') or 'unnamed'}) has none; use a "
                         f"chat/instruct model's tokenizer, set tokenizer.chat_template, or write "
                         f"the rows as {{\"prompt\", \"response\"}}")


def bos_prefix(tokenizer) -> list[int]:
    """``[bos_token_id]`` when the tokenizer starts every encoding with BOS itself, else ``[]``."""
    bos = tokenizer.bos_token_id
    ids = tokenizer("", add_special_tokens=True)["input_ids"]
    return [bos] if bos is not None and ids[:1] == [bos] else []


def end_id(tokenizer) -> int:
    """The token that ends a response: EOS, else SEP (BERT-style tokenizers have no EOS)."""
    for token_id in (tokenizer.eos_token_id, getattr(tokenizer, "sep_token_id", None)):
        if token_id is not None:
            return token_id
    raise InputError(f"the tokenizer {type(tokenizer).__name__} has no EOS (or SEP) token to end "
                     f"responses with; set tokenizer.eos_token")


def causal_collate(tokenizer):
    """A collate function: pad features on the right into ``torch.long`` tensors.

    ``input_ids`` are padded with the pad token (EOS, or SEP, when the tokenizer has none; the
    attention mask hides it either way), ``attention_mask`` with 0 and ``labels`` with -100, to
    the longest row of the batch. Right padding keeps position ids the same as unpadded (left
    padding is for batched generation).
    """
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_id(tokenizer)

    def collate(features: list[dict]) -> dict:
        width = max(len(f["input_ids"]) for f in features)
        padded = {key: [list(f[key]) + [fill] * (width - len(f[key])) for f in features]
                  for key, fill in (("input_ids", pad), ("attention_mask", 0), ("labels", IGNORE))}
        return {key: torch.tensor(value, dtype=torch.long) for key, value in padded.items()}

    return collate


__all__ = [
    "CAUSAL_TASKS", "FORMATS", "IGNORE", "CausalRow", "DataError", "causal_collate",
    "encode_prompts", "exact_match", "gsm8k_answer", "load_causal", "load_causal_rows",
    "load_gsm8k", "read_causal_jsonl", "require_chat_template", "tokenize_causal",
]
