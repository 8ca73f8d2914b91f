"""Curves from other tools, read as those tools wrote them. torch-lr-finder and Lightning run for
real on digits; their stored (EMA-smoothed) curves go through `lrlab analyze`, and the imported
curve's own-tool suggestion must equal the tool's own answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lrlab.finder.curves import curve_from_mapping
from lrlab.finder.importers import analyze_imported
from lrlab.tasks.image.data import load_dataset, make_loader
from lrlab.tasks.image.models import build_model


def _digits() -> tuple[torch.utils.data.DataLoader, int]:
    dataset = load_dataset("digits", seed=0)
    loader = make_loader(dataset, "train", 32, shuffle=True)
    return loader, dataset.num_classes


def _analyze(path: Path, *flags: str) -> dict:
    out = path.with_suffix(".analysis.json")
    done = subprocess.run([sys.executable, "-m", "lrlab.cli", "analyze", str(path), "--out",
                           str(out), *flags], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    return {**json.loads(out.read_text()), "stderr": done.stderr}


class _Batches(torch.utils.data.IterableDataset):
    """lrlab's on-device loader as the (inputs, labels) pairs other tools iterate."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def __iter__(self):
        yield from self.loader


def test_torch_lr_finder_history_is_read_as_torch_lr_finder_wrote_it(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from torch_lr_finder import LRFinder

    torch.manual_seed(0)
    loader, classes = _digits()
    model = build_model("small_cnn", num_classes=classes, in_channels=1, image_size=8, width=8)
    finder = LRFinder(model, torch.optim.SGD(model.parameters(), lr=1e-5, momentum=0.9),
                      torch.nn.CrossEntropyLoss())
    batches = torch.utils.data.DataLoader(_Batches(loader), batch_size=None)
    finder.range_test(batches, start_lr=1e-5, end_lr=10, num_iter=100, diverge_th=1e9)
    _, own = finder.plot(skip_start=10, skip_end=5, suggest_lr=True)
    history = tmp_path / "history.json"
    history.write_text(json.dumps(finder.history))

    named = _analyze(history, "--source", "torch-lr-finder")
    assert named["suggestions"]["torch_lr_finder"] == pytest.approx(own, rel=1e-12)
    assert named["import"]["source"] == "torch-lr-finder"
    assert "inverted to the raw losses" in named["stderr"]
    # Read as raw, the history is smoothed twice over and torch-lr-finder's rule lands elsewhere;
    # the note says what was assumed.
    raw = _analyze(history)
    assert raw["import"] == {"source": "raw", "smoothing_factor": None, "assumed": True,
                             "note": raw["import"]["note"]}
    assert "--source torch-lr-finder or lightning" in raw["stderr"]
    assert raw["suggestions"]["torch_lr_finder"] != pytest.approx(own, rel=1e-6)


def test_lightning_results_are_read_as_lightning_wrote_them(tmp_path: Path) -> None:
    import pytorch_lightning as pl
    from pytorch_lightning.tuner import Tuner

    loader, classes = _digits()

    class Net(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = build_model("small_cnn", num_classes=classes, in_channels=1,
                                   image_size=8, width=8)
            self.lr = 1e-5

        def training_step(self, batch, index):
            x, y = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)

        def train_dataloader(self):
            return torch.utils.data.DataLoader(_Batches(loader), batch_size=None)

    torch.manual_seed(0)
    trainer = pl.Trainer(max_epochs=50, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", default_root_dir=tmp_path)
    found = Tuner(trainer).lr_find(Net(), min_lr=1e-5, max_lr=10, num_training=100,
                                   early_stop_threshold=None, update_attr=False)
    own = found.suggestion()
    curve = curve_from_mapping(found.results, where="results")
    named = analyze_imported(curve, source="lightning")
    assert named["suggestions"]["lightning"] == pytest.approx(own, rel=1e-12)
    assert analyze_imported(curve)["suggestions"]["lightning"] != pytest.approx(own, rel=1e-6)


def test_fastai_recorder_is_recognised_by_its_names() -> None:
    """fastai's Recorder stores smoothed losses as `losses` beside `lrs`: detected, inverted."""
    from lrlab.finder.smoothing import ema_debiased

    raw = [2.3, 2.2, 2.25, 2.0, 1.7, 1.5, 1.6, 1.2, 1.3, 2.5, 6.0]
    lrs = [10 ** (-4 + 0.4 * i) for i in range(len(raw))]
    stored = {"lrs": lrs, "losses": ema_debiased(raw, 0.98).tolist()}
    from lrlab.finder.importers import read_as

    recovered, reading = read_as(curve_from_mapping(stored))
    assert reading["source"] == "fastai" and not reading["assumed"]
    assert recovered.tolist() == pytest.approx(raw, rel=1e-9)
