"""Multi-process safety: two gloo processes train the in-training allocators data-parallel.

Rank 0 makes every allocation decision and broadcasts it, so both ranks apply identical masks
at every optimizer step, even when rank 1 would have scored the edges the other way round
(``--disagree``). The two-process run also follows the single-process run: each rank trains
on half of every batch and the gradients are summed over ranks."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("ddp_worker.py")
ALLOCATORS = ("salient", "adalora", "proxy-dynamic")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(out: Path, world: int, *flags):
    port, procs = _free_port(), []
    for r in range(world):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        if world > 1:
            env.update(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                       MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, str(WORKER), str(out), *flags], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        try:
            _, err = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise AssertionError("a distributed worker hung") from None
        assert p.returncode == 0, err[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(world)]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    return _launch(tmp_path_factory.mktemp("ddp"), 2, "--disagree")


@pytest.mark.slow  # starts two worker processes
@pytest.mark.parametrize("name", ALLOCATORS)
def test_both_ranks_apply_identical_masks_at_every_step(two_ranks, name):
    r0, r1 = two_ranks
    assert (r0["world"], r1["world"]) == (2, 2)
    a, b = r0[name], r1[name]
    assert len(a["masks"]) == 16
    assert a["masks"] == b["masks"]  # step by step: every mask, every zeroed λ
    assert a["final"] == b["final"]
    assert a["losses"] == b["losses"]  # reduced loss: the same on both ranks
    def live_ranks(signature):  # SVD forms record the masks, then which λ are zero
        masks = signature if name == "proxy-dynamic" else signature[: len(signature) // 2]
        return sum(map(sum, masks))
    assert live_ranks(a["masks"][-1]) < sum(len(m) for m in a["masks"][0])  # something was masked


@pytest.mark.slow  # starts worker processes
def test_two_processes_follow_the_single_process_run(two_ranks, tmp_path):
    (single,) = _launch(tmp_path, 1)
    assert single["world"] == 1
    for name in ALLOCATORS:
        one, two = single[name], two_ranks[0][name]
        # the first step's loss is the same full-batch mean; later steps drift only by float order
        assert two["losses"][0] == pytest.approx(one["losses"][0], rel=1e-5)
        assert two["losses"] == pytest.approx(one["losses"], rel=1e-3)


@pytest.mark.slow  # launches torchrun
def test_torchrun_search_writes_one_run_directory_from_rank_0(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", str(_free_port()), "-m", "rankscope.cli", "search",
                           "--model", "tiny-bert", "--allocator", "salient", "--max-steps", "12", "--quiet",
                           "--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["extras"]["world_size"] == 2 and result["status"] == "completed"
    assert (out / "adapter" / "adapter.safetensors").exists()
    assert proc.stdout.count("run directory:") == 1  # only rank 0 reports
    assert not list(tmp_path.glob(".*adapter*"))  # no rank left a staging directory behind


def test_the_outer_search_refuses_to_run_under_a_launcher(capsys, tmp_path, monkeypatch):
    from conftest import run_cli

    monkeypatch.setenv("WORLD_SIZE", "2")
    code, err = run_cli(capsys, "search", "--model", "tiny-bert", "--allocator", "optuna", "--max-steps", "4",
                        "--out", tmp_path / "r")
    assert code == 2 and "--workers" in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # launches torchrun
@pytest.mark.parametrize("allocator", ["adalora", "salient"])
def test_trainer_callback_under_torchrun_applies_rank_0s_masks(tmp_path, allocator):
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", str(_free_port()), str(WORKER.with_name("ddp_trainer_worker.py")),
                           str(tmp_path), allocator], env={**os.environ, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"trainer-rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == 2 and len(r0["masks"]) == 12  # once per optimizer step on each rank
    assert r0["masks"] == r1["masks"] and r0["final"] == r1["final"]
    assert r0["classifier"] == r1["classifier"]  # DDP kept the replicas identical under our masks
    n = len(r0["masks"][0]) // 2
    assert sum(map(sum, r0["masks"][-1][:n])) < sum(len(m) for m in r0["masks"][0][:n])
