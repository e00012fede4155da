"""Training configuration shared by every run the harness performs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import InputError


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (all allocators use the same loop and values).

    ``max_steps`` wins over ``epochs`` when both are set. ``eval_every`` = 0 means "about ten
    evaluations per run". ``orth_reg`` is the SVD-form orthogonality coefficient (AdaLoRA /
    SalientLoRA); it is ignored for LoRA-form adapters.
    """

    lr: float = 5e-4
    batch_size: int = 32
    eval_batch_size: int = 64
    epochs: float = 3.0
    max_steps: int | None = None
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    eval_every: int = 0
    seed: int = 0
    max_len: int = 128
    max_train_samples: int | None = None
    orth_reg: float = 0.5
    alpha: float | None = None
    device: str = "cpu"

    def __post_init__(self):
        if self.max_steps is not None and self.max_steps <= 0:
            raise InputError(f"--max-steps must be a positive integer, got {self.max_steps}")
        if self.epochs is not None and self.epochs <= 0:
            raise InputError(f"--epochs must be positive, got {self.epochs}")
        if self.lr <= 0:
            raise InputError(f"--lr must be positive, got {self.lr}")
        if self.batch_size <= 0 or self.eval_batch_size <= 0:
            raise InputError("--batch-size must be a positive integer")
        if self.max_len < 8:
            raise InputError(f"--max-len must be at least 8, got {self.max_len}")
        if self.max_train_samples is not None and self.max_train_samples <= 0:
            raise InputError("--max-train-samples must be positive")

    def total_steps(self, train_size: int) -> int:
        if self.max_steps is not None:
            return int(self.max_steps)
        per_epoch = -(-train_size // self.batch_size)
        return max(1, int(round(self.epochs * per_epoch)))

    def to_dict(self) -> dict:
        return asdict(self)
