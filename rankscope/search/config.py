"""SearchConfig: every setting of one run, in one dataclass, and its TOML round trip.

Every hyper-parameter is defined here once, with its help text in the field's metadata: the CLI
builds its ``search`` flags from these fields (:mod:`rankscope.cli.search`), and the harness
trains with the resolved config itself, so a default, a flag and its help cannot drift apart.

Precedence: built-in defaults < ``--config FILE.toml`` < flags given on the command line.
Task-dependent defaults (``None`` below) come from the task's kind in :meth:`resolved`
(:attr:`~rankscope.tasks.kind.TaskKind.defaults`), and an allocator's own, where it has them,
from the kind's :attr:`~rankscope.tasks.kind.TaskKind.allocator_defaults`.
The run directory's ``config.toml`` holds the fully resolved settings, so
``rankscope search --config RUN/config.toml`` repeats the run exactly. Unknown keys are an
error; the values are checked by :func:`rankscope.search.validate.validate`.

>>> cfg = SearchConfig(task="mrpc").resolved()
>>> cfg.lr, cfg.epochs, cfg.max_steps, cfg.scaling
(0.0005, 3.0, None, 'rslora')
>>> cfg = SearchConfig(task="mrpc", allocator="salient").resolved()
>>> cfg.lr, cfg.svd_alpha, cfg.baseline_lr          # its own lr and α; a baseline keeps uniform's lr
(0.002, 256.0, 0.0005)
>>> SearchConfig(max_steps=30).resolved().max_steps
30
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields

import tomli_w
import tomllib

from rankscope.adapters.lora import DEFAULT_SCALING
from rankscope.errors import InputError
from rankscope.tasks import all_presets, kinds, task_kind


def setting(default=None, help: str = "", *, flag: bool = True, factory=None):
    """A config field with its CLI help; ``flag=False``: set only through ``--config`` / ``-o``."""
    meta = {"help": help, "flag": flag}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class SearchConfig:
    preset: str | None = setting(None, "Named settings: quick (planted task, 60 steps, 512/256 rows: a first "
                                       "result in minutes) or calibrated (the frozen planted defaults).")
    space: str = setting("shortcuts", "Search space (rankscope ls spaces).")
    allocator: str = setting("uniform", "Allocator (rankscope ls allocators).")
    model: str = setting("minilm", "Model alias (rankscope ls models), hub id or local path.")
    task: str = setting("planted", "Task (rankscope ls tasks); planted is the offline ground truth.")
    data_dir: str | None = setting(None, "GLUE v1 TSV directory (else $RANKSCOPE_GLUE_DIR), or a custom task's "
                                         "directory (train/dev .csv|.jsonl).")
    # --task causal from any datasets.load_dataset source (rankscope/tasks/causal/hf_dataset.py)
    dataset: str | None = setting(None, "--task causal rows from a .jsonl/.json, .parquet or .csv file, a directory of "
                                        "them, or a Hugging Face hub id (instead of --data-dir).")
    dataset_config: str | None = setting(None, "--dataset: the hub data set's configuration (e.g. main).")
    dataset_split: str | None = setting(None, "--dataset: the training split. Default: train.")
    dataset_dev_split: str | None = setting(None, "--dataset: the dev split. Default: the first of dev, validation, "
                                                  "valid, val, test, else a fixed 5 % hold-out of the training split.")
    prompt_column: str | None = setting(None, "--dataset: the prompt column. Default: prompt.")
    response_column: str | None = setting(None, "--dataset: the response column (the targets). Default: response, "
                                                "else completion (TRL's name).")
    messages_column: str | None = setting(None, "--dataset: the chat column, lists of {role, content}. Default: "
                                                "messages.")
    text_column: str | None = setting(None, "--dataset: the plain-text column (every token a target). Default: text.")
    budget: str | None = setting(None, "Adapter parameters: 250k, 1.2M, 300000 or rN (= uniform rank N). "
                                       "Default: r2; planted: the planted parameter count.")
    budget_space: str | None = setting(None, "Count an rN budget in this space's edges while allocating in --space "
                                             "(--space shortcuts --budget r2 --budget-space lora: uniform rank-2 "
                                             "LoRA's parameters, spent over the shortcut space). Default: --space.")
    seed: int = setting(0, "Seed for data order, initialisation and allocation.")
    epochs: float | None = setting(None, "Training epochs (ignored when --max-steps is set).")
    max_steps: int | None = setting(None, "Optimizer steps; overrides --epochs.")
    lr: float | None = setting(None, "Peak AdamW learning rate (linear warm-up, then linear decay).")
    baseline_lr: float | None = setting(None, "Peak learning rate of the --baseline trainings (and the planted "
                                              "floor and ceiling). Default: --lr when given, else the task's "
                                              "default (uniform's, not an allocator's own).")
    batch_size: int | None = setting(None, "Training batch size.")
    eval_batch_size: int | None = setting(None, "Evaluation batch size.")
    max_len: int | None = setting(None, "Truncate inputs to this many tokens.")
    max_train_samples: int | None = setting(None, "Train on a seeded random subset of this many examples.")
    max_dev_samples: int | None = setting(None, "Evaluate on a fixed seeded subset of this many dev rows (the "
                                                "same for every run and seed; every evaluation, the last included).")
    eval_every: int = setting(0, "Evaluate on dev every N steps (0: scaled to the run: the intermediate evaluations "
                                 "read at most 0.3 dev rows per training row, ten evaluations at most).")
    eval_subset: int = setting(256, "Intermediate evaluations use a fixed seeded subset of this many dev rows "
                                    "(0: all); the final evaluation always uses all of dev.")
    exact_match: int | None = setting(None, "GSM8K: after training, decode this many test problems greedily (a "
                                            "fixed seeded subset, the same for every run) and report exact-match "
                                            "accuracy; -1: all 1,319; 0: skip. Default: 8 on cpu, all on cuda.")
    max_new_tokens: int = setting(256, "Greedy decoding (GSM8K exact match): at most this many new tokens per "
                                       "answer.")
    warmup_ratio: float = setting(0.06, "Share of the steps spent warming the learning rate up.")
    weight_decay: float = setting(0.01, "AdamW weight decay of matrices (biases and λ get none).")
    max_grad_norm: float = setting(1.0, "Clip the gradient norm to this (0: no clipping).")
    orth_reg: float = setting(0.5, "SVD-form orthogonality coefficient c (loss + c·R; salient, adalora).")
    alpha: float | None = setting(None, "LoRA alpha of every edge (default: 16 on modules, 4 on shortcuts; "
                                        "SVD form 32).")
    # α of SVD-form adapters only; a larger value speeds SVD-form learning on short schedules
    # (docs/results/planted.md, "SalientLoRA and AdaLoRA")
    svd_alpha: float | None = setting(None, "Alpha of SVD-form adapters only (salient, adalora): --alpha when "
                                            "given, else the allocator's own default on the task, else 32 (the "
                                            "paper's).")
    scaling: str | None = setting(None, "The LoRA form's scaling rule: rslora (alpha/sqrt(r): every rank moves its "
                                        "weights equally) or lora (alpha/r, PEFT's rule: larger ranks move less). "
                                        "Default: the task's (planted rslora, GLUE and causal lora). The SVD form "
                                        "always scales by alpha/r0.")
    max_rank: int = setting(64, "Largest rank any edge may take.")
    baseline: list = setting(help="Also train this baseline at the same budget (uniform); repeatable.",
                             factory=list)
    device: str = setting("cpu", "cpu, cuda or cuda:N.")
    # bigger bases (rankscope/models/memory.py): adapters, head and AdamW state stay float32 whatever
    # the base's dtype
    dtype: str = setting("float32", "Dtype of the frozen base: float32, bfloat16 or float16 (cuda only). "
                                    "Adapters, the task head and optimizer state stay float32.")
    gradient_checkpointing: bool = setting(False, "Recompute each block's activations in the backward pass "
                                                  "instead of storing them: less memory, about one more forward "
                                                  "pass of compute per step.")
    trust_remote_code: bool = setting(False, "Allow model code from the hub (off unless asked).")
    allocator_options: dict = setting(help="Allocator options (-o KEY=VALUE).", flag=False, factory=dict)
    planted: dict = setting(help="Planted-task options ([planted] table of a config file).", flag=False,
                            factory=dict)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def help_text(cls, name: str) -> str:
        """A field's help, with its default (and the task defaults) appended: the CLI's ``--help``."""
        f = next(f for f in fields(cls) if f.name == name)
        per_task = [f"{kind.name} {kind.defaults[name]}" for kind in kinds() if name in kind.defaults]
        per_task += [f"{kind.name} with {alloc} {d[name]}" for kind in kinds()
                     for alloc, d in kind.allocator_defaults.items() if name in d]
        if per_task:
            return f"{f.metadata['help']} Default: {', '.join(per_task)}."
        default = None if f.default is MISSING else f.default
        if default is None or default == [] or isinstance(default, bool):
            return f.metadata["help"]
        return f"{f.metadata['help']} Default: {default}."

    @classmethod
    def from_mapping(cls, data: dict, source: str = "config") -> "SearchConfig":
        if not isinstance(data, dict):
            raise InputError(f"{source}: expected a table of settings, got {type(data).__name__}")
        unknown = sorted(set(data) - set(cls.keys()))
        if unknown:
            raise InputError(f"{source}: unknown keys {unknown}; valid keys: {', '.join(cls.keys())}")
        return cls(**data)

    @classmethod
    def from_toml(cls, path) -> "SearchConfig":
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise InputError(f"config file {path} does not exist or is not a file") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"config file {path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise InputError(f"config file {path} is not UTF-8 text") from None
        except OSError as exc:  # e.g. no permission to read it
            raise InputError(f"cannot read config file {path}: {exc.strerror or exc}") from None
        return cls.from_mapping(data, source=str(path))

    def merged(self, overrides: dict) -> "SearchConfig":
        """A copy with every non-None override applied."""
        data = asdict(self)
        data.update({k: v for k, v in overrides.items() if v is not None})
        return SearchConfig.from_mapping(data)

    def resolved(self) -> "SearchConfig":
        """Fill the preset's settings, then ``baseline_lr`` (from ``lr`` as given), then the
        allocator's own defaults on the task's kind (lr, svd_alpha), then the kind's (steps or
        epochs, lr, batch size, max length, scaling), then the kind's dependent defaults
        (:meth:`~rankscope.tasks.kind.TaskKind.resolve`), wherever a setting is still unset."""
        data = asdict(self)
        defaults = {f.name: f.default for f in fields(self) if f.default is not MISSING}
        kind = _kind_or_none(self.task)  # an unknown task: validate() names it, with the valid ones
        presets = all_presets()
        for k, v in presets.get(self.preset or "", {}).items():
            if k == "planted":
                data[k] = {**v, **data[k]}
            elif data.get(k) == defaults.get(k) and not (k == "max_steps" and data.get("epochs") is not None):
                data[k] = v
        if kind is not None:
            if data["baseline_lr"] is None:  # before the allocator's own lr can fill --lr
                data["baseline_lr"] = data["lr"] if data["lr"] is not None else kind.defaults["lr"]
            for k, v in kind.allocator_defaults.get(self.allocator, {}).items():
                # an explicit --alpha is also the SVD form's α (svd_alpha's help), so it is kept
                if data.get(k) is None and not (k == "svd_alpha" and data.get("alpha") is not None):
                    data[k] = v
            for k, v in kind.defaults.items():
                if data.get(k) is None and not (k == "epochs" and data.get("max_steps") is not None):
                    data[k] = v
            kind.resolve(data)
        if data["exact_match"] is None:
            data["exact_match"] = 0
        return SearchConfig.from_mapping(data)

    def attach_options(self, form: str = "lora") -> dict:
        """α and scaling for attaching adapters of ``form``: ``svd_alpha`` replaces ``alpha`` for
        the SVD form."""
        alpha = self.svd_alpha if form == "svd" and self.svd_alpha is not None else self.alpha
        return {"alpha": alpha, "scaling": self.scaling or DEFAULT_SCALING}

    def to_toml(self) -> str:
        """The settings as TOML, with any URL password in an option (``storage``) redacted: a
        written config never holds a credential (pass it again, or through ``$PGPASSWORD``)."""
        from rankscope.redact import redact_url

        data = {k: v for k, v in asdict(self).items() if v is not None}
        data["allocator_options"] = {k: redact_url(v) if isinstance(v, str) else v
                                     for k, v in data.get("allocator_options", {}).items()}
        return tomli_w.dumps(data)


def _kind_or_none(task):
    try:
        return task_kind(task)
    except InputError:
        return None
