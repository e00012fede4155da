"""Does an allocator beat uniform on my task? Runs grouped by allocator, paired by seed.

For runs of groups A (an allocator) and U (the reference, ``uniform`` by default) made with the
same task, model, budget and schedule, on seeds S = seeds(A) ∩ seeds(U)::

    d_s   = sign · (m_A,s − m_U,s)          m: the final primary dev metric of a run; sign = +1
                                            when greater is better, −1 when lower is (NLL)
    d̄ ± sd(d)                              the paired difference: > 0 means A is better
    95 % interval, n < 10 pairs             Student t: d̄ ± t_{0.975, n−1} · sd(d)/√n
    95 % interval, n ≥ 10 pairs             percentile bootstrap of the mean of d
                                            (scipy.stats.bootstrap, 10 000 resamples, seed 0)

Why two: a percentile bootstrap of 3 values is exactly [min d, max d] (each extreme is redrawn
three times with probability 1/27 > 2.5 %), an interval that holds the true mean only about 75 %
of the time, not 95 %. With few seeds the t interval keeps its 95 % (for roughly normal d); the
bootstrap takes over once there are enough pairs to resample. The verdict says "beats" or
"trails" only when the interval excludes 0, else "no detectable difference"; a single paired
seed gives no interval and no verdict beyond that. Metrics in [−1, 1] (accuracy, F1, MCC, r2 of
good fits) are reported in points (× 100).

**Refusals.** Runs are paired only when these settings agree: ``task``, ``model``, ``space``
(of the result), the budget's parameter count, and the schedule and data settings of their
``config.toml`` (:data:`SAME`). The message names the setting and two runs that differ. The
learning rate may differ: a tuned protocol gives each method its own.

>>> round(summarize_pairs([0.80, 0.82, 0.81], [0.78, 0.80, 0.80], greater_is_better=True)["mean"], 4)
0.0167
"""

from __future__ import annotations

import statistics
import tomllib
from pathlib import Path

import numpy as np

from .errors import InputError
from .rundir import load_result

#: config.toml settings that must agree between paired runs (the schedule and the data)
SAME = ("max_steps", "epochs", "batch_size", "max_len", "max_train_samples", "max_dev_samples", "warmup_ratio",
        "data_dir", "planted")


def load_runs(run_dirs) -> list[dict]:
    """``{"dir", "result", "config"}`` per run directory (each checked as a rankscope result)."""
    runs = []
    for d in run_dirs:
        result = load_result(d)
        toml = Path(d) / "config.toml"
        config = tomllib.loads(toml.read_text()) if toml.is_file() else {}
        runs.append({"dir": str(d), "result": result, "config": config})
    return runs


def settings_of(run: dict) -> dict:
    r, c = run["result"], run["config"]
    return {"task": r.get("task"), "model": r.get("model"), "space": r.get("space"),
            "budget": (r.get("budget") or {}).get("params"), **{k: c.get(k) for k in SAME}}


def check_comparable(runs: list[dict]) -> None:
    """An :class:`InputError` naming the first setting two runs disagree on."""
    first = settings_of(runs[0])
    for run in runs[1:]:
        other = settings_of(run)
        for key, value in first.items():
            if other[key] != value:
                raise InputError(f"cannot compare {runs[0]['dir']} and {run['dir']}: their {key} differs "
                                 f"({value!r} vs {other[key]!r}); compare runs made with the same task, model, "
                                 f"space, budget and schedule ({', '.join(SAME)})")


#: below this many pairs the interval is Student t, from it a percentile bootstrap (module doc)
BOOTSTRAP_FROM = 10


def summarize_pairs(values, reference, greater_is_better: bool) -> dict:
    """Paired differences ``d = sign · (values − reference)``: mean, std, n and a 95 % interval of
    the mean (``method`` "t" below :data:`BOOTSTRAP_FROM` pairs, else "bootstrap"; ``None``
    for a single pair)."""
    from scipy import stats

    d = (np.asarray(values, float) - np.asarray(reference, float)) * (1 if greater_is_better else -1)
    out = {"n": int(d.size), "mean": float(d.mean()), "std": float(d.std(ddof=1)) if d.size > 1 else 0.0,
           "low": None, "high": None, "method": None, "per_seed": d.tolist()}
    if d.size < 2:
        return out
    out["method"] = "t" if d.size < BOOTSTRAP_FROM else "bootstrap"
    if np.ptp(d) == 0:  # every seed the same difference: the interval is that point
        out["low"] = out["high"] = out["mean"]
    elif out["method"] == "t":
        half = stats.t.ppf(0.975, d.size - 1) * out["std"] / np.sqrt(d.size)
        out["low"], out["high"] = out["mean"] - half, out["mean"] + half
    else:
        ci = stats.bootstrap((d,), np.mean, n_resamples=10_000, method="percentile", random_state=0).confidence_interval
        out["low"], out["high"] = float(ci.low), float(ci.high)
    return out


