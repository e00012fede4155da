"""``--dtype`` and ``--gradient-checkpointing`` in a search: checked before anything loads, flags
generated from SearchConfig, and a run on a bfloat16, checkpointed tiny base (scoring proxies and
shortcut edges included) that records its dtype."""

import pytest
from conftest import run_cli_out

from rankscope.errors import InputError
from rankscope.search.config import SearchConfig
from rankscope.search.pipeline import run_search
from rankscope.search.validate import validate

PLANTED = {"n_train": 32, "n_dev": 16, "seq_len": 8, "n_plants": 2}


@pytest.mark.parametrize("settings, message", [
    ({"dtype": "bf16"}, "--dtype must be one of float32, bfloat16, float16, got 'bf16'"),
    ({"dtype": 16}, "--dtype must be one of float32, bfloat16, float16, got 16"),
    ({"dtype": "float16"}, "--dtype float16 runs on cuda only .* valid on cpu: float32, bfloat16"),
    ({"gradient_checkpointing": "yes"}, "gradient_checkpointing must be true or false, got 'yes'"),
])
def test_bad_settings_name_what_is_valid(settings, message):
    with pytest.raises(InputError, match=message):
        validate(SearchConfig(**settings).resolved())


def test_the_flags_come_from_the_config(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # the help table at full width, flag names unbroken
    code, out, _ = run_cli_out(capsys, "search", "--help")
    assert code == 0 and "--dtype" in out and "--gradient-checkpointing" in out
    code, out, err = run_cli_out(capsys, "search", "--dtype", "bf16")
    assert code == 2 and "--dtype must be one of float32, bfloat16, float16" in err and "Traceback" not in err


def test_a_bfloat16_checkpointed_search_runs_and_records_its_dtype(tmp_path):
    cfg = SearchConfig(model="tiny-llama", space="shortcuts", allocator="proxy-static", max_steps=2, batch_size=8,
                       allocator_options={"proxy": "spectral", "n_batches": 2, "warmup_steps": 1},
                       dtype="bfloat16", gradient_checkpointing=True, planted=PLANTED).resolved()
    (tmp_path / "config.toml").write_text(cfg.to_toml())
    assert SearchConfig.from_toml(tmp_path / "config.toml") == cfg  # config.toml repeats both settings
    result = run_search(cfg, progress=False)
    assert result.completed and result.dtype == "bfloat16"
    assert result.to_dict()["dtype"] == "bfloat16"
    assert result.final.params > 0 and result.baseline["uniform"]["metrics"]


def test_a_checkpoint_loads_directly_in_the_runs_dtype(tmp_path):
    """A run's base arrives in ``--dtype`` from ``from_pretrained``: no float32 copy is ever held,
    and its weights are the checkpoint's rounded to bfloat16, as a cast after loading gives."""
    import torch

    from rankscope.models.loading import load_model
    from rankscope.tasks import task_kind

    torch.manual_seed(0)
    saved, tok = load_model("tiny-llama", causal_lm=True)
    saved.save_pretrained(tmp_path / "ckpt")
    tok.save_pretrained(tmp_path / "ckpt")
    model, _ = task_kind("causal").load_model(str(tmp_path / "ckpt"), dtype="bfloat16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    for (name, got), want in zip(model.named_parameters(), saved.parameters()):
        torch.testing.assert_close(got, want.to(torch.bfloat16), rtol=0, atol=0, msg=name)
