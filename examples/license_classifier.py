"""A transformers text classifier, run through a `Trainer`: which free-software license does a
passage of 32 words come from (GPL-3, Apache-2.0, MPL-2.0 or LGPL-2.1)? The texts are Debian's
own copies in /usr/share/common-licenses; the BERT model is built from a small config and the
vocabulary from the training passages, so nothing is downloaded.

    lrlab find --task examples.license_classifier:build --optimizer adamw --epochs 8 --out find.json
    lrlab check --from find.json --points 5

The factory builds the `Trainer` the way you would, and hands it to lrlab as a task
(lrlab.tasks.from_transformers.trainer_task): its model, dataloaders, loss and metrics.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

import lrlab
from lrlab.core.errors import LrlabError

LICENSES = ("GPL-3", "Apache-2.0", "MPL-2.0", "LGPL-2.1")
FOLDER = Path("/usr/share/common-licenses")


def passages(words: int) -> list[tuple[list[str], int]]:
    """Every license cut into passages of `words` lower-cased words, with its label."""
    out = []
    for label, name in enumerate(LICENSES):
        path = FOLDER / name
        if not path.exists():
            raise LrlabError(f"{path}: not found (Debian's base-files installs it)")
        tokens = re.findall(r"[a-z]+", path.read_text(errors="replace").lower())
        out += [(tokens[i:i + words], label) for i in range(0, len(tokens) - words + 1, words)]
    return out


class Passages(torch.utils.data.Dataset):
    """Token ids (0 pads, 1 is an unknown word) with their label, as a Trainer reads them."""

    def __init__(self, rows: list[tuple[list[str], int]], vocab: dict[str, int]) -> None:
        self.rows, self.vocab = rows, vocab

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        words, label = self.rows[i]
        ids = [2] + [self.vocab.get(w, 1) for w in words]  # 2: the [CLS] position
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.ones(len(ids), dtype=int),
                "labels": label}


def accuracy(prediction: Any) -> dict[str, float]:
    return {"accuracy": float((np.argmax(prediction.predictions, -1)
                               == prediction.label_ids).mean())}


@lrlab.task_form(
    title="License classifier (transformers Trainer)",
    description="A small BERT, built from a config, tells GPL-3, Apache-2.0, MPL-2.0 and "
                "LGPL-2.1 passages apart through a transformers Trainer; ranked by "
                "validation accuracy.",
    args={"hidden": {"low": 32, "help": "BERT's hidden size (a head per 32)"},
          "layers": {"low": 1, "high": 12, "help": "transformer layers"},
          "words": {"low": 4, "help": "words per passage"},
          "batch_size": {"low": 1, "help": "passages per batch"},
          "output_dir": {"help": "the Trainer's output folder"}})
def build(hidden: int = 64, layers: int = 2, words: int = 32, batch_size: int = 16,
          seed: int = 0, output_dir: str = "runs/hf-license") -> lrlab.Task:
    """The Trainer for a small BERT on a seeded split (a fifth of the passages held out)."""
    from transformers import Trainer, TrainingArguments

    from lrlab.tasks.from_transformers import sequence_classifier, trainer_task

    rows = passages(words)
    order = np.random.default_rng(seed).permutation(len(rows))
    held = set(order[: len(rows) // 5].tolist())
    train = [r for i, r in enumerate(rows) if i not in held]
    val = [r for i, r in enumerate(rows) if i in held]
    counts: dict[str, int] = {}
    for tokens, _ in train:
        for w in tokens:
            counts[w] = counts.get(w, 0) + 1
    vocab = {w: i + 3 for i, w in enumerate(sorted(w for w, n in counts.items() if n > 1))}
    model = sequence_classifier(  # from a config: nothing is downloaded
        {"model_type": "bert", "vocab_size": len(vocab) + 3, "hidden_size": hidden,
         "num_hidden_layers": layers, "num_attention_heads": max(1, hidden // 32),
         "intermediate_size": 2 * hidden, "max_position_embeddings": words + 1},
        num_labels=len(LICENSES))
    args = TrainingArguments(output_dir=output_dir, per_device_train_batch_size=batch_size,
                             per_device_eval_batch_size=64, metric_for_best_model="accuracy",
                             greater_is_better=True, report_to=[], use_cpu=True, seed=seed)
    trainer = Trainer(model=model, args=args,
                      train_dataset=Passages(train, vocab), eval_dataset=Passages(val, vocab),
                      compute_metrics=accuracy)
    return trainer_task(trainer)
