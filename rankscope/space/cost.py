"""The one function that counts adapter parameters.

Every place that needs a parameter count (the budget, the projection helper, allocators, reports
and tests) calls :func:`edge_cost`, so the accounting cannot drift between them.

LoRA form (Hu et al. 2021):  ΔW = (α/r) · B A,        A: r × d_in, B: d_out × r
    cost(r) = r · (d_in + d_out)
SVD form (AdaLoRA / SalientLoRA): ΔW = (α/r₀) · P diag(λ) Q,  Q: r × d_in, λ: r, P: d_out × r
    cost(r) = r · (d_in + d_out + 1)
"""

FORMS = ("lora", "svd")


def rank_unit_cost(d_in: int, d_out: int, form: str = "lora") -> int:
    """Parameters added by one rank of an edge: d_in + d_out (+1 for λ in SVD form)."""
    if form not in FORMS:
        from rankscope.errors import InputError

        raise InputError(f"unknown adapter form {form!r}; valid forms: {', '.join(FORMS)}")
    return d_in + d_out + (1 if form == "svd" else 0)


def edge_cost(d_in: int, d_out: int, rank: int, form: str = "lora") -> int:
    """Trainable parameters of one edge at ``rank``: ``rank · rank_unit_cost(d_in, d_out, form)``."""
    return int(rank) * rank_unit_cost(d_in, d_out, form)
