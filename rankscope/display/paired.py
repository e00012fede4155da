"""The display of a paired comparison (:func:`rankscope.search.compare.compare`'s dict): one table
builder and the verdict lines, shared by ``rankscope compare`` and the Markdown and HTML
comparison reports. A leaf beside :mod:`rankscope.display.tables`: the report package imports it without
importing the run-directory code that :mod:`rankscope.search.compare` needs."""

from __future__ import annotations

import math

from rankscope.display.tables import MISSING, Table, fmt_int, is_number, text


def fmt_mean_std(mean, std, signed: bool = False) -> str:
    """``mean ± std`` to the hundredth (``+`` shown on a paired difference), or ``—``."""
    if not (is_number(mean) and is_number(std)):
        return MISSING
    return f"{mean:{'+' if signed else ''}.2f} ± {std:.2f}"


def fmt_interval(pairs, spec: str = ".2f") -> str:
    """A 95 % interval as ``[low, high]`` (``spec`` digits), or ``—`` when there is none (a
    single paired seed)."""
    low, high = (pairs or {}).get("low"), (pairs or {}).get("high")
    if not all(is_number(v) and not math.isnan(v) for v in (low, high)):
        return MISSING
    return f"[{low:+{spec}}, {high:+{spec}}]"


def paired_table(comparison: dict) -> Table:
    """One row per group (an allocator at its method settings): its seeds, mean ± std of the
    primary metric, and its paired difference from the reference with the 95 % interval (``—``
    on the reference's own row).

    The note names what was compared (task, model, space, budget, metric direction). A refused
    comparison (:func:`rankscope.search.compare.comparison_or_reason`) is a table with no columns whose note says why.
    """
    reference = text(comparison["reference"])
    title = f"Paired against {reference}"
    if "refused" in comparison:
        return Table("paired", title, [], [], f"no paired comparison: {text(comparison['refused'])}")
    head = ["allocator", "seeds", f"{text(comparison['primary'])} ({text(comparison['unit'])})",
            f"vs {reference} (paired)", "95 % interval"]
    rows = []
    for g in comparison["groups"]:
        p = g.get("paired")
        rows.append([text(g["group"]), text(",".join(map(str, g["seeds"]))), fmt_mean_std(g["mean"], g["std"]),
                     fmt_mean_std(p["mean"], p["std"], signed=True) if p else MISSING, fmt_interval(p)])
    s = comparison["settings"]
    arrow = "higher is better" if comparison["greater_is_better"] else "lower is better"
    spaces = comparison.get("spaces") or {}
    every = sorted({sp for group in spaces.values() for sp in group})
    where = ("" if not every else f"{text(every[0])} · " if len(every) == 1 else
             "spaces " + ", ".join(f"{text(g)}: {text('/'.join(sp))}" for g, sp in spaces.items()) + " · ")
    note = (f"{text(s['task'])} · {text(s['model'])} · {where}budget {fmt_int(s['budget'])} · "
            f"{text(comparison['primary'])} ({arrow}; paired differences > 0 favour the allocator)")
    return Table("paired", title, head, rows, note)


def paired_verdicts(comparison: dict) -> list[str]:
    """The verdict of every group but the reference, as display lines (none if refused)."""
    return [text(g["verdict"]) for g in comparison.get("groups", []) if "verdict" in g]
