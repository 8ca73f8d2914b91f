"""A transformers `Trainer` as a task, and advice back as `TrainingArguments` fields (or, where
transformers has no equal schedule, as a scheduler to hand the Trainer).

transformers declined an LR finder for `Trainer` (huggingface/transformers#16013) because
finders point at 1e-3 where fine-tuning's best is nearer 1e-5; the LR check answers that by
training at the suggestion, and this makes the check run on the Trainer's own setup: its model,
its train and eval dataloaders (collator, batch size), its `compute_loss`, and its
`compute_metrics` on the eval set. transformers is imported only when these are called.

`sequence_classifier` builds the model such a Trainer fine-tunes from a config or a local
folder, never from the hub: lrlab downloads nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from lrlab.core.errors import LrlabError
from lrlab.tasks.protocol import Task


def trainer_task(trainer: Any, objective: str | None = None, mode: str | None = None) -> Task:
    """The Trainer's setup as a task. The objective is the Trainer's `metric_for_best_model`
    (``eval_`` dropped; its `greater_is_better` for the mode), else the eval loss."""
    val = trainer.get_eval_dataloader() if trainer.eval_dataset is not None else None
    best = trainer.args.metric_for_best_model
    if objective is None and best and best not in ("loss", "eval_loss"):
        objective = best.removeprefix("eval_")
        mode = mode or ("max" if trainer.args.greater_is_better is not False else "min")

    def loss(model: torch.nn.Module, batch: Mapping[str, Any]) -> torch.Tensor:
        return trainer.compute_loss(model, batch)

    return Task(model=trainer.model, train=trainer.get_train_dataloader(), val=val, loss=loss,
                evaluate=lambda model, batches: evaluate(trainer, model, batches),
                objective=objective or "val_loss", mode=mode or "min")


def evaluate(trainer: Any, model: torch.nn.Module,
             batches: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The eval set's mean loss (``val_loss``) and, when the Trainer has `compute_metrics`,
    its metrics on the predictions, as `Trainer.evaluate` names them without ``eval_``."""
    losses, logits, labels = [], [], []
    for batch in batches:
        value, outputs = trainer.compute_loss(model, batch, return_outputs=True)
        losses.append(float(value))
        if trainer.compute_metrics is not None:
            found = outputs["logits"] if isinstance(outputs, Mapping) else outputs.logits
            logits.append(found.float().cpu())
            labels.append(batch["labels"].cpu())
    metrics = {"val_loss": sum(losses) / len(losses)} if losses else {}
    if logits:
        from transformers import EvalPrediction

        found = trainer.compute_metrics(EvalPrediction(predictions=torch.cat(logits).numpy(),
                                                       label_ids=torch.cat(labels).numpy()))
        metrics.update({k.removeprefix("eval_"): float(v) for k, v in found.items()})
    return metrics


WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


def sequence_classifier(source: Any, num_labels: int) -> torch.nn.Module:
    """A transformers model for sequence classification with `num_labels` classes, built
    offline from a config (a `PretrainedConfig`, or a mapping with its ``model_type``) or a
    local folder written by `save_pretrained` (its weights loaded when it holds them, the
    classification head sized to `num_labels`; a folder with only config.json gives an
    untrained model). A hub name, or a folder asking for remote code, is refused."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, PretrainedConfig

    if isinstance(source, PretrainedConfig):
        config = source.__class__.from_dict({**source.to_dict(), "num_labels": num_labels})
        return AutoModelForSequenceClassification.from_config(config)
    if isinstance(source, Mapping):
        fields = dict(source)
        kind = fields.pop("model_type", None)
        if not isinstance(kind, str):
            raise LrlabError("model config: expected a model_type (bert, roberta, ...) beside "
                             f"its fields, got {sorted(source)}")
        try:
            config = AutoConfig.for_model(kind, **fields, num_labels=num_labels)
        except ValueError as exc:
            raise LrlabError(f"model config: {exc}") from None
        return AutoModelForSequenceClassification.from_config(config)
    folder = Path(str(source))
    if not (folder / "config.json").is_file():
        raise LrlabError(f"model {str(source)!r}: expected a local folder holding config.json "
                         "(save_pretrained writes one); lrlab never downloads a model")
    config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False,
                                        num_labels=num_labels)
    if getattr(config, "auto_map", None):
        raise LrlabError(f"model {str(source)!r}: its config asks for remote code (auto_map); "
                         "lrlab runs only the model classes transformers ships")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        return AutoModelForSequenceClassification.from_config(config)
    return AutoModelForSequenceClassification.from_pretrained(
        folder, config=config, local_files_only=True, trust_remote_code=False,
        ignore_mismatched_sizes=True)


def training_arguments(schedule: Mapping[str, Any]) -> dict[str, Any]:
    """`TrainingArguments` fields (learning_rate, max_steps, warmup_steps, lr_scheduler_type,
    lr_scheduler_kwargs) that schedule the LR as `schedule` (an advised one) does, through the
    Hugging Face export; refused in one sentence where transformers has no such schedule."""
    from lrlab.schedules import Schedule
    from lrlab.schedules.targets import export

    parsed = Schedule.from_dict(dict(schedule))
    found = export(parsed, "hf")
    if "lr_scheduler_type" not in found.args:
        raise LrlabError(f"schedule: transformers has no schedule equal to this {parsed.kind} "
                         "one (its warmup starts at 0, has no hold, and has no 1cycle); give "
                         "the Trainer lrlab's own: Trainer(optimizers=(optimizer, "
                         "lr_scheduler(schedule, optimizer)))")
    return dict(found.args)


def lr_scheduler(schedule: Mapping[str, Any], optimizer: torch.optim.Optimizer) -> Any:
    """lrlab's scheduler for any schedule, exact at every update, for
    ``Trainer(optimizers=(optimizer, scheduler))`` where `training_arguments` cannot say it."""
    from lrlab.schedules import Schedule

    return Schedule.from_dict(dict(schedule)).torch(optimizer)
