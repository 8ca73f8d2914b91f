"""The setup: what shapes the loss landscape (network, data, loss, optimizer groups), built one
way from an `lrlab.train/2` config for every job that trains it.

The range test, the LR check ladder and training all call these builders, so a range test of a
training config sweeps the very network, loss (label smoothing, mixup, distillation) and
parameter groups (no bias decay) that the run will train.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lrlab.core.artifacts import artifact_root, local_path
from lrlab.core.paths import lrlab_home
from lrlab.tasks.image.checkpoint import check_teacher, load_teacher
from lrlab.tasks.image.data import load_dataset
from lrlab.tasks.image.models import ModelSummary, build_model, model_summary
from lrlab.tasks.image.objective import Objective
from lrlab.tasks.image.planned_run import planned_schedule
from lrlab.tasks.optimizers import create_optimizer


def teacher_runs() -> Path:
    """Where a distillation teacher named by job id is looked for: this host's run folders."""
    return local_path(artifact_root()) or lrlab_home() / "runs"


def check_before_queueing(cfg: Mapping[str, Any]) -> None:
    """What a run would find wrong only once it started, refused before it is queued: a
    schedule of another length than the run (unless fitted), a teacher that is not there."""
    planned_schedule(cfg)
    check_teacher(cfg, teacher_runs())


def load_data(cfg: Mapping[str, Any]) -> Any:
    """The config's dataset with its train and validation splits."""
    return load_dataset(cfg["dataset"], root=cfg["data_root"], download=cfg["download"],
                        val_fraction=cfg["val_fraction"], seed=cfg["seed"], limit=cfg["limit"])


def build_network(
    cfg: Mapping[str, Any], dataset: Any, device: torch.device
) -> tuple[torch.nn.Module, torch.memory_format, ModelSummary]:
    """The network (seeded, zero-γ as configured) on the device, its memory format, its size."""
    torch.manual_seed(cfg["seed"])
    model = build_model(cfg["model"], num_classes=dataset.num_classes,
                        in_channels=dataset.in_channels, image_size=dataset.image_size,
                        variant=cfg["variant"], zero_gamma=cfg["tricks"]["zero_gamma"],
                        width=cfg["width"], norm=cfg["norm"])
    size = model_summary(model, (dataset.in_channels, *dataset.image_size))
    memory_format = torch.preserve_format
    if cfg["channels_last"] and device.type == "cuda":
        memory_format = torch.channels_last  # faster convolutions on tensor cores
    return model.to(device=device, memory_format=memory_format), memory_format, size


def build_objective(cfg: Mapping[str, Any], dataset: Any, device: torch.device) -> Any:
    """The loss: label smoothing, mixup and distillation from a teacher, as configured."""
    distill = cfg["tricks"]["distillation"]
    teacher = None
    if distill is not None:
        teacher = load_teacher(distill["teacher"], num_classes=dataset.num_classes,
                               in_channels=dataset.in_channels, runs_dir=teacher_runs()
                               ).to(device)
    return Objective(
        num_classes=dataset.num_classes, label_smoothing=cfg["tricks"]["label_smoothing"],
        mixup_alpha=cfg["tricks"]["mixup"], teacher=teacher,
        temperature=distill["temperature"] if distill else 1.0,
        distillation_weight=distill["weight"] if distill else 1.0, seed=cfg["seed"])


def build_optimizer(cfg: Mapping[str, Any], model: torch.nn.Module,
                    lr: float) -> torch.optim.Optimizer:
    """The configured optimizer over the model's groups (no bias decay when that trick is on)."""
    return create_optimizer(model, cfg["optimizer"], lr,
                            no_bias_decay=cfg["tricks"]["no_bias_decay"])
