"""One cell: uniform LoRA at one rank, one lr, one scaling rule and one seed, trained through a
rankscope session, with how far its weights moved.

The movement of an edge is ‖ΔW‖_F with ΔW = s · B · diag(mask) · A, the matrix the adapter adds
(``s`` = α/r under ``lora``, α/√r under ``rslora``), read at the end of training. A rule is rank
stable when every rank learns at the same speed: the best lr is the same for every rank, and at
one lr the ranks move their weights by similar amounts (rsLoRA, Kalajdzievski 2023, arXiv
2312.03732, derives α/√r for exactly this).
"""

from __future__ import annotations

import time

from rankscope.harness.hooks import StepHook

#: task → the settings of its cells (the model is MiniLM throughout)
TASKS = {
    # the planted task at its calibrated defaults: 200 steps, 1,024 / 512 rows, shortcuts space
    "planted": {"task": "planted", "space": "shortcuts", "max_steps": 200},
    # SST-2, a seeded 8,000-row subset of train, all 872 dev rows, module LoRA only
    "sst2": {"task": "sst2", "space": "lora", "max_steps": 200, "max_train_samples": 8000, "max_len": 64},
}


class WeightMovement(StepHook):
    """A step hook that only looks: at the end of training, ‖ΔW‖_F of every attached edge."""

    def __init__(self):
        self.by_kind: dict[str, list[float]] = {}

    def on_train_end(self, state):
        import torch

        space = {e.id: e for e in state.handle.space.edges}
        with torch.no_grad():
            for eid, adapter in state.handle.adapters.items():
                delta = adapter.up.float() @ torch.diag(adapter.gate().float()) @ adapter.down.float()
                self.by_kind.setdefault(space[eid].kind, []).append(float(delta.norm()))


def run_cell(cell: dict, settings: dict) -> dict:
    """Train ``cell`` (task, rule, rank, lr, seed) and return its row."""
    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session
    from rankscope.search.validate import validate

    task = TASKS[cell["task"]]
    cfg = SearchConfig(model="minilm", budget=f"r{cell['rank']}", seed=cell["seed"], lr=cell["lr"],
                       scaling=cell["rule"], eval_every=task["max_steps"], **task).resolved()
    validate(cfg)
    session = Session(cfg, progress=False)
    movement = WeightMovement()
    t0 = time.perf_counter()
    try:
        outcome = session.train(session.uniform(), movement, evaluate=True)
        final, failure = outcome.final, None
    except Exception as exc:  # a diverged run is a result of this lr, not a crash of the cell
        from rankscope.harness.outcome import DivergedError

        if not isinstance(exc, DivergedError):
            raise
        final, failure = None, str(exc)
    mean = lambda v: sum(v) / len(v) if v else None
    return {**cell, "primary": session.objective.primary, "final": final, "failure": failure,
            "delta_w": {kind: mean(v) for kind, v in movement.by_kind.items()},
            "params": session.uniform().params, "train_s": round(time.perf_counter() - t0, 1)}
