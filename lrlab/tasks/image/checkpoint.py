"""Checkpoints a finished run leaves behind, and teachers loaded back from them.

A checkpoint holds only tensors, numbers, strings and lists, so `torch.load(weights_only=True)`
opens it: loading a model someone sent you never runs their code. It carries the run's config and
the data's shape, which is all it takes to rebuild the model for distillation or inference.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lrlab.core.errors import LrlabError
from lrlab.tasks.image.models import build_model

FORMAT = "lrlab.checkpoint/1"
FILENAME = "checkpoint.pt"


def save_checkpoint(
    path: Path, model: nn.Module, config: dict[str, Any], data: dict[str, Any],
    summary: dict[str, Any],
) -> None:
    """Write model weights (on CPU) with the config and data shape that rebuild the model."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "config": config, "data": data, "summary": summary,
               "model": state}
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # a reader never sees half a file


def resolve_checkpoint(reference: str, runs_dir: Path | None = None) -> Path:
    """A run folder, a checkpoint file, or a job id ("12" or "#12") of a run in `runs_dir`."""
    text = reference.strip()
    if text.lstrip("#").isdigit() and runs_dir is not None:
        path = runs_dir / text.lstrip("#")
    else:
        path = Path(text).expanduser()
    if path.is_dir():
        path = path / FILENAME
    if not path.is_file():
        raise LrlabError(f"tricks.distillation.teacher: no checkpoint at {str(path)!r} "
                         f"(expected a run folder with {FILENAME}, a checkpoint file or a job id "
                         "of a finished training run)")
    return path


def check_teacher(cfg: Mapping[str, Any], runs_dir: Path | None) -> None:
    """Before queueing: a distillation teacher that is not there is refused with its path
    (the worker would find out only once the job started)."""
    distill = cfg["tricks"]["distillation"]
    if distill is not None:
        resolve_checkpoint(distill["teacher"], runs_dir)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint safely (weights_only) and check it is one of ours."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise LrlabError(f"{path}: not a readable lrlab checkpoint ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise LrlabError(f"{path}: not an {FORMAT} file")
    return payload


def model_from_checkpoint(payload: dict[str, Any]) -> nn.Module:
    """Rebuild the run's model and load its weights."""
    config, data = payload["config"], payload["data"]
    model = build_model(config["model"], num_classes=data["num_classes"],
                        in_channels=data["in_channels"], image_size=tuple(data["image_size"]),
                        variant=config["variant"], width=config["width"],
                        norm=config.get("norm", "batch"))  # runs from before norm existed
    model.load_state_dict(payload["model"])
    return model


def load_teacher(
    reference: str, *, num_classes: int, in_channels: int, runs_dir: Path | None = None
) -> nn.Module:
    """A teacher for distillation, refused unless it predicts the same classes from the same
    kind of image as the student's data."""
    path = resolve_checkpoint(reference, runs_dir)
    payload = load_checkpoint(path)
    data = payload["data"]
    if data["num_classes"] != num_classes or data["in_channels"] != in_channels:
        raise LrlabError(
            f"tricks.distillation.teacher: {path} was trained on {data['num_classes']} classes "
            f"of {data['in_channels']}-channel images, but this run has {num_classes} classes "
            f"of {in_channels}-channel images")
    return model_from_checkpoint(payload)
