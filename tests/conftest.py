"""Shared fixtures: tiny random models (2 layers, hidden 32) of every supported family."""

import os
from pathlib import Path

import pytest
import torch

# the repository, and the shared data beside the checkout (GLUE, GSM8K): tests in subfolders
# name paths through these, never through how deep their own file sits
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def declared_entry_points(group: str) -> dict[str, str]:
    """``{name: target}`` of an entry-point group as ``pyproject.toml`` declares it: the built-in
    plugins (allocators, proxies, spaces) a coverage test holds its contract tests against (the
    source, not the installed metadata, which a stale install could leave behind)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: pytest brings tomli
        import tomli as tomllib
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"][group]
    assert declared, f"pyproject.toml declares no {group} entry points"
    return dict(declared)


def assert_contracts_cover(group: str, contract: type, attr: str, namespace: dict, registry) -> None:
    """The ``contract`` subclasses in ``namespace`` (a test module's globals) name, through their
    ``attr``, exactly the plugins ``pyproject.toml`` declares in ``group``; and ``registry`` (the
    installed metadata) offers every one of them, so a stale install fails too."""
    declared = set(declared_entry_points(group))
    covered = {getattr(cls, attr) for cls in namespace.values()
               if isinstance(cls, type) and issubclass(cls, contract) and cls is not contract}
    kind = group.rpartition(".")[2]
    assert covered == declared, (f"{kind} without a contract class: {sorted(declared - covered)}; "
                                 f"classes for undeclared {kind}: {sorted(covered - declared)}")
    assert declared <= set(registry.names()), "reinstall: pip install -e '.[test]'"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# the planted cache (rankscope.tasks.planted.cache) of this test session: never the user's, and fresh, so
# every baseline a test checks is really trained (processes the tests start inherit it)
if "RANKSCOPE_CACHE" not in os.environ:
    import tempfile

    os.environ["RANKSCOPE_CACHE"] = tempfile.mkdtemp(prefix="rankscope-test-cache-")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # one thread per xdist worker (and per process a test starts): two workers with two torch
    # threads each on two cores spin against each other and run many times slower
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)

# processes a test starts (search subprocesses): a failing test must not leave them running
STARTED: list = []


@pytest.fixture(autouse=True)
def _no_stray_processes():
    yield
    while STARTED:
        p = STARTED.pop()
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.fixture
def registered():
    """``registered(registry, name, obj)``: register ``obj`` under ``name`` for this test only;
    the name is unregistered after it (the registries are global: nothing a test registers may
    leak into another test)."""
    done = []

    def register(registry, name, obj):
        registry.register(name, obj)
        done.append((registry, name))
        return obj
    yield register
    for registry, name in reversed(done):
        registry.unregister(name)


SMALL = dict(num_hidden_layers=2, num_attention_heads=2, vocab_size=100)


def make_tiny(family: str, num_labels: int | None = 2, seed: int = 0):
    """A seeded tiny model of ``family`` with a classification head (or bare backbone)."""
    import transformers as tf

    configs = {
        "bert": lambda: tf.BertConfig(hidden_size=32, intermediate_size=64, **SMALL),
        "roberta": lambda: tf.RobertaConfig(hidden_size=32, intermediate_size=64, pad_token_id=1, **SMALL),
        "deberta-v2": lambda: tf.DebertaV2Config(hidden_size=32, intermediate_size=64, **SMALL),
        "llama": lambda: tf.LlamaConfig(hidden_size=32, intermediate_size=64, num_key_value_heads=1,
                                        pad_token_id=0, **SMALL),
        "qwen2": lambda: tf.Qwen2Config(hidden_size=32, intermediate_size=64, num_key_value_heads=1,
                                        pad_token_id=0, **SMALL),
        "opt": lambda: tf.OPTConfig(hidden_size=32, ffn_dim=64, word_embed_proj_dim=32, pad_token_id=1, **SMALL),
        "gpt2": lambda: tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100, pad_token_id=0,
                                      bos_token_id=0, eos_token_id=0),
    }
    torch.manual_seed(seed)
    cfg = configs[family]()
    if num_labels is None:
        model = tf.AutoModel.from_config(cfg)
    else:
        cfg.num_labels = num_labels
        model = tf.AutoModelForSequenceClassification.from_config(cfg)
    return model.eval()


FAMILIES = ["bert", "roberta", "deberta-v2", "llama", "qwen2", "opt", "gpt2"]


def batch(seed: int = 0, n: int = 3, t: int = 7):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 100, (n, t), generator=g)
    mask = torch.ones_like(ids)
    mask[0, -2:] = 0  # some padding, so masked positions are exercised
    return {"input_ids": ids, "attention_mask": mask}


@pytest.fixture(params=FAMILIES)
def tiny_model(request):
    return request.param, make_tiny(request.param)


def run_cli(capsys, *args):
    """Run the ``rankscope`` CLI in-process; return (exit code, stderr)."""
    from rankscope.cli import main

    try:
        main(list(map(str, args)))
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def run_cli_out(capsys, *args):
    """Run the ``rankscope`` CLI in-process; return (exit code, stdout, stderr)."""
    from rankscope.cli import main

    capsys.readouterr()  # drop what the test printed before
    try:
        main(list(map(str, args)))
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err
