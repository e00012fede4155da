"""Defaults from the protocol's sweep: one GLUE learning rate per method.

Each task's seed-0 sweep chooses an lr per method (:func:`benchmarks.protocol.sweep.chosen_lr`). A default
has to serve every task, so the rule is a vote over the tasks: the lr most tasks chose, and
without a majority (every task chose another lr) the median of the chosen lrs, the middle one on
the sweep's ×2 grid. A vote ignores by how much one lr beat another on one seed, which on these
tasks is often less than the seed-to-seed spread, and the median never picks an lr no task liked.

The table puts the rule's pick next to what ``SearchConfig`` ships (``rankscope search
--task mrpc --allocator NAME``), so a default that departs from the rule shows, with its reason
in ``rankscope/search/config.py``.
"""

from __future__ import annotations

from collections import Counter

from .methods import METHODS


def cross_task_lr(chosen: list[float]) -> float:
    """The lr a majority of ``chosen`` (one per task) agrees on; else their median (the lower
    middle one for an even count). Ties of the vote cannot reach a majority, so they fall to the
    median too."""
    if not chosen:
        raise ValueError("no task has chosen an lr yet")
    lr, votes = Counter(chosen).most_common(1)[0]
    if 2 * votes > len(chosen):
        return lr
    ordered = sorted(chosen)
    return ordered[(len(ordered) - 1) // 2]


def shipped_lr(method: str) -> float | None:
    """The GLUE lr ``rankscope search`` trains ``method`` at by default; ``None`` for a PEFT
    method, which is not a rankscope allocator."""
    from rankscope.search.config import SearchConfig

    if METHODS[method][1] is None:
        return None
    return SearchConfig(task="mrpc", allocator=METHODS[method][1][0]).resolved().lr


def task_label(task: str) -> str:
    """The task's GLUE name as its data folder spells it ("CoLA", "SST-2"), for table headings."""
    from rankscope.tasks.classification.glue import GLUE

    return GLUE[task][1].folder if task in GLUE else task.upper()


def defaults_table(tasks: list[str], methods: list[str], chosen_lr) -> list[str]:
    """Markdown lines: each method's chosen lr per task, the rule's cross-task pick, and the
    shipped default; empty until every task's sweep has chosen for some method."""
    picks = {m: [chosen_lr(t, m) for t in tasks] for m in methods}
    if not any(None not in lrs for lrs in picks.values()):
        return []
    out = ["**Defaults from the sweep**: each task's chosen lr, the lr most tasks chose (else their "
           "median), and the GLUE default `rankscope search` ships", "",
           "| method | " + " | ".join(task_label(t) for t in tasks) + " | rule's pick | shipped default |",
           "|---|" + "---|" * (len(tasks) + 2)]
    for m, lrs in picks.items():
        rule = f"{cross_task_lr(lrs):g}" if None not in lrs else "—"
        shipped = shipped_lr(m)
        out.append(f"| {METHODS[m][0]} | " + " | ".join("—" if lr is None else f"{lr:g}" for lr in lrs)
                   + f" | {rule} | {'— (not a rankscope allocator)' if shipped is None else f'{shipped:g}'} |")
    return out + [""]
