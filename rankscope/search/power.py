"""How likely a paired comparison is to see an effect of a given size: the power of the paired
t-test, and the seeds it needs.

With n paired seeds whose differences have standard deviation σ_d, the two-sided paired t-test
at level 0.05 detects a true mean difference δ with probability ::

    power(δ) = P(|T| > t_{0.975, n−1}),   T ~ noncentral t(df = n − 1, nc = δ · √n / σ_d)

(Cohen 1988, ch. 2; the same figure as R's ``power.t.test(type = "paired")``). Seeds for a
target power are the smallest n that reaches it. σ_d is the comparison's own sample std, so
the figure is an estimate: with 3 seeds it is a rough one, which is why a noise pilot runs 6 or
more.

>>> round(paired_power(effect=1.0, sd=1.0, n=10), 2)
0.8
>>> seeds_for_power(effect=1.0, sd=1.0)
10
>>> round(detectable_effect(sd=1.0, n=10), 2)
1.0
"""

from __future__ import annotations

import math

#: the power a comparison is designed for
TARGET_POWER = 0.8
#: no search past this many seeds (the answer is then "more than this")
MAX_SEEDS = 10_000


def paired_power(effect: float, sd: float, n: int, level: float = 0.05) -> float | None:
    """The probability that ``n`` paired seeds with difference std ``sd`` show a true mean
    difference of ``effect`` as significant (two-sided, ``level``); ``None`` below 2 seeds."""
    from scipy import stats

    if n < 2:
        return None
    if sd <= 0:
        return 1.0 if effect != 0 else level
    df, nc = n - 1, abs(effect) * math.sqrt(n) / sd
    crit = stats.t.ppf(1 - level / 2, df)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def seeds_for_power(effect: float, sd: float, target: float = TARGET_POWER, level: float = 0.05) -> int | None:
    """The fewest paired seeds whose power at ``effect`` reaches ``target``; ``None`` when even
    :data:`MAX_SEEDS` do not (an effect of 0)."""
    if effect == 0:
        return None
    low, high = 2, 2
    while (paired_power(effect, sd, high, level) or 0.0) < target:
        if high >= MAX_SEEDS:
            return None
        low, high = high, min(2 * high, MAX_SEEDS)
    while low < high:  # power grows with n: bisect for the first n that reaches the target
        mid = (low + high) // 2
        if paired_power(effect, sd, mid, level) >= target:
            high = mid
        else:
            low = mid + 1
    return high


def power_line(effect: float, sd: float, n: int, unit: str = "") -> str:
    """``power 0.34 at 1 point (80 % needs 14 seeds)``: what a comparison of this noise can see."""
    power = paired_power(effect, sd, n)
    need = seeds_for_power(effect, sd)
    size = f"{effect:g}{unit}"
    pct = f"{100 * TARGET_POWER:.0f} %"
    needs = f"{pct} needs {need} seeds" if need else f"{pct} needs more than {MAX_SEEDS} seeds"
    if power is None:
        return f"power unknown at {size} (one paired seed)"
    return f"power {power:.2f} at {size} ({needs})"


def detectable_effect(sd: float, n: int, target: float = TARGET_POWER, level: float = 0.05) -> float | None:
    """The smallest true mean difference that ``n`` paired seeds with difference std ``sd`` detect
    with probability ``target`` (the inverse of :func:`paired_power` in the effect, by bisection);
    ``None`` below 2 seeds."""
    if n < 2:
        return None
    if sd <= 0:
        return 0.0
    low, high = 0.0, sd
    while paired_power(high, sd, n, level) < target:
        high *= 2
    for _ in range(60):  # power grows with the effect
        mid = (low + high) / 2
        low, high = (mid, high) if paired_power(mid, sd, n, level) < target else (low, mid)
    return high
