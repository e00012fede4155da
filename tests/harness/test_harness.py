"""The training loop: hook protocol timing, determinism, divergence handling, compaction."""

import math
from dataclasses import replace

import pytest
import torch
from conftest import SHARED_DATA

import rankscope as rs
from rankscope.allocators import ALLOCATORS, Allocator, Plan, uniform_allocation
from rankscope.harness.hooks import StepHook
from rankscope.testing import run_small


class Recorder(StepHook):
    def __init__(self):
        self.events = []

    def on_train_begin(self, state):
        self.events.append(("begin", state.step))

    def on_step_end(self, step, state):
        grads = [p.grad for p in state.handle.parameters()]
        self.events.append(("step", step, all(g is not None for g in grads), state.optimizer.state != {}))

    def on_train_end(self, state):
        self.events.append(("end", state.step))


class RecordingAllocator(Allocator):
    """An in-training allocator that only records what the harness shows it."""

    name = "test-recording"
    last = None

    def propose(self, ctx):
        RecordingAllocator.last = Recorder()
        return Plan(uniform_allocation(ctx.space, ctx.budget), RecordingAllocator.last)


class PoisonAllocator(Allocator):
    """Makes the loss NaN from step 3 on, to exercise divergence handling."""

    name = "test-poison"

    def propose(self, ctx):
        class Poison(StepHook):
            def on_step_end(self, step, state):
                if step == 3:
                    with torch.no_grad():
                        next(iter(state.handle.parameters())).fill_(float("inf"))
        return Plan(uniform_allocation(ctx.space, ctx.budget), Poison())


# the test allocators are registered for the test that uses them only (conftest's `registered`)
@pytest.fixture
def recording(registered):
    return registered(ALLOCATORS, "test-recording", RecordingAllocator)


@pytest.fixture
def poison(registered):
    return registered(ALLOCATORS, "test-poison", PoisonAllocator)


class Snapshot(StepHook):
    """Keeps the trained adapter weights (a hook also keeps the session from serving a cached
    training: every call below really trains)."""

    def on_train_end(self, state):
        self.weights = {eid: {k: v.detach().clone() for k, v in a.state_dict().items()}
                        for eid, a in state.handle.adapters.items()}


def test_a_training_is_a_function_of_its_seed():
    """The same seed twice (one session, then a fresh one): identical metrics, history and
    trained weights. Another training seed, on the same task, model and initial adapters
    (attach keeps the session's seed): different weights and metrics."""
    from rankscope.harness.loop import Harness
    from rankscope.search.session import Session
    from rankscope.testing import small_config

    cfg = small_config("uniform")

    def train(session):
        snap = Snapshot()
        outcome = session.train(session.uniform(), hook=snap)
        return outcome, snap.weights

    session = Session(cfg, progress=False)
    runs = [train(session), train(session), train(Session(cfg, progress=False))]
    session.harness = Harness(session.task, replace(cfg, seed=cfg.seed + 1))  # the training's seed only
    other, other_weights = train(session)
    (first, weights), *again = runs
    assert set(weights) and all(set(w) for w in weights.values())
    for outcome, w in again:
        assert outcome.final == first.final and outcome.best == first.best
        assert outcome.history == first.history
        assert w.keys() == weights.keys() and all(
            torch.equal(w[e][k], weights[e][k]) for e in weights for k in weights[e]), "same seed, other weights"
    assert other_weights.keys() == weights.keys()
    assert any(not torch.equal(other_weights[e][k], weights[e][k]) for e in weights for k in weights[e])
    assert other.final != first.final and other.history != first.history


