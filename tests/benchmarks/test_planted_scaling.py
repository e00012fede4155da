"""The planted scaling table: gap_closed per seed and rule, the floor, ceiling and calibration."""

from benchmarks.planted.scaling import table


def test_the_table_gives_gap_closed_per_seed_and_the_calibration_per_rule():
    rows = [{"method": m, "rule": rule, "seed": s, "gap_closed": g, "r2_uniform": 0.5, "r2_oracle": o,
             "calibration_ratio": (1 - o) / 0.5, "r2": 0.5 + g * (o - 0.5)}
            for m, g0 in (("proxy-static", 0.4), ("proxy-greedy", 0.6))
            for rule, o, shift in (("lora", 0.3, -0.5), ("rslora", 0.7, 0.0))
            for s, g in ((0, g0 + shift), (1, g0 + shift + 0.1))]
    text = table(rows)
    assert "| proxy-greedy | rslora | +0.600 | +0.700 | +0.650 |" in text
    assert "| proxy-static | lora | -0.100‡ | +0.000‡ | — |" in text  # the oracle lost: no gap to close
    assert "| lora | 0 | 0.5000 | 0.3000 | 1.40 |" in text  # the oracle losing to uniform: ratio > 1
    assert "proxy-grow" not in text  # no rows, no line
    assert "| proxy-greedy | 0.4800 · 0.6200 · +0.1400 | 0.4600 · 0.6400 · +0.1800 | +0.1600 ± 0.0283 |" in text
    assert "| oracle | 0.3000 · 0.7000 · +0.4000 |" in text


def test_a_seed_without_a_gap_is_marked_and_left_out_of_the_mean():
    rows = [{"method": "proxy-static", "rule": "lora", "seed": s, "gap_closed": g, "r2_uniform": 0.79,
             "r2_oracle": o, "calibration_ratio": 1.0, "r2": 0.8} for s, g, o in ((0, 0.3, 0.9), (1, 25.8, 0.7905))]
    text = table(rows)
    assert "| proxy-static | lora | +0.300 | +25.800‡ | +0.300 |" in text
    assert "‡ the oracle beat uniform by less than 0.01 r2" in text


def test_swept_lrs_get_their_own_table_with_each_rules_best():
    calibrated = [{"method": "proxy-static", "rule": rule, "seed": 1, "gap_closed": 0.5, "r2_uniform": 0.79,
                   "r2_oracle": o, "calibration_ratio": 1.0, "r2": 0.8} for rule, o in (("lora", 0.79), ("rslora", 0.84))]
    swept = [{"method": "uniform", "rule": "lora", "seed": 1, "lr": 1e-3, "gap_closed": 0.0, "r2_uniform": 0.78,
              "r2_oracle": 0.85, "calibration_ratio": 0.7, "r2": 0.78}]
    text = table(calibrated + swept)
    assert "| uniform | 0.7900 · 0.7900 · +0.0000 |" in text  # the swept row stays out of the main tables
    assert "| lora | 1 | 0.7800 · 0.8500 | 0.7900 · 0.7900 | 0.7900 · 0.8500 · +0.0600 |" in text
    assert "| rslora | 1 |  | 0.7900 · 0.8400 | 0.7900 · 0.8400 · +0.0500 |" in text
