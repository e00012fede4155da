"""python -m benchmarks.eva_scale: the |A·x| ratio of PEFT EVA's initialisation to PEFT's default one."""

import os
from pathlib import Path

import pytest
import torch
from conftest import SHARED_DATA

from benchmarks.eva_scale.cli import scale_ratios
from benchmarks.protocol.methods import eva_model


def test_dividing_evas_a_by_its_ratio_gives_the_default_scale():
    """EVA's unit-norm principal directions give a larger |A·x| than kaiming-uniform rows; divided
    by the measured ratio, every module's A has the default's RMS of A·x on the same batch."""
    from rankscope.harness.data import batches
    from rankscope.search.config import SearchConfig
    from rankscope.search.session import Session
    from rankscope.testing import SMALL_RUN

    glue = Path(os.environ.get("RANKSCOPE_GLUE_DIR", SHARED_DATA / "glue"))
    if not (glue / "MRPC").is_dir():
        pytest.skip(f"GLUE data not found at {glue} (set RANKSCOPE_GLUE_DIR)")
    session = Session(SearchConfig(**{**SMALL_RUN, "task": "mrpc", "data_dir": str(glue), "max_train_samples": 64,
                                      "max_len": 24, "space": "lora"}).resolved(), progress=False)
    pm = eva_model(session)
    task = session.task
    batch = {k: v for k, v in next(iter(batches(task.train[:16], 16, task.collate, shuffle=False))).items()
             if k != "labels"}
    ratios = scale_ratios(pm, batch)
    modules = dict(pm.named_modules())
    assert len(ratios) == len(session.space.edges) and all(r > 0 for r in ratios.values())
    assert max(ratios.values()) > 1.0  # principal directions of the inputs, not random ones
    with torch.no_grad():
        for name, ratio in ratios.items():
            modules[name].lora_A["default"].weight.div_(ratio)
    assert list(scale_ratios(pm, batch).values()) == pytest.approx([1.0] * len(ratios), rel=1e-4)
