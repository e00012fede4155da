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
good fits) are reported in points (× 100); a metric where lower is better (dev NLL) keeps its
unit.

**Power.** Each group also gets the power of its comparison at the smallest effect worth
reporting (``effect``: 1 point, or 0.01 of a metric not in points such as nats of NLL) from its
own paired std, and the seeds 80 % power would need (:mod:`rankscope.search.power`). "No
detectable difference" at a power of 0.2 says little; at 0.8 it says the effect is smaller.

**Refusals.** Runs are paired only when these settings agree: ``task``, ``model``, the budget's
parameter count (for ``--budget planted``, within each seed: the teacher drawn with the seed
sets it), and the schedule and data settings of their ``config.toml`` (:data:`SAME`).
The space may differ: an allocation over the ``shortcuts`` space against uniform LoRA in the
``lora`` space is a fair pair at the same parameters (``--budget r2 --budget-space lora``). The
message names the setting and two runs that differ. The learning rate may differ: a tuned
protocol gives each method its own.

**Groups.** A group is an allocator and its method settings (:data:`VARIANT`, the space included,
and the ``-o`` options). Runs of one allocator that differ in some of these form one group per combination,
named by what differs, e.g. ``salient[oam_scope=default]`` and ``salient[oam_scope=global]``,
or ``uniform[lr=0.0005]`` and ``uniform[lr=0.001]``; an allocator whose runs agree keeps its bare
name. So an option can be compared against the default, and an lr sweep against its best lr
(``--reference 'uniform[lr=0.001]'``).

>>> round(summarize_pairs([0.80, 0.82, 0.81], [0.78, 0.80, 0.80], greater_is_better=True)["mean"], 4)
0.0167
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np
import tomllib

from rankscope.errors import InputError
from rankscope.search.rundir import load_result

#: config.toml settings that must agree between paired runs (the schedule and the data)
#: (and the scaling rule: under alpha/r a mixed-rank allocation trains its larger ranks slower, so
#: runs under different rules do not measure the allocations alone)
SAME = ("max_steps", "epochs", "batch_size", "max_len", "max_train_samples", "max_dev_samples", "warmup_ratio",
        "data_dir", "dataset", "dataset_config", "dataset_split", "dataset_dev_split", "planted", "scaling", "dtype")
#: what a setting that a run's config.toml lacks (written before the setting existed) meant then
ABSENT_MEANS = {"dtype": "float32"}


#: config.toml settings of the method itself: runs of one allocator that differ in them (or in
#: their ``allocator_options``) are separate groups
VARIANT = ("space", "lr", "alpha", "svd_alpha", "max_rank", "orth_reg", "weight_decay", "max_grad_norm")


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
    return {"task": r.get("task"), "model": r.get("model"),
            "budget": (r.get("budget") or {}).get("params"), **{k: c.get(k, ABSENT_MEANS.get(k)) for k in SAME}}


def budget_follows_seed(runs: list[dict]) -> bool:
    """Whether every run's budget is one its task names and draws with the seed (``--budget
    planted``, the planted task's default: the teacher's parameter count); an explicit size or
    rank (``r2``, ``250k``) is the user's choice and must agree across seeds."""
    from rankscope.tasks import task_kind

    try:
        return all((r["result"].get("budget") or {}).get("spec") in task_kind(r["result"].get("task")).named_budgets
                   for r in runs)
    except InputError:  # an unknown or unrecorded task: compared like any other
        return False


def check_comparable(runs: list[dict]) -> None:
    """An :class:`InputError` naming the first setting two runs disagree on. A budget drawn with
    the seed (:func:`budget_follows_seed`) is checked between runs of the same seed only: pairs
    never cross seeds, and each seed's teacher sets its own budget."""
    first = settings_of(runs[0])
    per_seed = budget_follows_seed(runs)
    budget_of_seed: dict = {}
    for run in runs:
        other = settings_of(run)
        for key, value in first.items():
            if key == "budget" and per_seed:
                seed = run["result"].get("seed")
                seen = budget_of_seed.setdefault(seed, (run["dir"], other[key]))
                if seen[1] != other[key]:
                    raise InputError(f"cannot compare {seen[0]} and {run['dir']}: both are seed {seed} of "
                                     f"--task {first['task']}, yet their budget differs ({seen[1]!r} vs "
                                     f"{other[key]!r}); compare runs made with the same budget per seed")
            elif other[key] != value:
                raise InputError(f"cannot compare {runs[0]['dir']} and {run['dir']}: their {key} differs "
                                 f"({value!r} vs {other[key]!r}); compare runs made with the same task, model, "
                                 f"budget (in parameters) and schedule ({', '.join(SAME)})")


