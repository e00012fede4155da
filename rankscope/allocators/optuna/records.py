"""What ``result.json`` keeps of a study: every trial, the best-so-far curve and, for a
multi-objective study, the Pareto front. Plain JSON, read by the report."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from rankscope.allocators.optuna.trials import REASON


def _trial_row(t) -> dict:
    values = t.values if t.values is not None else None
    return {"number": t.number, "state": t.state.name.lower(),
            "value": values[0] if values else None,
            "params_used": t.user_attrs.get("params"),
            "warm_start": t.user_attrs.get("warm_start"),
            "last_step": max(t.intermediate_values) if t.intermediate_values else None,
            "reason": t.user_attrs.get(REASON) or ("surplus" if t.user_attrs.get("surplus") else None),
            "duration_s": t.duration.total_seconds() if t.duration else None}


def best_so_far(rows: list[dict], maximize: bool) -> list[dict]:
    """``[{number, best}]`` over complete trials in trial order."""
    out, best = [], None
    for r in rows:
        if r["state"] != "complete" or r["value"] is None:
            continue
        if best is None or (r["value"] > best if maximize else r["value"] < best):
            best = r["value"]
        out.append({"number": r["number"], "best": best})
    return out


def study_record(study: optuna.Study, multi: bool) -> dict:
    trials = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
    rows = [_trial_row(t) for t in trials]
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    rec = {"trials": rows, "best_so_far": best_so_far(rows, maximize),
           "counts": {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail", "running")}}
    if multi:
        rec["pareto"] = [{"number": t.number, "value": t.values[0], "params_used": t.values[1]}
                         for t in study.best_trials]
    return rec
