"""Ablations as in the paper's tables: a baseline with the listed tricks off, then the tricks added
one at a time, each row trained over several seeds and reported as mean ± spread.

`cumulative` (the paper's Table 6) keeps every earlier trick on; `single` adds each trick alone to
the baseline, which isolates it but misses interactions.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lrlab.core.errors import LrlabError
from lrlab.core.reporting import NullReporter, Reporter
from lrlab.tasks.image.config import validate_config
from lrlab.training.job import train

MODES = ("cumulative", "single")
# The value a trick takes when the ablation switches it on and the base config has it off.
_ON_DEFAULTS = {"warmup": 1.0, "label_smoothing": 0.1, "mixup": 0.2}


def _warmup(cfg: dict[str, Any], on: bool) -> None:
    current = cfg["tricks"]["warmup_epochs"]
    cfg["tricks"]["warmup_epochs"] = (current or _ON_DEFAULTS["warmup"]) if on else 0.0


def _switch(key: str) -> Callable[[dict[str, Any], bool], None]:
    def apply(cfg: dict[str, Any], on: bool) -> None:
        cfg["tricks"][key] = on
    return apply


def _amount(key: str) -> Callable[[dict[str, Any], bool], None]:
    def apply(cfg: dict[str, Any], on: bool) -> None:
        current = cfg["tricks"][key]
        cfg["tricks"][key] = (current or _ON_DEFAULTS[key]) if on else 0.0
    return apply


def _distillation(cfg: dict[str, Any], on: bool) -> None:
    if on and cfg["tricks"]["distillation"] is None:
        raise LrlabError("ablation: 'distillation' needs tricks.distillation.teacher in the "
                         "base config")
    if not on:
        cfg["tricks"]["distillation"] = None


def _resnet_d(cfg: dict[str, Any], on: bool) -> None:
    if not cfg["model"].startswith("resnet"):
        raise LrlabError(f"ablation: 'resnet_d' needs a ResNet model, got {cfg['model']!r}")
    cfg["variant"] = "D" if on else "A"


TRICKS: dict[str, Callable[[dict[str, Any], bool], None]] = {
    "linear_scaling": _switch("linear_scaling"),
    "warmup": _warmup,
    "zero_gamma": _switch("zero_gamma"),
    "no_bias_decay": _switch("no_bias_decay"),
    "resnet_d": _resnet_d,
    "cosine": _switch("cosine"),
    "label_smoothing": _amount("label_smoothing"),
    "mixup": _amount("mixup"),
    "distillation": _distillation,
}


@dataclass(frozen=True)
class AblationRow:
    name: str
    tricks_on: list[str]
    final_top1: list[float]
    best_top1: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.final_top1)

    @property
    def spread(self) -> float:
        """Sample standard deviation over seeds (0 for one seed)."""
        return statistics.stdev(self.final_top1) if len(self.final_top1) > 1 else 0.0


def ablation_configs(
    base: Mapping[str, Any], tricks: Sequence[str], mode: str = "cumulative"
) -> list[tuple[str, list[str], dict[str, Any]]]:
    """(row name, tricks on, config) per row: the baseline first, then one row per trick."""
    if mode not in MODES:
        raise LrlabError(f"ablation mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if not tricks:
        raise LrlabError(f"ablation: name at least one trick out of {', '.join(TRICKS)}")
    unknown = [t for t in tricks if t not in TRICKS]
    if unknown or len(set(tricks)) != len(tricks):
        raise LrlabError(f"ablation: expected distinct tricks out of {', '.join(TRICKS)}, "
                         f"got {', '.join(tricks)}")
    cfg = validate_config(base)

    def configured(on: list[str]) -> dict[str, Any]:
        row = deepcopy(cfg)
        for trick in tricks:
            TRICKS[trick](row, trick in on)
        return validate_config(row)

    rows = [("baseline", [], configured([]))]
    for i, trick in enumerate(tricks):
        on = list(tricks[: i + 1]) if mode == "cumulative" else [trick]
        name = f"+ {trick}" if mode == "cumulative" else f"baseline + {trick}"
        rows.append((name, on, configured(on)))
    return rows


def run_ablation(
    base: Mapping[str, Any],
    tricks: Sequence[str],
    seeds: Sequence[int],
    *,
    mode: str = "cumulative",
    out_dir: Path | None = None,
    reporter_for: Callable[[str, int], Reporter] | None = None,
) -> list[AblationRow]:
    """Train every row for every seed; each run's folder goes under `out_dir`/<row>/seed-<k>."""
    if not seeds:
        raise LrlabError("ablation: expected at least one seed")
    rows = []
    for index, (name, on, cfg) in enumerate(ablation_configs(base, tricks, mode)):
        final, best = [], []
        for seed in seeds:
            run_cfg = {**cfg, "seed": seed}
            folder = out_dir / f"{index:02d}-{'-'.join(on) or 'baseline'}" / f"seed-{seed}" \
                if out_dir is not None else None
            reporter = reporter_for(name, seed) if reporter_for else NullReporter()
            summary = train(run_cfg, reporter, folder)["summary"]
            if summary["final_val_top1"] is None:
                raise LrlabError(f"ablation row {name!r} seed {seed}: {summary['stop_reason']}")
            final.append(summary["final_val_top1"])
            best.append(summary["best_val_top1"])
        rows.append(AblationRow(name, on, final, best))
    if out_dir is not None:
        save_ablation(rows, out_dir, mode=mode, seeds=seeds)
    return rows


def ablation_table(rows: Sequence[AblationRow], mode: str = "cumulative") -> str:
    """A Markdown table: final top-1 mean ± std over seeds, the delta to the row it builds on
    (the previous row when cumulative, the baseline when single), and best top-1."""
    lines = ["| row | final top-1 (%) | Δ (points) | best top-1 (%) | seeds |",
             "|---|---|---|---|---|"]
    for i, row in enumerate(rows):
        reference = rows[i - 1] if mode == "cumulative" else rows[0]
        delta = "" if i == 0 else f"{100 * (row.mean - reference.mean):+.2f}"
        best = statistics.fmean(row.best_top1)
        lines.append(f"| {row.name} | {100 * row.mean:.2f} ± {100 * row.spread:.2f} | {delta} "
                     f"| {100 * best:.2f} | {len(row.final_top1)} |")
    return "\n".join(lines)


def save_ablation(
    rows: Sequence[AblationRow], out_dir: Path, *, mode: str, seeds: Sequence[int]
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"format": "lrlab.ablation/1", "mode": mode, "seeds": list(seeds),
               "rows": [{**asdict(r), "mean": r.mean, "spread": r.spread} for r in rows]}
    (out_dir / "ablation.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out_dir / "ablation.md").write_text(ablation_table(rows, mode) + "\n")
