"""Build the planted teacher, its data and its regression objective."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from rankscope.adapters.attach import attach
from rankscope.allocation.allocation import Allocation
from rankscope.errors import InputError
from rankscope.harness.data import PreparedTask
from rankscope.space.trace import capture_sites
from rankscope.tasks.planted.stream import (
    inlier_rows,
    is_pre_ln,
    rms_normalise,
    robust_rms,
    stream_sites,
)


@dataclass
class PlantedConfig:
    """The task's knobs (``[planted]`` in a config file). Calibration status, measured ratios and
    the commands behind them: docs/results/planted.md, "Calibration".

    Defaults: 3 plants of rank 32 (the first design planted ranks {2, 4, 8}). In the ``shortcuts`` space a
    block has about ten edges reading and writing the residual stream, so at the planted budget
    (≈ uniform rank 1.25) uniform gives every block ≈ 12 ranks side by side, enough to emulate
    small plants. Few, concentrated, high-rank plants are what uniform cannot emulate: measured
    error ratios (oracle/uniform, 150–200 steps) 6×r8: 0.90, 6×r16: 0.83, 3×r32: 0.60."""

    n_plants: int = 3
    shortcut_share: float = 0.5
    ranks: tuple = (32,)
    scale: float = 0.5
    seq_len: int = 32
    n_train: int = 1024
    n_dev: int = 512
    proj_dim: int = 16
    targets: str = "tokens"  # "tokens": every token's features; "pooled": mean over tokens (the first design)

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


def sample_inputs(tokenizer, n: int, seq_len: int, rng: np.random.Generator, fixed: bool = False) -> list[dict]:
    """Random token sequences (lengths seq_len/2..seq_len, or exactly seq_len when ``fixed``)
    wrapped in the model's special tokens."""
    special = set(tokenizer.all_special_ids)
    lo = min(1000, tokenizer.vocab_size // 10)
    pool = np.array([i for i in range(lo, tokenizer.vocab_size) if i not in special])
    # the special tokens the tokenizer wraps text in (e.g. [CLS] … [SEP], or <bos> …)
    probe = tokenizer("a")["input_ids"]
    head = [t for t in probe[:2] if t in special][:1] if probe and probe[0] in special else []
    tail = [probe[-1]] if len(probe) > 1 and probe[-1] in special else []
    out = []
    for _ in range(n):
        length = seq_len if fixed else rng.integers(seq_len // 2, seq_len + 1)
        ids = pool[rng.integers(0, len(pool), length)].tolist()
        full = head + ids + tail
        out.append({"input_ids": full, "attention_mask": [1] * len(full)})
    return out


def _orthonormal(rows, cols, gen):
    q, _ = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols), generator=gen))
    return q[:rows, :cols] if rows >= cols else q[:cols, :rows].T


