"""SearchConfig.resolved: task defaults, an allocator's own defaults, and the baseline's lr."""

import os
from pathlib import Path

import pytest
from conftest import SHARED_DATA

from rankscope.search.config import SearchConfig
from rankscope.tasks import task_kind
from rankscope.testing import SMALL_RUN

GLUE = task_kind("mrpc")  # the classification kind: its defaults and its allocators' own
CAUSAL = task_kind("gsm8k")


def resolved(**settings) -> SearchConfig:
    return SearchConfig(**settings).resolved()


def test_an_allocator_takes_its_own_glue_defaults_and_its_baseline_keeps_uniforms_lr():
    uniform = resolved(task="mrpc")
    assert (uniform.lr, uniform.baseline_lr, uniform.svd_alpha) == (GLUE.defaults["lr"],) * 2 + (None,)
    for allocator, own in GLUE.allocator_defaults.items():
        cfg = resolved(task="rte", allocator=allocator)
        assert cfg.lr == own["lr"] and cfg.svd_alpha == own.get("svd_alpha")
        assert cfg.baseline_lr == uniform.lr  # never the method's own lr
    assert resolved(task="mrpc", allocator="proxy-static").lr == uniform.lr  # no own default: the task's


def test_what_the_user_gives_wins_over_an_allocators_defaults():
    cfg = resolved(task="mrpc", allocator="salient", lr=3e-4)
    assert (cfg.lr, cfg.baseline_lr, cfg.svd_alpha) == (3e-4, 3e-4, 256.0)  # --lr: the baseline's too
    cfg = resolved(task="mrpc", allocator="salient", alpha=32.0)
    assert cfg.svd_alpha is None and cfg.attach_options("svd")["alpha"] == 32.0  # --alpha is the SVD form's α
    cfg = resolved(task="mrpc", allocator="adalora", svd_alpha=64.0, baseline_lr=2e-4)
    assert (cfg.svd_alpha, cfg.baseline_lr, cfg.lr) == (64.0, 2e-4, GLUE.allocator_defaults["adalora"]["lr"])


def test_the_planted_and_decoder_tasks_keep_their_defaults_for_every_allocator():
    for allocator in GLUE.allocator_defaults:
        planted, gsm8k = resolved(allocator=allocator), resolved(task="gsm8k", allocator=allocator)
        assert (planted.lr, planted.baseline_lr, planted.svd_alpha) == (3e-3, 3e-3, None)
        assert (gsm8k.lr, gsm8k.baseline_lr, gsm8k.svd_alpha) == (CAUSAL.defaults["lr"],) * 2 + (None,)


def test_the_written_config_repeats_the_resolved_settings(tmp_path):
    cfg = resolved(task="mrpc", allocator="salient")
    path = tmp_path / "config.toml"
    path.write_text(cfg.to_toml())
    again = SearchConfig.from_toml(path).resolved()
    assert again == cfg  # the lr in the file is now given, and the baseline's stays uniform's


def test_a_baseline_trains_at_the_baseline_lr():
    """The lr reaches the optimizer: the schedule's peak in the history is baseline_lr for the
    baseline and the run's lr for the run's own training."""
    from rankscope.search.session import Session

    glue = Path(os.environ.get("RANKSCOPE_GLUE_DIR", SHARED_DATA / "glue"))
    if not (glue / "MRPC").is_dir():
        pytest.skip(f"GLUE data not found at {glue} (set RANKSCOPE_GLUE_DIR)")
    cfg = resolved(**{**SMALL_RUN, "task": "mrpc", "data_dir": str(glue), "max_train_samples": 32,
                      "max_dev_samples": 16, "max_len": 24, "max_steps": 4, "eval_every": 1, "warmup_ratio": 0.0,
                      "allocator": "salient", "planted": {}})
    assert cfg.lr != cfg.baseline_lr
    session = Session(cfg, progress=False)
    baseline = session.baseline(session.uniform(), "baseline uniform")
    own = session.train(session.uniform())
    assert max(h["lr"] for h in baseline.history) == pytest.approx(cfg.baseline_lr * 3 / 4)  # after step 1 of 4
    assert max(h["lr"] for h in own.history) == pytest.approx(cfg.lr * 3 / 4)
