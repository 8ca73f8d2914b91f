"""The transformers Trainer and a Lightning module as tasks, run for real on tiny models built
from configs, through find, check and train; the advice goes back to transformers as
TrainingArguments whose own scheduler steps the LR as lrlab's schedule does."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrlab
from lrlab.core.errors import LrlabError

pytestmark = pytest.mark.timeout(600)
SPEC = "examples.license_classifier:build"


def test_a_trainer_goes_find_check_train_and_its_advice_back_as_training_arguments(
        tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    from lrlab.schedules import Schedule
    from lrlab.tasks.from_transformers import lr_scheduler, training_arguments

    args = {"hidden": 32, "layers": 1, "output_dir": str(tmp_path / "hf")}
    found = lrlab.find(SPEC, args=args, optimizer="adamw", epochs=2, num_points=40,
                       record=False)
    assert found["planned_run"]["batches_per_epoch"] > 0 and found["advice"]
    ladder = lrlab.check(found, points=3, record=False)
    assert ladder["objective"] == "accuracy" and ladder["mode"] == "max"  # the Trainer's own
    assert all(p["status"] == "succeeded" for p in ladder["points"])
    run = lrlab.train(SPEC, args=args, optimizer="adamw", epochs=2, lr=1e-3, record=False)
    assert run["summary"]["objective"] == "accuracy"
    assert {"accuracy", "val_loss"} <= set(run["evaluations"][-1])

    advice = found["advice"]["warmup_cosine"]
    # transformers warms up from 0: an advice whose warmup starts higher has no equal there
    # (lr_scheduler hands the Trainer lrlab's own); from 0, it comes back as arguments
    from_zero = {**advice, "warmup": {**advice["warmup"], "start_factor": 0.0}}
    fields = training_arguments(from_zero)
    hf_args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[],
                                             use_cpu=True, **fields)
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=hf_args.learning_rate)
    theirs = transformers.get_scheduler(
        hf_args.lr_scheduler_type, optimizer, num_warmup_steps=hf_args.warmup_steps,
        num_training_steps=hf_args.max_steps,
        scheduler_specific_kwargs=hf_args.lr_scheduler_kwargs)
    ours = Schedule.from_dict(from_zero)
    for step in range(hf_args.max_steps):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(ours.lr_at(step), rel=1e-6)
        optimizer.step()
        theirs.step()
    with pytest.raises(LrlabError, match="transformers has no schedule equal to this onecycle"):
        training_arguments(found["advice"]["onecycle"])
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = lr_scheduler(found["advice"]["onecycle"], optimizer)
    onecycle = Schedule.from_dict(found["advice"]["onecycle"])
    for step in range(onecycle.total_steps):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(onecycle.lr_at(step))
        optimizer.step()
        scheduler.step()



def lightning_build(seed: int = 0) -> lrlab.Task:
    """A LightningModule with a datamodule, its validation_step returning its metrics."""
    pl = pytest.importorskip("pytorch_lightning")
    from lrlab.tasks.from_lightning import lightning_task

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))

        def training_step(self, batch, index):
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)  # outside a Trainer: Lightning only warns
            return {"loss": loss}

        def validation_step(self, batch, index):
            x, y = batch
            logits = self.net(x)
            return {"val_loss": nn.functional.cross_entropy(logits, y),
                    "val_acc": (logits.argmax(1) == y).float().mean()}

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    class Data(pl.LightningDataModule):
        def setup(self, stage: str) -> None:
            g = torch.Generator().manual_seed(seed)
            x = torch.randn(320, 6, generator=g)
            y = (x[:, 0] + x[:, 1] > 0).long()
            self.train, self.val = TensorDataset(x[:256], y[:256]), TensorDataset(x[256:], y[256:])

        def train_dataloader(self):
            return DataLoader(self.train, batch_size=32, shuffle=True)

        def val_dataloader(self):
            return DataLoader(self.val, batch_size=64)

    return lightning_task(Module(), Data(), objective="val_acc", mode="max")


def test_a_lightning_module_goes_find_check_train() -> None:
    pytest.importorskip("pytorch_lightning")
    found = lrlab.find(lightning_build, optimizer="sgd", epochs=5, num_points=50, record=False)
    assert found["planned_run"]["updates"] == 5 * 8 and found["advice"]["onecycle"]
    ladder = lrlab.check(found, points=3, record=False)
    assert ladder["objective"] == "val_acc" and ladder["mode"] == "max"
    run = lrlab.train(lightning_build, optimizer="sgd", epochs=5, lr=0.1, record=False)
    assert run["summary"]["final_objective"] > 0.8  # the module learned under lrlab's loop
    assert {"val_acc", "val_loss"} <= set(run["evaluations"][-1])


def test_a_sequence_classifier_from_a_config_or_a_local_folder_never_the_hub(
        tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    from lrlab.tasks.from_transformers import sequence_classifier

    tiny = {"model_type": "bert", "vocab_size": 50, "hidden_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 1, "intermediate_size": 64}
    built = sequence_classifier(tiny, num_labels=3)
    assert isinstance(built, transformers.BertForSequenceClassification)
    assert built.classifier.out_features == 3
    same = sequence_classifier(transformers.BertConfig(**{k: v for k, v in tiny.items()
                                                          if k != "model_type"}), num_labels=5)
    assert same.classifier.out_features == 5

    saved = tmp_path / "fine-tuned"
    built.save_pretrained(saved)
    loaded = sequence_classifier(saved, num_labels=3)  # its weights, the head included
    for (name, theirs), ours in zip(built.state_dict().items(), loaded.state_dict().values(),
                                    strict=True):
        assert torch.equal(theirs, ours), name
    other = sequence_classifier(saved, num_labels=4)  # a new head, the body kept
    assert other.classifier.out_features == 4
    assert torch.equal(other.bert.embeddings.word_embeddings.weight,
                       built.bert.embeddings.word_embeddings.weight)

    config_only = tmp_path / "config-only"
    built.config.save_pretrained(config_only)
    assert sequence_classifier(config_only, num_labels=3).classifier.out_features == 3

    with pytest.raises(LrlabError, match=r"'bert-base-uncased': expected a local folder "
                                         r"holding config\.json .*never downloads"):
        sequence_classifier("bert-base-uncased", num_labels=2)
    with pytest.raises(LrlabError, match="model config: expected a model_type"):
        sequence_classifier({"hidden_size": 32}, num_labels=2)
    remote = tmp_path / "remote"
    built.config.save_pretrained(remote)
    config = (remote / "config.json").read_text().replace(
        '"architectures"', '"auto_map": {"AutoModel": "evil.Model"}, "architectures"')
    (remote / "config.json").write_text(config)
    with pytest.raises(LrlabError, match="asks for remote code"):
        sequence_classifier(remote, num_labels=2)
