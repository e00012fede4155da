"""The ``optuna`` allocator in one process: contract, decision units, warm starts, reports,
multi-objective studies, divergence, and bad input (exit 2, no password printed)."""

import json

import optuna
import pytest
from conftest import run_cli

from rankscope.allocation.budget import Budget
from rankscope.allocators import uniform_allocation
from rankscope.allocators.optuna import DecisionUnits
from rankscope.testing import AllocatorContract, run_small

TRIALS = {"n_trials": 4, "trial_steps": 6}
TINY = ["--model", "tiny-bert", "--allocator", "optuna", "--max-steps", "8", "--quiet",
        "--trial-steps", "4", "--n-trials", "3"]


class TestOptunaContract(AllocatorContract):
    allocator = "optuna"
    options = TRIALS


@pytest.fixture(scope="module")
def space():
    import rankscope as rs

    model, _ = rs.load_model("tiny-bert")
    return rs.build_space("shortcuts", model)


def test_equal_unit_values_give_exactly_the_uniform_allocation(space):
    units = DecisionUnits(space, "edge")
    for spec in ("r1", "r2", "r3", "5000"):
        budget = Budget.parse(spec, space)
        assert units.allocation({u: 0.7 for u in units.names}, budget.params) == uniform_allocation(space, budget)


def test_ranks_follow_unit_values_and_spend_the_budget(space):
    units = DecisionUnits(space, "edge")
    budget = Budget.parse("r4", space)
    values = {u: 0.0 for u in units.names}
    hi, lo = units.names[0], units.names[1]
    values.update({hi: 1.0, lo: 0.5})
    alloc = units.allocation(values, budget.params)
    assert alloc.params <= budget.params
    assert alloc.ranks[hi] >= 2 * alloc.ranks[lo] - 1 > 0  # proportional, up to rounding
    assert budget.params - alloc.params < space.edge(hi).cost(1)  # nothing left that fits on hi