def _token_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real (unpadded) tokens: x [b, t, ...], mask [b, t] → [b, ...]."""
    m = mask.reshape(*mask.shape, *([1] * (x.dim() - 2))).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp_min(1)


def _principal_directions(x: torch.Tensor, mask: torch.Tensor, rank: int, pooled: bool,
                          robust: bool = False) -> torch.Tensor:
    """Whitened top-``rank`` principal directions of the activations ``x`` [b, t, d] (of their
    token mean when ``pooled``): rows v_i / σ_i, so every component of A·x has unit variance.
    ``robust``: of the inlier tokens only (:func:`~.stream.inlier_rows`; pre-LN models)."""
    rows = _token_mean(x, mask) if pooled else inlier_rows(x, mask) if robust else x[mask.bool()]
    rows = rows - rows.mean(0)
    _, s, vh = torch.linalg.svd(rows, full_matrices=False)
    return vh[:rank] / (s[:rank, None] / rows.shape[0] ** 0.5).clamp_min(1e-6)


def plant_weights(model, handle, planted: Allocation, calib_inputs: dict, scale: float, seed: int,
                  pooled: bool = False, prenorm: bool = False):
    """Set each planted edge to ΔW = c · U Σ⁻¹ Vᵀ: V the top principal directions of the edge's
    (pooled) input, Σ their spreads, U a random orthonormal basis, c chosen so that
    RMS(Δ(x_src)) = scale · RMS(y_dst) on a calibration batch. With ``prenorm`` (pre-LN models,
    :mod:`.stream`): RMS(Δ) = scale · RMS(h_in) of the stream the edge writes into, where it
    writes into one, every RMS the median per-token RMS, and V from the inlier tokens.

    Whitening matters: with random V, the variation of ΔW·x̄ across examples follows the input's
    decaying spectrum and is nearly rank one whatever the planted rank, so rank-1 uniform edges
    reproduce it. Along whitened principal directions, each of the r components carries equal
    variance and a rank-k student (k < r) can reproduce at most k/r of it."""
    gen = torch.Generator().manual_seed(20_000 + seed)
    space = planted.space
    streams = stream_sites(model, space, handle.adapters) if prenorm else {}
    sites = {s for i in handle.adapters for s in (space.edge(i).src, space.edge(i).dst)}
    acts = capture_sites(model, sites | {s for s in streams.values() if s}, calib_inputs)
    acts = {k: v.float() for k, v in acts.items()}  # a bfloat16 base (--dtype): plants are set in float32
    mask = calib_inputs["attention_mask"]
    rms = (lambda t: robust_rms(t, mask)) if prenorm else (lambda t: t.pow(2).mean().sqrt())
    with torch.no_grad():
        for eid, a in handle.adapters.items():
            e = space.edge(eid)
            a.A.copy_(_principal_directions(acts[e.src], mask, a.rank, pooled, robust=prenorm))
            a.B.copy_(_orthonormal(e.d_out, a.rank, gen))
            delta = (acts[e.src] @ a.A.T) * a.scale @ a.B.T
            ref = acts[streams.get(eid) or e.dst]
            a.B.mul_(scale * rms(ref) / rms(delta).clamp_min(1e-12))


def block_features(model, batch, pooled: bool, normalise: bool = False) -> torch.Tensor:
    """Hidden state of every block: [batch, n_blocks, d] mean-pooled over tokens, or
    [batch, tokens, n_blocks, d] per token; ``normalise``: each token's state divided by its
    RMS first (pre-LN streams as a norm reads them, :mod:`.stream`)."""
    inputs = {k: batch[k] for k in ("input_ids", "inputs_embeds") if k in batch}  # SynFlow feeds embeddings
    out = model(**inputs, attention_mask=batch["attention_mask"], output_hidden_states=True)
    hs = torch.stack(out.hidden_states[1:], -2).float()  # drop the embeddings: [b, t, L, d]; float32 targets
    hs = rms_normalise(hs) if normalise else hs
    return _token_mean(hs, batch["attention_mask"]) if pooled else hs


class PlantedRegression(torch.nn.Module):
    """Objective: predict the teacher's projected feature change; metric r2 (variance-weighted).

    Features are every block's hidden state, per token ([b, t, L·k]) or mean-pooled ([b, L·k]),
    under fixed random projections ``proj`` [L, d, k]. Its only trainable parameter is a
    per-output ``bias`` (the task head, L·k parameters): it absorbs the mean shift of the planted
    change, so r2 ≈ 0 with no adapter and r2 measures how much of the *structured* change the
    adapters reproduce. ``normalise`` (pre-LN models): features of the RMS-normalised streams.
    """

    primary = "r2"
    greater_is_better = True

    def __init__(self, proj: torch.Tensor, std: torch.Tensor, pooled: bool, normalise: bool = False):
        super().__init__()
        self.pooled, self.normalise = pooled, normalise
        self.register_buffer("proj", proj)  # [L, d, k]
        self.register_buffer("std", std)  # [L·k]
        self.bias = torch.nn.Parameter(torch.zeros(std.numel()))

    def features(self, model, batch) -> torch.Tensor:
        h = block_features(model, batch, self.pooled, self.normalise)
        return torch.einsum("...ld,ldk->...lk", h, self.proj).flatten(-2)

    def forward(self, model, batch):
        pred = (self.features(model, batch) - batch["base"]) / self.std + self.bias
        return torch.nn.functional.mse_loss(pred, batch["target"]), pred.detach(), batch["target"]

    def metrics(self, preds, targets):
        """Pooled r2 = 1 − ΣSSE / ΣSST over every output (and token). Unlike sklearn's per-output
        averages it also charges errors on outputs the teacher did not change (blocks before
        every plant)."""
        preds, targets = preds.reshape(-1, preds.shape[-1]), targets.reshape(-1, targets.shape[-1])
        sse = float(((preds - targets) ** 2).sum())
        sst = float(((targets - targets.mean(0)) ** 2).sum())
        return {"r2": 1.0 - sse / sst if sst > 0 else float("nan"), "mse": float(((preds - targets) ** 2).mean())}


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
            outs.append(objective.features(model, b))
    return torch.cat(outs)


def _teacher_tensors(model, space, planted, train, dev, cfg: PlantedConfig, seed: int, collate) -> dict:
    """The expensive part: plant the teacher, run base and teacher over both splits, and derive
    the scaled targets. Returns ``proj``, ``std``, ``bias`` and ``{base,target}_{train,dev}``."""
    pooled, prenorm = cfg.targets == "pooled", is_pre_ln(model)
    model.eval()
    calib = collate(train[:256])
    with torch.no_grad():
        n_blocks, d = block_features(model, calib, pooled=True).shape[1:]
    g = torch.Generator().manual_seed(30_000 + seed)
    proj = torch.randn(n_blocks, d, cfg.proj_dim, generator=g) / d ** 0.5
    objective = PlantedRegression(proj, torch.ones(n_blocks * cfg.proj_dim), pooled, prenorm)
    base = {k: _features(model, objective, v, collate) for k, v in (("train", train), ("dev", dev))}
    handle = attach(model, space, planted, form="lora", seed=seed)
    plant_weights(model, handle, planted, calib, cfg.scale, seed, pooled, prenorm)
    teacher = {k: _features(model, objective, v, collate) for k, v in (("train", train), ("dev", dev))}
    handle.detach()
    delta = {k: teacher[k] - base[k] for k in base}
    # scale each output by the spread of the *base* features: a block the teacher did not change
    # has target 0, and a student that changes it pays on the natural scale of that block
    flat = lambda t: t.reshape(-1, t.shape[-1])  # noqa: E731  (tokens, if any, join the batch)
    std = flat(base["train"]).std(0).clamp_min(1e-6)
    out = {"proj": proj, "std": std, "bias": flat(delta["train"] / std).mean(0)}
    for split in ("train", "dev"):
        out[f"base_{split}"], out[f"target_{split}"] = base[split], delta[split] / std
    return out


def build_planted_task(model, tokenizer, space, cfg: PlantedConfig, seed: int, collate, cache=None,
                       key: str | None = None) -> PlantedTask:
    """Plant, compute base and teacher features once, and return the prepared task. With a
    :class:`~rankscope.tasks.planted.cache.PlantedCache` and the task's ``key``, the teacher's tensors
    are read from the cache when present, and written to it when not."""
    if not hasattr(model, "config") or getattr(model.config, "num_hidden_layers", None) is None and \
            getattr(model.config, "n_layer", None) is None:
        raise InputError("the planted task needs a transformer backbone")
    rng = np.random.default_rng(seed)
    if cfg.targets not in ("tokens", "pooled"):
        raise InputError(f"[planted] targets must be 'tokens' or 'pooled', got {cfg.targets!r}")
    pooled = cfg.targets == "pooled"
    # per-token targets need equal lengths so they stack; pooled ones keep varied lengths
    train = sample_inputs(tokenizer, cfg.n_train, cfg.seq_len, rng, fixed=not pooled)
    dev = sample_inputs(tokenizer, cfg.n_dev, cfg.seq_len, rng, fixed=not pooled)
    planted = choose_plants(space, cfg, seed)
    tensors = cache.get_tensors(key) if cache is not None and key else None
    if tensors is None:
        tensors = _teacher_tensors(model, space, planted, train, dev, cfg, seed, collate)
        if cache is not None and key:
            cache.put_tensors(key, tensors)
    objective = PlantedRegression(tensors["proj"], tensors["std"].clone(), pooled, is_pre_ln(model))
    with torch.no_grad():  # head starts at the mean change: r2 ≈ 0 before any adapter learns
        objective.bias.copy_(tensors["bias"])
    for split, data in (("train", train), ("dev", dev)):
        base, target = tensors[f"base_{split}"], tensors[f"target_{split}"]
        for i, f in enumerate(data):
            f["base"] = base[i]
            f["target"] = target[i]
    prepared = PreparedTask("planted", train, dev, collate, objective, head_params=objective.bias.numel())
    return PlantedTask(prepared, planted, cfg)
