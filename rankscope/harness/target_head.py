"""The output head applied to target positions only: causal-LM logits where a loss reads them.

A causal LM's head maps every position's hidden state to vocabulary logits, ``[B, T, H] →
[B, T, V]``, but the loss reads only the positions whose next token is a target
(``labels[:, t + 1] != -100``): prompt and padding positions are computed and thrown away. With
SmolLM2's 49,152-token vocabulary the head and the log-softmax over it were about a third of a
forward pass on GSM8K rows, and the ``[B, T, V]`` float32 logits (and, in training, their
gradient) the largest tensors of a step: 400 MB each at batch 8 × 256 tokens.

:func:`target_positions` hooks the model's output embeddings (``get_output_embeddings()``, the
module every transformers causal LM applies last) so that it sees only the kept hidden states,
``[B, T, H] → [1, N, H]`` for the ``N`` target positions, and returns ``[1, N, V]`` logits. The
model's own code still runs around the head (logit soft-capping or scaling, which act per
element), so the logits of the kept positions are exactly the full forward's, and so are the
loss and its gradient; only the summation order of the NLL differs, in the last bits.

A model without output embeddings, or whose head sees another shape (a custom forward), is left
alone: the hook reports that it did not gather, and the caller scores the full logits.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


def next_token_targets(labels: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` bool: position t is kept when token t + 1 is a target (position t's logits predict
    it); the last position predicts nothing."""
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != -100
    return keep


@contextmanager
def target_positions(model: torch.nn.Module, keep: torch.Tensor):
    """Within the block, ``model``'s head computes logits for the ``keep`` positions only.

    Yields a dict whose ``"gathered"`` is True once the head ran on the kept positions; False
    when the model has no output embeddings or its head saw a shape other than ``keep``'s."""
    state = {"gathered": False}
    get_head = getattr(model, "get_output_embeddings", None)
    head = get_head() if callable(get_head) else None
    if not isinstance(head, torch.nn.Module):
        yield state
        return

    def gather(module, args):
        hidden = args[0] if args else None
        if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3 or hidden.shape[:2] != keep.shape:
            return None
        state["gathered"] = True
        return (hidden[keep.to(hidden.device)].unsqueeze(0), *args[1:])

    handle = head.register_forward_pre_hook(gather)
    try:
        yield state
    finally:
        handle.remove()