def test_evaluations_are_scaled_to_the_run_and_the_last_reads_all_of_dev():
    """``--eval-every 0``: intermediate evaluations read at most 0.3 dev rows per training row,
    none when that is under MIN_EVAL_ROWS, one on a smaller subset below ``eval_subset``."""
    from rankscope.harness.loop import EVAL_ROWS_PER_TRAIN_ROW, MIN_EVAL_ROWS
    from rankscope.search.session import Session
    from rankscope.testing import small_config

    cfg = small_config("uniform", eval_every=0, batch_size=8, eval_subset=128, planted={"n_dev": 400})
    harness = Session(cfg, progress=False).harness
    short = int(MIN_EVAL_ROWS / (EVAL_ROWS_PER_TRAIN_ROW * 8))  # 26 steps: 62 rows, too few
    assert harness.eval_schedule(short)[0] == short  # the only evaluation is the last one
    every, rows = harness.eval_schedule(40)  # 96 rows: one evaluation halfway
    assert (every, len(rows)) == (20, 96) and set(map(id, rows)) <= set(map(id, harness.task.dev))
    every, rows = harness.eval_schedule(1000)  # 2,400 rows: nine evaluations of eval_subset rows
    assert (-(-1000 // every), len(rows)) == (10, 128)


def test_test_allocators_are_registered_only_inside_their_tests():
    assert not {"test-recording", "test-poison", "test-compact"} & set(ALLOCATORS.names())


def test_hooks_fire_once_per_optimizer_step_with_gradients(recording):
    result, _, cfg = run_small("test-recording")
    ev = RecordingAllocator.last.events
    assert ev[0] == ("begin", 0) and ev[-1] == ("end", cfg.max_steps)
    steps = [e for e in ev if e[0] == "step"]
    assert [e[1] for e in steps] == list(range(1, cfg.max_steps + 1))
    assert all(e[2] for e in steps), "gradients must still be present in on_step_end"
    assert all(e[3] for e in steps), "on_step_end fires after optimizer.step()"


def test_divergence_marks_run_failed_and_keeps_history(poison):
    result, _, _ = run_small("test-poison", eval_every=2)
    assert result["status"] == "failed"
    assert "loss became" in result["failure"]["reason"] and "step 4" in result["failure"]["reason"]
    assert [h["step"] for h in result["history"]] == [2]


def test_compaction_mid_training_keeps_function_and_optimizer_state(registered):
    """A hook that masks ranks, compacts and rebuilds the optimizer: training goes on."""
    class Compactor(StepHook):
        def on_step_end(self, step, state):
            if step == 4:
                for eid in list(state.handle.adapters)[:5]:
                    state.handle.set_mask(eid, torch.zeros(state.handle.adapters[eid].rank))
                batch = state.extras["probe"]
                state.model.eval()  # no dropout while comparing outputs
                with torch.no_grad():
                    before = state.model(**batch).last_hidden_state
                kept = state.handle.compact()
                state.rebuild_optimizer(kept)
                with torch.no_grad():
                    after = state.model(**batch).last_hidden_state
                state.model.train()
                Compactor.diff = float((before - after).abs().max())
                state.extras["params_after"] = state.handle.trainable_parameters()

    class CompactingAllocator(Allocator):
        name = "test-compact"
        hook = None

        def propose(self, ctx):
            h = Compactor()
            probe = ctx.trainer.scoring_batches(1, data="first")[0]
            orig = h.on_step_end

            def wrapped(step, state):
                state.extras["probe"] = {k: v[:4] for k, v in probe.items()}
                orig(step, state)
            h.on_step_end = wrapped
            CompactingAllocator.hook = h
            return Plan(rs.Allocation.uniform(ctx.space, 2), h)

    registered(ALLOCATORS, "test-compact", CompactingAllocator)
    result, final, _ = run_small("test-compact", budget="r2")
    assert result["status"] == "completed"
    assert sum(1 for r in final.ranks.values() if r == 0) == 5
    assert final.params == result["allocation"]["params"]
    assert math.isfinite(result["metrics"]["final"]["r2"])
    assert Compactor.diff < 1e-5


def test_a_proxy_scored_after_a_training_sees_the_untrained_head():
    """Benchmarks score several allocators on one loaded model: the task head a run trained must
    not leak into the next proposal's scores."""
    import os
    from pathlib import Path

    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session
    from rankscope.testing import SMALL_RUN

    glue = Path(os.environ.get("RANKSCOPE_GLUE_DIR", SHARED_DATA / "glue"))
    if not (glue / "MRPC").is_dir():
        pytest.skip(f"GLUE data not found at {glue} (set RANKSCOPE_GLUE_DIR)")
    session = Session(SearchConfig(**{**SMALL_RUN, "task": "mrpc", "data_dir": str(glue), "max_train_samples": 64,
                                      "max_len": 24}).resolved(), progress=False)

    def scores():
        allocator = ALLOCATORS.get("proxy-static")(proxy="grad_norm", n_batches=2)
        return allocator.propose(session.context()).describe()["scores"]["grad_norm"]
    before = scores()
    head = session.model.classifier.weight.detach().clone()
    session.train(session.uniform())
    assert torch.equal(session.model.classifier.weight, head)  # trained, then put back
    after = scores()
    assert after.keys() == before.keys()
    assert [after[k] for k in before] == pytest.approx([before[k] for k in before], rel=1e-4)


def test_svd_alpha_scales_svd_form_adapters_only():
    """``svd_alpha`` sets α of the SVD-form supernet (salient, adalora), whose factor is α/r₀ under
    every rule; LoRA-form runs in the same search keep ``alpha`` (here the default 16 / 4, over
    rslora's √r on the planted task)."""
    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session
    from rankscope.search.validate import check_settings
    from rankscope.testing import SMALL_RUN

    search = Session(SearchConfig(**SMALL_RUN, svd_alpha=256.0).resolved(), progress=False)
    alloc = search.uniform()
    seen = {}

    class Grab(StepHook):
        def on_train_begin(self, state):
            seen.setdefault(state.handle.form, {e: a.scale for e, a in state.handle.adapters.items()})

    for form in ("svd", "lora"):
        search.train(rs.Allocation(search.space, alloc.ranks, form), hook=Grab(), steps=1)
    for eid, r in alloc.ranks.items():
        if r:
            assert seen["svd"][eid] == pytest.approx(256.0 / r)
            kind = search.space.edge(eid).kind
            assert seen["lora"][eid] == pytest.approx({"lora": 16.0, "shortcut": 4.0}[kind] / math.sqrt(r))
    for bad in (0.0, -1.0):
        with pytest.raises(rs.InputError, match="--svd-alpha must be a positive number"):
            check_settings(SearchConfig(svd_alpha=bad).resolved())
