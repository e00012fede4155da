"""The paired t-test's power and the seeds it needs, against simulated experiments."""

import numpy as np
import pytest
from scipy import stats

from rankscope.search.power import paired_power, power_line, seeds_for_power


def simulated_power(effect, sd, n, trials=20_000, seed=0):
    """The share of simulated n-seed paired experiments whose t-test rejects at 0.05."""
    d = np.random.default_rng(seed).normal(effect, sd, size=(trials, n))
    return float(np.mean(stats.ttest_1samp(d, 0.0, axis=1).pvalue < 0.05))


@pytest.mark.parametrize("effect,sd,n", [(1.0, 1.0, 6), (1.0, 3.8, 3), (0.01, 0.0075, 7), (2.0, 1.0, 2)])
def test_power_matches_simulated_paired_experiments(effect, sd, n):
    assert paired_power(effect, sd, n) == pytest.approx(simulated_power(effect, sd, n), abs=0.015)


def test_seeds_for_power_is_the_first_n_that_reaches_80_percent():
    n = seeds_for_power(0.01, 0.0075)
    assert paired_power(0.01, 0.0075, n) >= 0.8 > paired_power(0.01, 0.0075, n - 1)
    assert seeds_for_power(1.0, 3.8) > 100  # the first GLUE protocol's median noise: ~10× the effect
    assert seeds_for_power(0.0, 1.0) is None


def test_edge_cases_say_what_they_can():
    assert paired_power(1.0, 1.0, 1) is None
    assert paired_power(1.0, 0.0, 3) == 1.0
    assert power_line(1.0, 1.0, 1, " point") == "power unknown at 1 point (one paired seed)"
    assert power_line(1.0, 1.0, 10, " point") == "power 0.80 at 1 point (80 % needs 10 seeds)"
