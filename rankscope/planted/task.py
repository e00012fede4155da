"""Build the planted teacher, its data and its regression objective."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..allocation import Allocation
from ..attach import attach
from ..errors import InputError
from ..harness.data import PreparedTask
from ..trace import capture_sites


@dataclass
class PlantedConfig:
    """Defaults calibrated so that the oracle's dev error is well under 0.7× uniform's
    (README, "Planted task calibration")."""

    n_plants: int = 6
    shortcut_share: float = 0.5
    ranks: tuple = (2, 4, 8)
    scale: float = 0.5
    seq_len: int = 32
    n_train: int = 1024
    n_dev: int = 512
    proj_dim: int = 16

    def to_dict(self):
        return asdict(self)


def choose_plants(space, cfg: PlantedConfig, seed: int) -> Allocation:
    """Seed-chosen edges (``shortcut_share`` of them shortcuts, when the space has any)."""
    rng = np.random.default_rng(10_000 + seed)
    short = [e for e in space.edges if e.kind == "shortcut"]
    lora = [e for e in space.edges if e.kind == "lora"]
    n_short = min(len(short), int(round(cfg.n_plants * cfg.shortcut_share)))
    n_lora = min(len(lora), cfg.n_plants - n_short)
    chosen = [short[i] for i in rng.choice(len(short), n_short, replace=False)] if n_short else []
    chosen += [lora[i] for i in rng.choice(len(lora), n_lora, replace=False)] if n_lora else []
    if not chosen:
        raise InputError("the planted task needs a space with at least one edge")
    ranks = {e.id: int(min(rng.choice(cfg.ranks), e.max_rank)) for e in chosen}
    # Keep planting until the planted count covers uniform rank 1: below that, "uniform at the
    # same budget" would not be uniform (some edges would get nothing) and the floor would be unfair.
    rest = [e for e in space.edges if e.id not in ranks]
    rng.shuffle(rest)
    while Allocation(space, ranks).params < space.uniform_cost(1) and rest:
        e = rest.pop()
        ranks[e.id] = int(min(rng.choice(cfg.ranks), e.max_rank))
    return Allocation(space, ranks)


def sample_inputs(tokenizer, n: int, seq_len: int, rng: np.random.Generator) -> list[dict]:
    """Random token sequences (lengths seq_len/2..seq_len) wrapped in the model's special tokens."""
    special = set(tokenizer.all_special_ids)
    lo = min(1000, tokenizer.vocab_size // 10)
    pool = np.array([i for i in range(lo, tokenizer.vocab_size) if i not in special])
    # the special tokens the tokenizer wraps text in (e.g. [CLS] … [SEP], or <bos> …)
    probe = tokenizer("a")["input_ids"]
    head = [t for t in probe[:2] if t in special][:1] if probe and probe[0] in special else []
    tail = [probe[-1]] if len(probe) > 1 and probe[-1] in special else []
    out = []
    for _ in range(n):
        ids = pool[rng.integers(0, len(pool), rng.integers(seq_len // 2, seq_len + 1))].tolist()
        full = head + ids + tail
        out.append({"input_ids": full, "attention_mask": [1] * len(full)})
    return out


def _orthonormal(rows, cols, gen):
    q, _ = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols), generator=gen))
    return q[:rows, :cols] if rows >= cols else q[:cols, :rows].T


def plant_weights(model, handle, planted: Allocation, calib_inputs: dict, scale: float, seed: int):
    """Set each planted edge to ΔW = c · U Vᵀ (orthonormal U, V; equal singular values) with c
    chosen so that RMS(Δ(x_src)) = scale · RMS(y_dst) on a calibration batch."""
    gen = torch.Generator().manual_seed(20_000 + seed)
    space = planted.space
    sites = {s for i in handle.adapters for s in (space.edge(i).src, space.edge(i).dst)}
    acts = capture_sites(model, sites, calib_inputs)
    with torch.no_grad():
        for eid, a in handle.adapters.items():
            e = space.edge(eid)
            a.A.copy_(_orthonormal(a.rank, e.d_in, gen))
            a.B.copy_(_orthonormal(e.d_out, a.rank, gen))
            delta = (acts[e.src] @ a.A.T) * a.scale @ a.B.T
            rms = lambda t: t.pow(2).mean().sqrt()  # noqa: E731
            a.B.mul_(scale * rms(acts[e.dst]) / rms(delta).clamp_min(1e-12))


def pooled_blocks(model, batch) -> torch.Tensor:
    """Mean-pooled hidden state of every block: [batch, n_blocks, d]."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
    hs = torch.stack(out.hidden_states[1:], 1)  # drop the embeddings
    m = batch["attention_mask"][:, None, :, None].to(hs.dtype)
    return (hs * m).sum(2) / m.sum(2).clamp_min(1)


class PlantedRegression(torch.nn.Module):
    """Objective: predict the teacher's projected feature change; metric r2 (variance-weighted).

    Its only trainable parameter is a per-output ``bias`` (the task head, L·k parameters): it
    absorbs the mean shift of the planted change, so r2 ≈ 0 with no adapter and r2 measures how
    much of the *structured* change the adapters reproduce.
    """

    primary = "r2"
    greater_is_better = True

    def __init__(self, proj: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("proj", proj)  # [L, d, k]
        self.register_buffer("std", std)  # [L·k]
        self.bias = torch.nn.Parameter(torch.zeros(std.numel()))

    def project(self, pooled):
        return torch.einsum("bld,ldk->blk", pooled, self.proj).flatten(1)

    def forward(self, model, batch):
        pred = (self.project(pooled_blocks(model, batch)) - batch["base"]) / self.std + self.bias
        return torch.nn.functional.mse_loss(pred, batch["target"]), pred.detach(), batch["target"]

    def metrics(self, preds, targets):
        """Pooled r2 = 1 − ΣSSE / ΣSST over every output. Unlike sklearn's per-output averages it
        also charges errors on outputs the teacher did not change (blocks before every plant)."""
        sse = float(((preds - targets) ** 2).sum())
        sst = float(((targets - targets.mean(0)) ** 2).sum())
        return {"r2": 1.0 - sse / sst if sst > 0 else float("nan"), "mse": float(np.mean((preds - targets) ** 2))}


@dataclass
class PlantedTask:
    prepared: PreparedTask
    planted: Allocation
    config: PlantedConfig


def _features(model, objective, data, collate, bs=128):
    outs = []
    with torch.no_grad():
        for i in range(0, len(data), bs):
            b = collate(data[i:i + bs])
            outs.append(objective.project(pooled_blocks(model, b)))
    return torch.cat(outs)


def build_planted_task(model, tokenizer, space, cfg: PlantedConfig, seed: int, collate) -> PlantedTask:
    """Plant, compute base and teacher features once, and return the prepared task."""
    if not hasattr(model, "config") or getattr(model.config, "num_hidden_layers", None) is None and \
            getattr(model.config, "n_layer", None) is None:
        raise InputError("the planted task needs a transformer backbone")
    rng = np.random.default_rng(seed)
    train = sample_inputs(tokenizer, cfg.n_train, cfg.seq_len, rng)
    dev = sample_inputs(tokenizer, cfg.n_dev, cfg.seq_len, rng)
    planted = choose_plants(space, cfg, seed)
    model.eval()
    calib = collate(train[:64])
    with torch.no_grad():
        n_blocks, d = pooled_blocks(model, calib).shape[1:]
    g = torch.Generator().manual_seed(30_000 + seed)
    proj = torch.randn(n_blocks, d, cfg.proj_dim, generator=g) / d ** 0.5
    objective = PlantedRegression(proj, torch.ones(n_blocks * cfg.proj_dim))
    base = {k: _features(model, objective, v, collate) for k, v in (("train", train), ("dev", dev))}
    handle = attach(model, space, planted, form="lora", seed=seed)
    plant_weights(model, handle, planted, calib, cfg.scale, seed)
    teacher = {k: _features(model, objective, v, collate) for k, v in (("train", train), ("dev", dev))}
    handle.detach()
    delta = {k: teacher[k] - base[k] for k in base}
    # scale each output by the spread of the *base* features: a block the teacher did not change
    # has target 0, and a student that changes it pays on the natural scale of that block
    objective.std.copy_(base["train"].std(0).clamp_min(1e-6))
    with torch.no_grad():  # head starts at the mean change: r2 ≈ 0 before any adapter learns
        objective.bias.copy_((delta["train"] / objective.std).mean(0))
    for split, data in (("train", train), ("dev", dev)):
        target = delta[split] / objective.std
        for i, f in enumerate(data):
            f["base"] = base[split][i]
            f["target"] = target[i]
    prepared = PreparedTask("planted", train, dev, collate, objective, head_params=objective.bias.numel())
    return PlantedTask(prepared, planted, cfg)
