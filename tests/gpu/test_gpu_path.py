"""Each CUDA-only line of lrlab, exercised with real jobs on a real GPU: fp16 with GradScaler in
the range test (skipped steps redone, state restored bit for bit), AMP with channels_last and
zero-γ in training, bf16, torch.compile, the on-device data path with pinned, non-blocking
copies, the worker's warm child holding a CUDA context, and nccl through the --nproc path."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from lrlab.core.reporting import NullReporter
from lrlab.finder.range_test import range_test
from lrlab.tasks.image.builders import build_network
from lrlab.tasks.image.config import validate_config
from lrlab.tasks.image.data import load_dataset, make_loader
from lrlab.training.job import train

SETUP = {"model": "small_cnn", "dataset": "digits", "epochs": 2, "batch_size": 64,
         "device": "cuda", "optimizer": {"lr": 0.4}}


def _state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    return {"model": copy.deepcopy(model.state_dict()),
            "optimizer": copy.deepcopy(optimizer.state_dict())}


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.device == b.device and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_fp16_range_test_redoes_skipped_steps_and_restores_everything(cuda) -> None:
    """A scale of 2^40 overflows fp16 gradients: GradScaler skips those updates, the range test
    redoes each at the same LR (the scale halves each time), and afterwards the weights, the
    optimizer state and the scaler are what they were, bit for bit."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 6 * 6, 10)).to(cuda)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    optimizer.step()  # a momentum buffer, so the optimizer's state is not empty
    scaler = torch.amp.GradScaler("cuda", init_scale=2.0**40)
    batches = [(torch.randn(32, 1, 8, 8, device=cuda), torch.randint(0, 10, (32,), device=cuda))
               for _ in range(4)]
    before, scale = _state(model, optimizer), scaler.get_scale()
    curve = range_test(model, optimizer, batches, criterion=nn.CrossEntropyLoss(),
                       start_lr=1e-4, end_lr=1e-1, num_points=20, precision="fp16",
                       grad_scaler=scaler, diverge_threshold=1e9)
    assert curve.skipped_steps > 0
    assert len(curve.losses) == 20 and all(math.isfinite(v) for v in curve.losses)
    assert _same(before, _state(model, optimizer))
    assert scaler.get_scale() == scale


def test_amp_training_with_channels_last_and_zero_gamma(cuda) -> None:
    """The default precision on CUDA is fp16 with loss scaling; the network is in channels_last
    and each residual branch's last BatchNorm starts at γ = 0; the run learns."""
    cfg = validate_config({**SETUP, "model": "resnet18", "width": 8, "variant": "D"})
    dataset = load_dataset("digits")
    model, memory_format, _ = build_network(cfg, dataset, cuda)
    assert memory_format == torch.channels_last
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    last_bn = [m.bn2.weight for m in model.modules() if hasattr(m, "bn2")]
    assert last_bn and all(not w.any() for w in last_bn)
    result = train(cfg)
    assert result["environment"]["precision"] == "fp16"
    assert result["environment"]["device"].startswith("GPU")
    assert result["summary"]["final_val_top1"] > 0.5


def test_bf16_training_on_the_gpu() -> None:
    result = train({**SETUP, "precision": "bf16"})
    assert result["environment"]["precision"] == "bf16"
    assert math.isfinite(result["summary"]["final_val_loss"])
    assert result["summary"]["final_val_top1"] > 0.5


def test_torch_compile_when_asked() -> None:
    """compile: true trains the compiled model, to the same accuracy band as eager."""
    eager = train(SETUP)["summary"]["final_val_top1"]
    compiled = train({**SETUP, "compile": True})["summary"]["final_val_top1"]
    assert compiled > 0.5 and abs(compiled - eager) < 0.1


def test_the_data_path_lives_on_the_gpu(cuda) -> None:
    """The set is copied to the GPU once (pinned, non-blocking) and batched there: every batch is
    on the GPU and equals, value for value, the batch the CPU loader makes with the same seed."""
    dataset = load_dataset("digits")
    on_gpu = make_loader(dataset, "train", 128, device=cuda, seed=3)
    on_cpu = make_loader(dataset, "train", 128, device="cpu", seed=3)
    assert on_gpu.x.device.type == "cuda" and on_gpu.y.device.type == "cuda"
    for (x_gpu, y_gpu), (x_cpu, y_cpu) in zip(on_gpu, on_cpu, strict=True):
        assert x_gpu.device.type == "cuda" and y_gpu.device.type == "cuda"
        assert torch.equal(y_gpu.cpu(), y_cpu)
        torch.testing.assert_close(x_gpu.cpu(), x_cpu, rtol=1e-5, atol=1e-5)


def test_one_nccl_rank_through_the_nproc_path(tmp_path: Path) -> None:
    """The --nproc launcher with one rank on the GPU: a process group on nccl, DDP, rank 0's
    report relayed back, and the run folder written."""
    from lrlab.training.distributed import launch

    cfg = validate_config({**SETUP, "epochs": 1})
    result = launch({**cfg, "nproc": 1}, NullReporter(), tmp_path / "run")
    assert result["environment"]["device"].startswith("GPU")
    assert result["summary"]["steps"] > 0
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def _cuda_processes() -> set[int]:
    import subprocess

    out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader"],
                         capture_output=True, text=True, check=True).stdout
    return {int(line) for line in out.split() if line.strip().isdigit()}


@pytest.mark.timeout(300)
def test_the_warm_child_holds_a_cuda_context_and_starts_a_job_within_a_second(
        tmp_path: Path) -> None:
    """The worker's waiting child sets up CUDA before any job arrives; a range test handed to
    it reports its first point within a second of being claimed."""
    from jobs_helpers import WorkerProcess, wait_finished, wait_for

    from lrlab.jobs import kinds
    from lrlab.store import Store

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with Store(url) as store:
        worker = WorkerProcess(url, tmp_path, tmp_path / "worker.log", "--device", "cuda")
        try:
            warm = wait_for(lambda: set(worker.spawned_children()) & _cuda_processes(),
                            "the waiting child to hold a CUDA context")
            job_id = kinds.submit(store, "find", {"setup": {**SETUP, "device": "auto"},
                                                  "num_points": 30})
            job = wait_finished(store, job_id)
            assert job.status == "succeeded", job.error
            assert worker.job_process(job_id) in warm
            first = store.metrics_since(job_id, 0, limit=1)[0]
            assert first.time - job.started < 1.0, worker.log()
        finally:
            worker.stop()


def test_a_task_trains_and_sweeps_in_fp16_on_the_gpu(cuda) -> None:
    """A task's run on CUDA: fp16 with GradScaler by default, its dict batches moved to the
    device, and its range test sweeping in fp16 too."""
    from lrlab.finder.job import run_from_config

    setup = {"task": {"spec": "examples.tabular:build"}, "epochs": 5, "device": "cuda",
             "optimizer": {"name": "adam", "lr": 0.003, "weight_decay": 0.0}}
    result = train(setup)
    assert result["environment"]["precision"] == "fp16"
    assert result["environment"]["device"].startswith("GPU")
    assert result["summary"]["final_objective"] > 0.9  # val accuracy on breast cancer
    found = run_from_config({"setup": setup, "num_points": 60}, NullReporter())
    assert found["environment"]["precision"] == "fp16" and found["suggestions"]["consensus"]
