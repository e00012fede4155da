"""Several processes, one allocation: data-parallel training and rank-0 decisions.

Under ``torch.distributed`` (``torchrun``, ``accelerate launch``, or a process group you
initialised yourself) every process trains the same model on its share of each batch, and every
allocation decision — a proposal, a prune, a mask, an on/off toggle — is made ONCE, on rank 0,
and broadcast. Every rank then applies the identical masks. (HeteroLoRA's code let each rank
score and toggle on its own; float noise or a different data shard then splits the model into
W different allocations that all-reduce their gradients into each other.)

The harness's data parallelism, per optimizer step with world size W::

    global batch (identical on every rank: same seeded order) → rank r takes rows r, r+W, r+2W, …
    loss_r = mean task loss over its n_r rows · n_r / n   +   orth_reg · R / W
    backward; all-reduce(sum) of every trainable gradient → exactly the single-process gradient
    of  mean task loss over the n rows + orth_reg · R  (up to float summation order)

so W processes follow the single-process run step for step, and every rank's parameters stay
identical. Evaluation runs the whole dev set on every rank (identical metrics; no gather needed).
Only rank 0 writes files. Nothing here pickles: JSON travels as a byte tensor.
"""

from __future__ import annotations

import json
import os
from typing import Callable

import torch

from rankscope.errors import InputError


def _dist():
    import torch.distributed as dist

    return dist


def active() -> bool:
    """True inside an initialised process group with more than one process."""
    dist = _dist()
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return _dist().get_rank() if active() else 0


def world_size() -> int:
    return _dist().get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0, or the only process: the one that writes files and prints reports."""
    return rank() == 0


def launched() -> bool:
    """The environment of a multi-process launcher (torchrun / accelerate launch set these)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str = "cpu") -> str:
    """Join the process group a launcher prepared (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``; NCCL for CUDA, gloo for CPU) and return this process's device
    (``cuda:LOCAL_RANK`` for CUDA). Outside a launcher: nothing happens, ``device`` is returned."""
    if not launched():
        return device
    dist = _dist()
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise InputError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {', '.join(missing)} not set: start "
                         "several processes with `torchrun --nproc-per-node N` or `accelerate launch`")
    cuda = str(device).startswith("cuda")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return device


def _comm_device() -> torch.device:
    """NCCL moves CUDA tensors only; gloo CPU tensors."""
    if _dist().get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def rank0_decides(decide: Callable[[], torch.Tensor], shape, dtype=torch.bool) -> torch.Tensor:
    """``decide()`` on rank 0 only; every rank returns rank 0's tensor (``shape``, ``dtype``).

    A single process simply returns ``decide()``. Booleans travel as uint8 (not every backend
    carries bool)."""
    if not active():
        return decide()
    wire = torch.uint8 if dtype == torch.bool else dtype
    dev = _comm_device()
    if is_main():
        out = decide()
        if tuple(out.shape) != tuple(shape):
            raise RuntimeError(f"rank 0's decision has shape {tuple(out.shape)}, expected {tuple(shape)}")
        buf = out.to(device=dev, dtype=wire).contiguous()
    else:
        buf = torch.empty(tuple(shape), dtype=wire, device=dev)
    _dist().broadcast(buf, src=0)
    return buf.to(device="cpu", dtype=dtype)


def broadcast_json(obj=None):
    """Rank 0's JSON-serialisable ``obj`` on every rank (length, then UTF-8 bytes; no pickle)."""
    if not active():
        return obj
    dist, dev = _dist(), _comm_device()
    data = json.dumps(obj).encode() if is_main() else b""
    size = torch.tensor([len(data)], dtype=torch.int64, device=dev)
    dist.broadcast(size, src=0)
    buf = (torch.frombuffer(bytearray(data), dtype=torch.uint8).to(dev) if is_main()
           else torch.empty(int(size.item()), dtype=torch.uint8, device=dev))
    dist.broadcast(buf, src=0)
    return json.loads(bytes(buf.cpu().tolist()).decode())


def shard(batch: dict) -> tuple[dict, int, int]:
    """This rank's rows of a collated batch: ``(rows r::W, n_r, n)``."""
    n = next(iter(batch.values())).shape[0]
    if not active():
        return batch, n, n
    r, w = rank(), world_size()
    local = {k: v[r::w] for k, v in batch.items()}
    return local, next(iter(local.values())).shape[0], n


def all_reduce_sum_(tensors: list[torch.Tensor]) -> None:
    """In place: every tensor becomes its sum over the ranks (one flat all-reduce)."""
    if not active() or not tensors:
        return
    dev = _comm_device()
    flat = torch.cat([t.reshape(-1).to(dev) for t in tensors])
    _dist().all_reduce(flat)
    i = 0
    for t in tensors:
        t.copy_(flat[i:i + t.numel()].view_as(t).to(t.device))
        i += t.numel()


def reduce_gradients(params: list[torch.nn.Parameter]) -> None:
    """Sum every trainable parameter's gradient over the ranks. A parameter that saw no data on
    this rank (an empty shard) contributes zeros, so every rank reduces the same list."""
    if not active():
        return
    live = [p for p in params if p.requires_grad]
    for p in live:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    all_reduce_sum_([p.grad for p in live])


def refuse(what: str) -> None:
    """An InputError for features that cannot run data-parallel (say what to do instead), under a
    launcher (checked before joining its group) or inside an initialised process group."""
    if launched() or active():
        raise InputError(f"{what} does not run under torchrun / accelerate launch / torch.distributed")


def refuse_gradient_sharding(args, allocator: str) -> None:
    """An InputError when the Trainer's ``args`` shard gradients (:func:`gradient_sharding`): an
    in-training allocator reads every adapter's full weights and gradients at each step."""
    if (sharding := gradient_sharding(args)) is not None:
        raise InputError(
            f"{sharding} keeps only a shard of each gradient and weight in every process, but the in-training "
            f"allocator {allocator!r} reads every adapter's full gradients and weights at each optimizer step. "
            "Train it under DDP (torchrun or accelerate launch without DeepSpeed ZeRO-2/3 or FSDP), or plan with a "
            "before-training allocator (rankscope plan) and train that plan under ZeRO or FSDP")


def gradient_sharding(args) -> str | None:
    """What shards the gradients across processes in a ``transformers`` Trainer's arguments:
    ``"FSDP"``, ``"DeepSpeed ZeRO-2"`` / ``"ZeRO-3"`` (each process then holds only a slice of every
    gradient after the step), or ``None`` (DDP, ZeRO-1 or one process: full gradients everywhere).
    A DeepSpeed stage of ``"auto"`` counts as sharded: it may resolve to 2 or 3."""
    if getattr(args, "fsdp", None):  # a non-empty list or string of FSDP options turns it on
        return "FSDP"
    config = getattr(args, "deepspeed", None)
    if not config:
        return None
    if isinstance(config, (str, os.PathLike)):
        try:
            with open(config) as f:
                config = json.load(f)
        except (OSError, ValueError):
            return "DeepSpeed (its config could not be read, so its ZeRO stage is unknown)"
    stage = (config.get("zero_optimization") or {}).get("stage", 0) if isinstance(config, dict) else 0
    return f"DeepSpeed ZeRO-{stage}" if stage in (2, 3) else "DeepSpeed ZeRO (stage auto)" if stage == "auto" else None