def compare(run_dirs, reference: str = "uniform") -> dict:
    """The comparison of the runs in ``run_dirs`` against the ``reference`` allocator's runs."""
    runs = load_runs(run_dirs)
    if len(runs) < 2:
        raise InputError("compare needs at least two run directories (an allocator's runs and the reference's)")
    check_comparable(runs)
    primary = runs[0]["result"]["metrics"]["primary"]
    greater = runs[0]["result"]["metrics"]["greater_is_better"]
    groups: dict[str, dict[int, float]] = {}
    for run in runs:
        r = run["result"]
        value = (r["metrics"].get("final") or {}).get(primary)
        if r.get("status") != "completed" or value is None:
            raise InputError(f"{run['dir']} did not complete (status {r.get('status')!r}); leave failed runs out")
        seeds = groups.setdefault(r["allocator"], {})
        if r["seed"] in seeds:
            raise InputError(f"two {r['allocator']} runs have seed {r['seed']} ({run['dir']}); pass one run per "
                             f"allocator and seed")
        seeds[r["seed"]] = float(value)
    if reference not in groups:
        raise InputError(f"no {reference} runs among the {len(runs)} given (allocators: {', '.join(groups)}); pass "
                         f"the reference's runs, or name another with --reference")
    every = [v for g in groups.values() for v in g.values()]
    points = 100.0 if all(-1.0 <= v <= 1.0 for v in every) else 1.0
    ref = groups[reference]
    rows = []
    for name, seeds in groups.items():
        row = {"allocator": name, "seeds": sorted(seeds), "mean": statistics.mean(seeds.values()) * points,
               "std": (statistics.stdev(seeds.values()) if len(seeds) > 1 else 0.0) * points}
        if name != reference:
            common = sorted(set(seeds) & set(ref))
            if not common:
                raise InputError(f"{name} and {reference} share no seed ({sorted(seeds)} vs {sorted(ref)}); runs are "
                                 f"paired by seed")
            pairs = summarize_pairs([seeds[s] * points for s in common], [ref[s] * points for s in common], greater)
            row.update(paired=pairs, verdict=verdict(name, reference, pairs, points == 100.0))
        rows.append(row)
    return {"primary": primary, "greater_is_better": greater, "unit": "points" if points == 100.0 else primary,
            "reference": reference, "settings": settings_of(runs[0]), "groups": rows}


def verdict(name: str, reference: str, pairs: dict, in_points: bool) -> str:
    """A plain-words verdict, e.g. "salient beats uniform by 1.2 ± 0.8 points (3 seeds, interval
    excludes 0)"."""
    unit = " points" if in_points else ""
    size = f"{abs(pairs['mean']):.2f} ± {pairs['std']:.2f}{unit}"
    n = f"{pairs['n']} seed{'s' if pairs['n'] != 1 else ''}"
    if pairs["low"] is None:
        return f"{name} vs {reference}: {pairs['mean']:+.2f}{unit} ({n}; at least 2 paired seeds are needed for an interval)"
    kind = {"t": "t ", "bootstrap": "bootstrap "}.get(pairs.get("method"), "")
    where = f"95 % {kind}interval [{pairs['low']:+.2f}, {pairs['high']:+.2f}]"
    if pairs["low"] > 0 or pairs["high"] < 0:
        word = "beats" if pairs["mean"] > 0 else "trails"
        return f"{name} {word} {reference} by {size} ({n}, {where} excludes 0)"
    return f"no detectable difference between {name} and {reference}: {pairs['mean']:+.2f}{unit} ({n}, {where} " \
           f"includes 0)"


# ------------------------------------------------------------------------------- display
def comparison_or_reason(run_dirs, reference: str = "uniform") -> dict:
    """:func:`compare`'s dict, or ``{"reference", "refused": message}`` when the runs cannot be
    paired: a report of several runs is still worth writing when they are not one experiment."""
    try:
        return compare(run_dirs, reference=reference)
    except InputError as exc:
        return {"reference": reference, "refused": str(exc)}
