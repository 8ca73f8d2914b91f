"""One training run over several processes with torch.distributed (data parallel, one host).

`launch` starts `nproc` ranks (gloo on CPU, nccl with one GPU per rank) and stays in the caller's
process as the relay: rank 0 sends its metrics here, which go to the caller's reporter (the
store, a terminal, a run folder), and a cancel from that reporter reaches every rank. Each rank
runs the run (the image run, or a task's) on its share of every global batch: the loaders split
each batch into `nproc` equal parts, DDP averages the gradients, so an update is the one a
single process would make on the whole batch, and linear scaling sees the global batch.
BatchNorm is per rank unless `sync_bn`. Image validation is split the same way and its sums
reduced. Rank 0 alone writes the run folder. A rank that dies stops the run with its exit code;
nothing reported is lost.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import socket
import traceback
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import Reporter
from lrlab.training.ranks import COLLECTIVE_TIMEOUT_S, Rank, RankReporter, end_process_group
from lrlab.training.run import run_one

RunOne = Callable[..., dict[str, Any]]  # (config, reporter, out_dir, *, rank) -> result


def _rank_main(rank: int, world: int, port: int, config: dict[str, Any],
               out_dir: str | None, messages: Any, stop: Any, run: RunOne) -> None:
    import torch
    import torch.distributed as dist

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
        result = run({**config, "device": f"cuda:{rank}" if cuda else config["device"]},
                     RankReporter(me, messages, stop),
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


def launch(config: Mapping[str, Any], reporter: Reporter, out_dir: Path | None,
           run: RunOne = run_one) -> dict[str, Any]:
    """Run the (validated) config on `config["nproc"]` ranks, each rank calling `run` (a
    module-level function: the ranks are spawned); returns rank 0's result."""
    world = int(config["nproc"])
    if "batch_size" in config and config["batch_size"] % world:
        raise LrlabError(f"batch_size: {config['batch_size']} does not split into {world} "
                         "equal parts (nproc); choose a multiple of nproc")
    ctx = mp.get_context("spawn")
    messages, stop = ctx.Queue(), ctx.Event()
    port = _free_port()
    ranks = [ctx.Process(target=_rank_main, daemon=True,
                         args=(r, world, port, dict(config),
                               None if out_dir is None else str(out_dir), messages, stop, run))
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
