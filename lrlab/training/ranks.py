"""Where a process stands in a data-parallel run: its rank, the collectives training needs, and
the reporters through which only rank 0 reports while every rank stops at the same step."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lrlab.core.reporting import Reporter

COLLECTIVE_TIMEOUT_S = 120  # a rank that stops answering fails the others' collectives


@dataclass(frozen=True)
class Rank:
    """Where this process stands in the run, with the collectives `train` needs."""

    rank: int
    world: int

    def all_sum(self, tensor: Any) -> Any:
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def mean(self, value: float) -> float:
        import torch

        return float(self.all_sum(torch.tensor([value], dtype=torch.float64))[0]) / self.world

    def any(self, flag: bool) -> bool:
        import torch

        return bool(self.all_sum(torch.tensor([1.0 if flag else 0.0]))[0] > 0)


class RankReporter:
    """A rank's reporter: rank 0 forwards to the relay, all ranks stop together."""

    def __init__(self, rank: Rank, messages: Any, stop: Any) -> None:
        self.rank, self.messages, self.stop = rank, messages, stop

    def _send(self, *message: Any) -> None:
        if self.rank.rank == 0:
            self.messages.put(message)

    def step(self, step: int, metrics: Mapping[str, float]) -> None:
        self._send("step", step, dict(metrics))

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self._send("epoch", epoch, dict(metrics))

    def progress(self, fraction: float, message: str = "") -> None:
        self._send("progress", fraction, message)

    def should_stop(self) -> bool:
        # Collective: every rank leaves at the same step, or the others would wait in the
        # next gradient all-reduce until the timeout.
        return self.rank.any(self.stop.is_set())


class TorchrunReporter:
    """Under torchrun: rank 0 reports to the run's own reporter; every rank stops together."""

    def __init__(self, rank: Rank, inner: Reporter) -> None:
        self.rank, self.inner = rank, inner

    def step(self, step: int, metrics: Mapping[str, float]) -> None:
        if self.rank.rank == 0:
            self.inner.step(step, metrics)

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        if self.rank.rank == 0:
            self.inner.epoch(epoch, metrics)

    def progress(self, fraction: float, message: str = "") -> None:
        if self.rank.rank == 0:
            self.inner.progress(fraction, message)

    def should_stop(self) -> bool:
        return self.rank.any(self.inner.should_stop())


def torchrun_rank(reporter: Reporter) -> tuple[Rank, Reporter, str] | None:
    """This process's rank when torchrun started it (several hosts: torchrun's --nnodes and
    --rdzv-endpoint), with the process group up, its reporter and its device; else None."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world < 2 or "RANK" not in os.environ:
        return None
    import torch
    import torch.distributed as dist

    cuda = torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo",
                                timeout=timedelta(seconds=COLLECTIVE_TIMEOUT_S))
    rank = Rank(dist.get_rank(), dist.get_world_size())
    return rank, TorchrunReporter(rank, reporter), f"cuda:{local}" if cuda else "cpu"


def end_process_group(together: bool) -> None:
    """Tear the process group down before the process exits; with `together`, once every rank
    has got here. Under torchrun a rank that exited while another still worked (rank 0 writing
    the run folder) could abort at exit, "terminate called without an active exception"
    (SIGABRT): on 2 loaded cores 1 run in 8 with neither, 3 in 14 with the group destroyed
    alone, 0 in 28 with both."""
    import torch.distributed as dist

    if dist.is_initialized():
        if together:
            dist.barrier()
        dist.destroy_process_group()