def test_grouped_units_and_warm_start_round_trip(space):
    units = DecisionUnits(space, "group", buckets=1)  # 2 blocks in one bucket: one unit per edge type
    assert all(u.endswith("@b0") for u in units.names)
    assert len(units.names) == len({e.type for e in space.edges})
    assert len(DecisionUnits(space, "group", buckets=2).names) == len(space.edges)  # a bucket per block
    assert sum(len(m) for m in units.members.values()) == len(space.edges)
    assert len(units.names) < len(space.edges)
    edge_units = DecisionUnits(space, "auto")
    assert edge_units.mode == "edge"  # small spaces search per edge
    budget = Budget.parse("r2", space)
    on = {e.id: 8 for e in space.edges[: len(space.edges) // 4]}  # a proxy-static style on/off allocation
    from rankscope import Allocation

    proxy_like = Allocation(space, on)
    again = edge_units.allocation(edge_units.values_from(proxy_like), budget.params)
    assert {e for e, r in again.ranks.items() if r} == set(on)


def test_run_records_trials_warm_starts_and_report(tmp_path, capsys, space):
    out = tmp_path / "run"
    code, err = run_cli(capsys, "search", *TINY, "--out", out)
    assert code == 0, err
    result = json.loads((out / "result.json").read_text())
    rec = result["extras"]["allocator"]
    assert [t["warm_start"] for t in rec["trials"]][:2] == ["uniform", "proxy-static (grad_norm)"]
    assert len(rec["trials"]) == 3 and rec["trials_run_here"] == 3
    assert result["allocation"]["params"] <= result["budget"]["params"]
    best = max((t for t in rec["trials"] if t["state"] == "complete"), key=lambda t: t["value"])
    assert rec["best_trial"] == best["number"]
    assert [p["best"] for p in rec["best_so_far"]][-1] == best["value"]
    md = (out / "report.md").read_text()
    assert "Optuna study" in md and "uniform at the same budget" in md
    assert "Pareto" not in (out / "report.html").read_text()
    # the dashboard reads each trial's allocation from its user attributes: {edge id: rank > 0}
    # in plain JSON, costing the recorded params (within budget); the final one is the best trial's
    from rankscope import Allocation

    study = optuna.load_study(study_name="rankscope", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 3
    for t in study.trials:
        ranks = t.user_attrs["allocation"]
        assert json.loads(json.dumps(ranks, allow_nan=False)) == ranks and all(r > 0 for r in ranks.values())
        assert Allocation(space, ranks).params == t.user_attrs["params"] <= result["budget"]["params"]
    best_attrs = next(t.user_attrs for t in study.trials if t.number == rec["best_trial"])
    assert best_attrs["allocation"] == {e["id"]: e["rank"] for e in result["allocation"]["edges"] if e["rank"]}


def test_rerun_resumes_and_counts_the_total(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, "search", *TINY, "--out", out)[0] == 0
    first = json.loads((out / "result.json").read_text())["extras"]["allocator"]["trials"]
    code, err = run_cli(capsys, "search", *TINY[:-1], "5", "--out", out)
    assert code == 0, err
    rec = json.loads((out / "result.json").read_text())["extras"]["allocator"]
    assert rec["trials_run_here"] == 2 and len(rec["trials"]) == 5
    assert rec["trials"][:3] == first  # nothing lost, nothing re-run


def test_study_with_other_settings_is_refused_naming_them(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, "search", *TINY, "--out", out)[0] == 0
    before = (out / "result.json").read_text()
    code, err = run_cli(capsys, "search", *TINY, "--out", out, "--budget", "r3")
    assert code == 2 and "belongs to another search" in err and "budget (study:" in err
    assert (out / "result.json").read_text() == before


def test_nsga2_records_a_pareto_front_within_budget(tmp_path, capsys):
    result, final, _ = run_small("optuna", {"n_trials": 5, "trial_steps": 4, "sampler": "nsga2",
                                            "warm_start": False})
    rec = result["extras"]["allocator"]
    assert rec["directions"] == ["maximize", "minimize"] and rec["pruner"] == "none"
    assert rec["pareto"] and all(p["params_used"] <= result["budget"]["params"] for p in rec["pareto"])
    assert len({t["params_used"] for t in rec["trials"]}) > 1  # trials spend different shares
    assert rec["best_trial"] in {p["number"] for p in rec["pareto"]}
    from rankscope.report import render_html

    assert "Pareto front" in render_html(result)


def test_diverged_trials_fail_with_reason_and_the_study_goes_on():
    from rankscope.errors import TrainingError

    with pytest.raises(TrainingError, match="no trial of study 'rankscope' completed: 2 fail") as info:
        run_small("optuna", {"n_trials": 2, "trial_steps": 4, "warm_start": False}, lr=1e30)
    assert "first failure: diverged: loss became" in str(info.value)


@pytest.mark.parametrize("args, message", [
    (["--sampler", "bogus"], "unknown sampler 'bogus'; valid: tpe, gp, cmaes, random, nsga2"),
    (["--sampler", "nsga2", "--pruner", "median"], "cannot be used with the multi-objective sampler"),
    (["--n-trials", "0"], "n_trials must be a positive integer"),
    (["--pruner", "sometimes"], "unknown pruner 'sometimes'; valid: median, hyperband, none"),
    (["--storage", "not a url"], "is not a URL"),
])
def test_bad_input_exits_2_before_training(tmp_path, capsys, args, message):
    code, err = run_cli(capsys, "search", *TINY, *args, "--out", tmp_path / "run")
    assert code == 2 and message in err
    assert not (tmp_path / "run").exists()


def test_unreachable_storage_hides_the_password(tmp_path, capsys):
    url = "postgresql://alice:hunter2secret@127.0.0.1:9/optuna"
    code, err = run_cli(capsys, "search", *TINY, "--storage", url, "--out", tmp_path / "run")
    assert code == 2 and "cannot open storage postgresql://alice:***@127.0.0.1:9/optuna" in err
    assert "hunter2secret" not in err and not (tmp_path / "run").exists()


def test_written_config_and_result_never_hold_the_password(tmp_path, capsys, monkeypatch):
    journal = tmp_path / "study.journal"
    out = tmp_path / "run"
    code, err = run_cli(capsys, "search", *TINY, "--storage", f"journal:{journal}", "--out", out)
    assert code == 0, err
    from rankscope.search.config import SearchConfig

    cfg = SearchConfig(allocator="optuna", allocator_options={"storage": "postgresql://u:pw123@h/db"})
    assert "pw123" not in cfg.to_toml() and "u:***@h" in cfg.to_toml()
    assert f"journal:{journal}" in (out / "result.json").read_text()