def method_settings(run: dict) -> dict:
    """The run's :data:`VARIANT` settings and its allocator options, in one flat dict."""
    c = run["config"]
    return {**{k: c.get(k) for k in VARIANT}, **(c.get("allocator_options") or {})}


def _shown(value) -> str:
    if value is None:
        return "default"
    return f"{value:g}" if isinstance(value, float) else str(value)


def group_names(runs: list[dict]) -> list[str]:
    """Each run's group: its allocator, followed by ``[key=value, ...]`` of the method settings in
    which that allocator's runs differ (none differ: the bare allocator name)."""
    by_allocator = defaultdict(list)
    for i, run in enumerate(runs):
        by_allocator[run["result"]["allocator"]].append(i)
    names = [""] * len(runs)
    for allocator, indices in by_allocator.items():
        settings = [method_settings(runs[i]) for i in indices]
        keys = sorted({k for s in settings for k in s})
        varying = [k for k in keys if len({repr(s.get(k)) for s in settings}) > 1]
        for i, s in zip(indices, settings):
            suffix = ", ".join(f"{k}={_shown(s.get(k))}" for k in varying)
            names[i] = f"{allocator}[{suffix}]" if varying else allocator
    return names


def resolve_reference(reference: str, groups: dict, allocator_of: dict, n_runs: int) -> str:
    """The group named ``reference``, or an :class:`InputError` that lists the valid names."""
    if reference in groups:
        return reference
    variants = [g for g in groups if allocator_of[g] == reference]
    if variants:
        raise InputError(f"the {reference} runs differ in their method settings, so they form {len(variants)} "
                         f"groups ({', '.join(variants)}); name one with --reference, e.g. --reference "
                         f"'{variants[0]}'")
    raise InputError(f"no {reference} runs among the {n_runs} given (groups: {', '.join(groups)}); pass "
                     f"the reference's runs, or name another with --reference")


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


#: the smallest effect worth reporting, per unit: 1 point of accuracy, F1, MCC or r2; 0.01 of a
#: metric not in points (nats of dev NLL)
DEFAULT_EFFECT = {"points": 1.0, "other": 0.01}


