"""A run folder any host can read: a worker on "host A" (its own LRLAB_HOME) keeps it under a
shared artifact root; the app on "host B" (another LRLAB_HOME) reads the checkpoint through the
URL in the job's result. Without a shared root, host B is told why it cannot."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from jobs_helpers import WorkerProcess, wait_finished, wait_for

from lrlab.core.artifacts import read_bytes, run_url, upload
from lrlab.core.errors import LrlabError
from lrlab.store import Store

pytestmark = pytest.mark.timeout(240)

TINY_TRAIN = {"model": "small_cnn", "width": 8, "dataset": "synthetic", "limit": 240,
              "batch_size": 32, "device": "cpu", "epochs": 1}


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[tuple[Store, Path, Path, Path]]:
    a, b, shared = tmp_path / "host-a", tmp_path / "host-b", tmp_path / "shared-runs"
    for folder in (a, b, shared):
        folder.mkdir()
    with Store(f"sqlite:///{tmp_path / 'jobs.db'}") as store:
        yield store, a, b, shared


def _run_on_host_a(store: Store, home: Path, *extra: str) -> dict:
    worker = WorkerProcess(store.url, home, home / "worker.log", *extra)
    try:
        wait_for(store.live_workers, "the worker on host A to register")
        job = wait_finished(store, store.submit("train", TINY_TRAIN))
        assert job.status == "succeeded", job.error
        return job.result
    finally:
        assert worker.stop() == 0, worker.log()


def test_a_shared_root_lets_another_host_read_the_checkpoint(hosts, monkeypatch) -> None:
    store, a, b, shared = hosts
    result = _run_on_host_a(store, a, "--artifacts", shared.as_uri())
    assert result["artifacts"].startswith(shared.as_uri() + "/")
    assert not (a / "runs").exists()  # nothing kept on host A itself
    monkeypatch.setenv("LRLAB_HOME", str(b))  # now read as host B
    monkeypatch.delenv("LRLAB_ARTIFACTS", raising=False)
    payload = torch.load(io.BytesIO(read_bytes(result["artifacts"], "checkpoint.pt")),
                         weights_only=True)
    assert payload["config"]["model"] == "small_cnn"


def test_without_a_shared_root_the_other_host_is_told_why(hosts, monkeypatch) -> None:
    store, a, b, _ = hosts
    result = _run_on_host_a(store, a)
    assert result["artifacts"] == (a / "runs").resolve().as_uri() + f"/{result_id(result)}"
    monkeypatch.setenv("LRLAB_HOME", str(b))
    # Host B cannot see host A's disk here: stand that in by removing it.
    moved = a.rename(a.with_name("host-a-unreachable"))
    with pytest.raises(LrlabError, match=r"checkpoint\.pt: not readable from this host"):
        read_bytes(result["artifacts"], "checkpoint.pt")
    assert moved.exists()


def result_id(result: dict) -> str:
    return result["artifacts"].rsplit("/", 1)[1]


def test_storage_that_is_not_a_path_gets_the_folder_uploaded(tmp_path: Path) -> None:
    folder = tmp_path / "staged"
    folder.mkdir()
    (folder / "summary.json").write_text('{"ok": true}')
    (folder / "checkpoint.pt").write_bytes(b"weights")
    upload(folder, "memory://lrlab-runs/7")
    assert read_bytes("memory://lrlab-runs/7", "checkpoint.pt") == b"weights"
    assert run_url(7, "memory://lrlab-runs/") == "memory://lrlab-runs/7"
