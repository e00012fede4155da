"""SearchConfig: every setting of one ``rankscope search`` run, and its TOML round trip.

Precedence: built-in defaults < ``--config FILE.toml`` < flags given on the command line. The run
directory's ``config.toml`` holds the fully resolved settings, so
``rankscope search --config RUN/config.toml`` repeats the run exactly. Unknown keys are an error.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields

import tomli_w

from .errors import InputError

TASK_DEFAULTS = {
    # planted: short sequences, one regression head; calibrated defaults (README)
    "planted": {"max_steps": 200, "lr": 3e-3, "batch_size": 32, "max_len": 64, "scaling": "rslora"},
    "glue": {"epochs": 3.0, "lr": 5e-4, "batch_size": 32, "max_len": 128, "scaling": "lora"},
}


@dataclass
class SearchConfig:
    space: str = "shortcuts"
    allocator: str = "uniform"
    model: str = "minilm"
    task: str = "planted"
    data_dir: str | None = None
    budget: str | None = None  # default: "r2"; on the planted task, the planted parameter count
    seed: int = 0
    epochs: float | None = None
    max_steps: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    max_len: int | None = None
    max_train_samples: int | None = None
    eval_every: int = 0
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    orth_reg: float = 0.5
    alpha: float | None = None
    # α of SVD-form adapters only (salient, adalora); None: ``alpha``, else the paper's 32. A
    # larger value speeds SVD-form learning on short schedules (README, "SalientLoRA and AdaLoRA")
    svd_alpha: float | None = None
    scaling: str | None = None  # "lora" (alpha/r) or "rslora" (alpha/sqrt(r)); task default
    max_rank: int = 64
    baseline: list = field(default_factory=list)
    device: str = "cpu"
    trust_remote_code: bool = False
    allocator_options: dict = field(default_factory=dict)
    planted: dict = field(default_factory=dict)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_mapping(cls, data: dict, source: str = "config") -> "SearchConfig":
        unknown = sorted(set(data) - set(cls.keys()))
        if unknown:
            raise InputError(f"{source}: unknown keys {unknown}; valid keys: {', '.join(cls.keys())}")
        return cls(**data)

    @classmethod
    def from_toml(cls, path) -> "SearchConfig":
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise InputError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"config file {path} is not valid TOML: {exc}") from None
        return cls.from_mapping(data, source=str(path))

    def merged(self, overrides: dict) -> "SearchConfig":
        """A copy with every non-None override applied."""
        data = asdict(self)
        data.update({k: v for k, v in overrides.items() if v is not None})
        return SearchConfig.from_mapping(data)

    def resolved(self) -> "SearchConfig":
        """Fill task-dependent defaults (steps, lr, batch size, max length)."""
        kind = "planted" if self.task == "planted" else "glue"
        data = asdict(self)
        for k, v in TASK_DEFAULTS[kind].items():
            if data.get(k) is None and not (k == "epochs" and data.get("max_steps") is not None):
                data[k] = v
        return SearchConfig.from_mapping(data)

    def train_config(self):
        """The :class:`~rankscope.harness.config.TrainConfig` these settings describe (its own
        defaults fill what is unset), so training hyper-parameters are defined in one place."""
        from .harness.config import TrainConfig

        names = {f.name for f in fields(TrainConfig)}
        return TrainConfig(**{k: v for k, v in asdict(self).items() if k in names and v is not None})

    def to_toml(self) -> str:
        """The settings as TOML, with any URL password in an option (``storage``) redacted: a
        written config never holds a credential (pass it again, or through ``$PGPASSWORD``)."""
        from .redact import redact_url

        data = {k: v for k, v in asdict(self).items() if v is not None}
        data["allocator_options"] = {k: redact_url(v) if isinstance(v, str) else v
                                     for k, v in data.get("allocator_options", {}).items()}
        return tomli_w.dumps(data)
