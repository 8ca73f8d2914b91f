"""One training run over several processes with torch.distributed (data parallel, one host).

`launch` starts `nproc` ranks (gloo on CPU, nccl with one GPU per rank) and stays in the caller's
process as the relay: rank 0 sends its metrics here, which go to the caller's reporter (the
store, a terminal, a run folder), and a cancel from that reporter reaches every rank. Each rank
runs `train` on its share of every global batch: the loaders split each batch of `batch_size`
into `nproc` equal parts, DDP averages the gradients, so an update is the one a single process
would make on the whole batch, and linear scaling sees the global batch. BatchNorm is per rank
unless `sync_bn`. Validation is split the same way and its sums reduced. Rank 0 alone writes the
run folder. A rank that dies stops the run with its exit code; nothing reported is lost.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import socket
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from lrlab.core.errors import LrlabError
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


class _RankReporter:
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


class _TorchrunReporter:
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
    return rank, _TorchrunReporter(rank, reporter), f"cuda:{local}" if cuda else "cpu"


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


def _rank_main(rank: int, world: int, port: int, config: dict[str, Any],
               out_dir: str | None, messages: Any, stop: Any) -> None:
    import torch
    import torch.distributed as dist

    from lrlab.training.job import train

    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    cuda = torch.cuda.is_available() and config.get("device", "auto") in ("auto", "cuda")
    if cuda:  # one GPU per rank
        torch.cuda.set_device(rank)
    else:  # the ranks share the cores: oversubscribed threads would slow every rank down
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world,
                            timeout=timedelta(seconds=COLLECTIVE_TIMEOUT_S))
    me = Rank(rank, world)
    try:
        result = train({**config, "device": f"cuda:{rank}" if cuda else config["device"]},
                       _RankReporter(me, messages, stop),
                       Path(out_dir) if out_dir and rank == 0 else None, rank=me)
        if rank == 0:
            messages.put(("result", result))
    except LrlabError as exc:
        messages.put(("error", rank, str(exc)))
    except Exception:  # a bug: its trace goes to the relay's log, a sentence to the user
        messages.put(("crash", rank, traceback.format_exc()))
    finally:
        end_process_group(together=False)  # the relay collects every rank's end


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(config: Mapping[str, Any], reporter: Reporter, out_dir: Path | None) -> dict[str, Any]:
    """Run the (validated) config on `config["nproc"]` ranks; returns rank 0's result."""
    world = int(config["nproc"])
    if config["batch_size"] % world:
        raise LrlabError(f"batch_size: {config['batch_size']} does not split into {world} "
                         "equal parts (nproc); choose a multiple of nproc")
    ctx = mp.get_context("spawn")
    messages, stop = ctx.Queue(), ctx.Event()
    port = _free_port()
    ranks = [ctx.Process(target=_rank_main, daemon=True,
                         args=(r, world, port, dict(config),
                               None if out_dir is None else str(out_dir), messages, stop))
             for r in range(world)]
    for process in ranks:
        process.start()
    try:
        return _relay(ranks, messages, stop, reporter)
    finally:
        for process in ranks:
            if process.is_alive():
                process.terminate()
            process.join(timeout=10)


def _raise_if_dead(ranks: list[Any]) -> None:
    """A rank killed from outside (a signal, out of memory) is the cause, whatever follows."""
    for r, process in enumerate(ranks):
        if process.exitcode not in (None, 0):
            raise LrlabError(f"rank {r} of {len(ranks)} died (exit code {process.exitcode}); "
                             "the run was stopped")


def _relay(ranks: list[Any], messages: Any, stop: Any, reporter: Reporter) -> dict[str, Any]:
    """Forward rank 0's reports until its result arrives; a rank's error or death ends it."""
    while True:
        if reporter.should_stop():
            stop.set()
        _raise_if_dead(ranks)
        try:
            message = messages.get(timeout=0.2)
        except queue.Empty:
            if all(p.exitcode == 0 for p in ranks):
                raise LrlabError("the ranks ended without a result") from None
            continue
        kind = message[0]
        if kind == "result":
            return message[1]
        if kind in ("error", "crash"):  # a peer's death shows up as a rank's broken collective
            for process in ranks:
                process.join(timeout=2.0)
            _raise_if_dead(ranks)
        if kind == "error":
            raise LrlabError(f"rank {message[1]}: {message[2]}")
        if kind == "crash":
            raise LrlabError(f"rank {message[1]} failed: "
                             f"{message[2].strip().splitlines()[-1]}")
        getattr(reporter, kind)(*message[1:])
