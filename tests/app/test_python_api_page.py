"""A range test started from Python (a notebook, a script) and shown by the LR Finder page while
it runs and once it has ended: the same store, no worker involved."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from app_helpers import run_page
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrlab
from lrlab.store import Store

pytestmark = pytest.mark.timeout(300)


def wait_for(predicate, what: str, patience_s: float = 90.0):
    """Poll until predicate() is truthy; fail naming what never happened."""
    deadline = time.monotonic() + patience_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)  # condition-wait
    return value


def build(seed: int = 0) -> lrlab.Task:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 32, generator=g)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 2))
    return lrlab.Task(model=model, train=DataLoader(TensorDataset(x, y), batch_size=16),
                      val=DataLoader(TensorDataset(x[:64], y[:64]), batch_size=64))


def test_a_notebooks_range_test_is_on_the_page_live_then_with_its_advice(
        store: Store, figure) -> None:
    slow = threading.Event()  # the sweep waits here once it has points, so the page sees it live

    class Hold:
        def step(self, step: int, metrics: dict) -> None:
            if step == 20:
                slow.wait(60)

        def epoch(self, epoch: int, metrics: dict) -> None: ...
        def progress(self, fraction: float, message: str = "") -> None: ...
        def should_stop(self) -> bool:
            return False

    found: dict = {}
    sweep = threading.Thread(target=lambda: found.update(lrlab.find(
        build, optimizer="adam", weight_decay=0.0, epochs=2, num_points=80, reporter=Hold())))
    sweep.start()
    try:
        wait_for(lambda: [m for j in store.list_jobs(None) for m in store.metrics_since(j.id)
                          if m.key == "loss" and m.step >= 19], "the first 20 points")
        (job,) = store.list_jobs(None)
        live = run_page("lr_finder.py", {"job": str(job.id)})
        assert any(f"Range test #{job.id}" in h.value and "running" in h.value
                   for h in live.subheader)
        points = figure(live)["data"][0]["y"]
        assert len(points) >= 20  # the notebook's points, drawn while it sweeps
    finally:
        slow.set()
        sweep.join(timeout=120)
    ended = run_page("lr_finder.py", {"job": str(found["job"])})
    assert any("Suggested LR" in m.label for m in ended.metric)
    assert ended.button(key="finder.check") is not None  # "Check this advice" offered