def compare(run_dirs, reference: str = "uniform", effect: float | None = None) -> dict:
    """The comparison of the runs in ``run_dirs`` against the ``reference`` allocator's runs, with
    each group's power to see a paired difference of ``effect`` (:mod:`rankscope.search.power`;
    default :data:`DEFAULT_EFFECT` for the metric's unit)."""
    from rankscope.search.power import paired_power, power_line, seeds_for_power

    if effect is not None and not effect > 0:  # NaN included
        raise InputError(f"--effect must be a positive size of difference (got {effect}); e.g. 1 (point) or 0.01 (nats)")

    runs = load_runs(run_dirs)
    if len(runs) < 2:
        raise InputError("compare needs at least two run directories (an allocator's runs and the reference's)")
    check_comparable(runs)
    primary = runs[0]["result"]["metrics"]["primary"]
    greater = runs[0]["result"]["metrics"]["greater_is_better"]
    groups: dict[str, dict[int, float]] = {}
    allocator_of: dict[str, str] = {}
    spaces: dict[str, set] = {}
    for run, name in zip(runs, group_names(runs)):
        r = run["result"]
        value = (r["metrics"].get("final") or {}).get(primary)
        if r.get("status") != "completed" or value is None:
            raise InputError(f"{run['dir']} did not complete (status {r.get('status')!r}); leave failed runs out")
        seeds = groups.setdefault(name, {})
        allocator_of[name] = r["allocator"]
        spaces.setdefault(name, set()).add(r.get("space"))
        if r["seed"] in seeds:
            raise InputError(f"two {name} runs have seed {r['seed']} and the same method settings ({run['dir']}); "
                             f"pass one run per allocator setting and seed")
        seeds[r["seed"]] = float(value)
    reference = resolve_reference(reference, groups, allocator_of, len(runs))
    every = [v for g in groups.values() for v in g.values()]
    # a fraction to be maximised (accuracy, F1, MCC, r2) reads in points; a loss (dev NLL, MSE)
    # keeps its unit even below 1, where GSM8K's NLL per token lies
    points = 100.0 if greater and all(-1.0 <= v <= 1.0 for v in every) else 1.0
    ref = groups[reference]
    in_points = points == 100.0
    if effect is None:
        effect = DEFAULT_EFFECT["points" if in_points else "other"]
    unit = (" point" if effect == 1 else " points") if in_points else f" {primary}"
    rows = []
    for name, seeds in groups.items():
        row = {"group": name, "allocator": allocator_of[name], "seeds": sorted(seeds),
               "mean": statistics.mean(seeds.values()) * points,
               "std": (statistics.stdev(seeds.values()) if len(seeds) > 1 else 0.0) * points}
        if name != reference:
            common = sorted(set(seeds) & set(ref))
            if not common:
                raise InputError(f"{name} and {reference} share no seed ({sorted(seeds)} vs {sorted(ref)}); runs are "
                                 f"paired by seed")
            pairs = summarize_pairs([seeds[s] * points for s in common], [ref[s] * points for s in common], greater)
            row.update(paired=pairs, verdict=verdict(name, reference, pairs, in_points),
                       power={"effect": effect, "power": paired_power(effect, pairs["std"], pairs["n"]),
                              "seeds_needed": seeds_for_power(effect, pairs["std"]) if pairs["n"] > 1 else None,
                              "line": f"{name} vs {reference}: " + power_line(effect, pairs["std"], pairs["n"], unit)})
        rows.append(row)
    return {"primary": primary, "greater_is_better": greater, "unit": "points" if in_points else primary,
            "reference": reference, "effect": effect, "settings": settings_of(runs[0]), "groups": rows,
            "spaces": {name: sorted(map(str, sp)) for name, sp in spaces.items()}}


def verdict(name: str, reference: str, pairs: dict, in_points: bool) -> str:
    """A plain-words verdict, e.g. "salient beats uniform by 1.2 ± 0.8 points (3 seeds, interval
    excludes 0)"; points to the hundredth, a metric in its own unit (nats) to four decimals."""
    unit, f = (" points", ".2f") if in_points else ("", ".4f")
    size = f"{abs(pairs['mean']):{f}} ± {pairs['std']:{f}}{unit}"
    n = f"{pairs['n']} seed{'s' if pairs['n'] != 1 else ''}"
    if pairs["low"] is None:
        return f"{name} vs {reference}: {pairs['mean']:+{f}}{unit} ({n}; at least 2 paired seeds are needed for an interval)"
    kind = {"t": "t ", "bootstrap": "bootstrap "}.get(pairs.get("method"), "")
    where = f"95 % {kind}interval [{pairs['low']:+{f}}, {pairs['high']:+{f}}]"
    if pairs["low"] > 0 or pairs["high"] < 0:
        word = "beats" if pairs["mean"] > 0 else "trails"
        return f"{name} {word} {reference} by {size} ({n}, {where} excludes 0)"
    return f"no detectable difference between {name} and {reference}: {pairs['mean']:+{f}}{unit} ({n}, {where} " \
           f"includes 0)"


# ------------------------------------------------------------------------------- display
def comparison_or_reason(run_dirs, reference: str = "uniform") -> dict:
    """:func:`compare`'s dict, or ``{"reference", "refused": message}`` when the runs cannot be
    paired: a report of several runs is still worth writing when they are not one experiment."""
    try:
        return compare(run_dirs, reference=reference)
    except InputError as exc:
        return {"reference": reference, "refused": str(exc)}
