"""Every option a user sets, declared once: label, help, default, limits, and its check.

The validators (`train.config`, `finder.job`), the CLI flags and the page widgets all read these
declarations, so a limit or a choice list cannot disagree between them. A field is named by its
path in the config (`optimizer.momentum`). Nothing here imports torch, so `lrlab --help` and a
page's checks stay fast; the model zoo and the datasets (`lrlab.tasks.image`) register builders
under the names declared here, and a test keeps the two equal.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from lrlab.core import baseline_table, optimizer_table
from lrlab.core.errors import LrlabError

Kind = Literal["int", "float", "bool", "choice", "choices", "text", "int_list", "float_list",
               "targets"]

OPTIMIZERS = tuple(optimizer_table.OPTIMIZERS)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
VARIANTS = ("A", "B", "C", "D")
NORMS = ("batch", "none")
# "auto" is each dataset's own: shift for digits and the MNISTs (a flip ruins digits and text),
# crop + flip for CIFAR and image folders.
AUGMENTATIONS = ("auto", "none", "shift", "crop", "crop_flip")
# Who wrote an imported range-test curve (lrlab.finder.smoothing.TOOL_SMOOTHING has their EMAs).
CURVE_SOURCES = ("auto", "raw", "torch-lr-finder", "lightning", "fastai")
SWEEP_MODES = ("exp", "linear")


# The built-in image classification's model zoo and datasets (lrlab.tasks.image builds them).
MODELS = ("small_cnn", "resnet18", "resnet34", "resnet50", "mobilenet_v2")
DATASETS = ("digits", "mnist", "fashion_mnist", "kmnist", "cifar10", "cifar100", "svhn", "idx",
            "image_folder", "synthetic")
# A running job whose heartbeat is older than this is presumed dead. Workers heartbeat every ~1 s.
HEARTBEAT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Field:
    """One option. `check` returns the value to store or raises LrlabError naming the field."""

    name: str
    label: str
    kind: Kind
    default: Any
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False  # None is allowed (and means "not set")
    choices: tuple[str, ...] = ()
    cli_choices: bool = True  # False: the flag takes any text, checked with the config (one
    # sentence naming the field, as a page's check gives, rather than argparse's usage)
    step: float | None = None  # a widget's increment
    format: str | None = None  # a widget's number format ("%g" for LRs)
    cli: str | None = None  # the flag's name when the key alone would be unclear
    unit: str | None = None  # "steps": a count of updates, rescaled when a schedule is stretched;
    # "lr": an absolute LR, scaled with the peak when a schedule is moved to another LR


    @property
    def key(self) -> str:
        """The last part of the path: the key inside its section."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def dest(self) -> str:
        """The flag's attribute on the parsed arguments."""
        return self.cli or self.key

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    def check(self, value: Any, where: str | None = None) -> Any:
        where = where or self.name
        if value is None and self.optional:
            return None
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise LrlabError(f"{where}: expected true or false, got {value!r}")
            return value
        if self.kind == "choice":
            options = self.choices
            if value not in options:
                raise LrlabError(f"{where}: expected one of {', '.join(options)}, got {value!r}")
            return value
        if self.kind == "choices":  # any of the choices, each once; "a,b" from a flag
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list | tuple) or not all(v in self.choices for v in value):
                raise LrlabError(f"{where}: expected any of {', '.join(self.choices)} (a list, "
                                 f"or comma-separated), got {value!r}")
            if len(set(value)) != len(value):
                raise LrlabError(f"{where}: each name once, got {', '.join(value)}")
            return list(value)
        if self.kind in ("int_list", "float_list"):
            if not isinstance(value, list | tuple) or not value:
                raise LrlabError(f"{where}: expected a non-empty list, got {value!r}")
            item = replace(self, kind=self.kind.removesuffix("_list"), optional=False)
            return [item.check(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if self.kind == "targets":
            from lrlab.core.tracking_targets import validate_targets

            return validate_targets(value, where)
        if self.kind == "text":
            if not isinstance(value, str):
                raise LrlabError(f"{where}: expected text, got {value!r}")
            return value.strip() or None if self.optional else value
        if self.kind == "int":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not self._within(value):
                raise LrlabError(f"{where}: expected an integer{self._span()}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LrlabError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise LrlabError(f"{where}: expected a finite number, got {value!r}")
        if not self._within(value):
            raise LrlabError(f"{where}: expected a number{self._span()}, got {value!r}")
        return float(value)

    def _within(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or (value < self.high or (not self.high_open
                                                             and value == self.high))

    def _span(self) -> str:
        """The allowed range as it follows "expected a number": " >= 1", " in (0, 1]" or ""."""
        def show(bound: float) -> str:
            return str(int(bound)) if self.kind.startswith("int") else f"{bound:g}"

        if self.low is None and self.high is None:
            return ""
        if self.low is None:
            return f" {'<' if self.high_open else '<='} {show(self.high)}"
        if self.high is None:
            return f" {'>' if self.low_open else '>='} {show(self.low)}"
        return (f" in {'(' if self.low_open else '['}{show(self.low)}, {show(self.high)}"
                f"{')' if self.high_open else ']'}")


_FIELDS = [
    # -- what is trained -------------------------------------------------------------------
    Field("model", "Model", "choice", "small_cnn",
          choices=MODELS, cli_choices=False,
          help="small_cnn, ResNet-18/34/50 or MobileNetV2"),
    Field("variant", "ResNet variant", "choice", "D", choices=VARIANTS,
          help="He et al. 2019, Fig. 2 (ResNets only)"),
    Field("norm", "Normalisation", "choice", "batch", choices=NORMS,
          help="none: no BatchNorm, Fixup's initialisation (Zhang et al. 2019); ResNets only"),
    Field("width", "Width", "int", None, low=2, optional=True,
          help="base channel count; unset keeps the model's default (64 for ResNets, 32 for "
               "small_cnn). Narrow nets train fast on CPU"),
    Field("dataset", "Dataset", "choice", "digits",
          choices=DATASETS, cli_choices=False),
    Field("data_root", "Data folder", "text", None, optional=True,
          help="the folder sets other than digits/synthetic are read from"),
    Field("limit", "Examples", "int", None, low=2, optional=True,
          help="use only this many examples"),
    Field("download", "Download", "bool", False,
          help="let torchvision download the dataset into the data folder"),
    Field("val_fraction", "Validation share", "float", 0.2, low=0.0, high=0.99, low_open=True),
    Field("augment", "Augmentation", "choice", "auto", choices=AUGMENTATIONS,
          help="of training images. auto: the dataset's own (shift for digits and the MNISTs, "
               "crop + flip for CIFAR and image folders); shift: up to 1-2 px; crop: pad and "
               "crop back; crop_flip: and mirror (ruins digits and text)"),
    Field("batch_size", "Batch size", "int", 128, low=1),
    Field("seed", "Seed", "int", 0, low=0),
    Field("precision", "Precision", "choice", "auto", choices=PRECISIONS,
          help="auto: fp16 with loss scaling on CUDA, fp32 on CPU; bf16 on request"),
    # -- the optimizer -----------------------------------------------------------------------
    Field("optimizer.name", "Optimizer", "choice", "sgd", choices=OPTIMIZERS, cli="optimizer",
          help="sgdw: SGD with decoupled weight decay (Loshchilov & Hutter)"),
    Field("optimizer.lr", "LR (at the reference batch)", "float", 0.1, low=0.0, high=100.0,
          low_open=True, format="%g", help="with linear scaling, the LR at batch 256"),
    Field("optimizer.momentum", "Momentum / β1", "float", 0.9, low=0.0, high=1.0,
          high_open=True, help="SGD momentum or Adam's β1"),
    Field("optimizer.weight_decay", "Weight decay", "float", 5e-4, low=0.0, high=10.0,
          format="%g", help="SGD and Adam: L2 in the gradient; AdamW: lr·λ per update; SGDW: "
                            "λ × the schedule's multiplier per update (Loshchilov & Hutter)"),
    Field("optimizer.nesterov", "Nesterov", "bool", False, help="SGD with momentum only"),
    # -- training ----------------------------------------------------------------------------
    Field("epochs", "Epochs", "int", 5, low=1),
    Field("channels_last", "Channels last", "bool", True, help="memory format on CUDA"),
    Field("compile", "torch.compile", "bool", False, help="compile the model (slow to start)"),
    Field("nproc", "Processes", "int", 1, low=1, high=256,
          help="data-parallel processes for this run (torch.distributed on this host: gloo on "
               "CPU, nccl with one GPU each); batch_size is the global batch"),
    Field("sync_bn", "Synchronised BatchNorm", "bool", False,
          help="with nproc > 1: BatchNorm statistics over the global batch, not each rank's"),
    Field("schedule_fit", "If the schedule's length differs", "choice", "refuse",
          choices=("refuse", "stretch", "keep"), cli="schedule_fit",
          help="when a given schedule's total_steps is not this run's updates: refuse (say "
               "both numbers), stretch (rescale every step-valued field to the run) or keep "
               "(use it as is: past its end, each kind holds or continues by its own rule)"),
    Field("grad_clip", "Gradient clip", "float", None, low=0.0, high=1e9, low_open=True,
          optional=True, help="clip the gradient norm to this value"),
    # -- a task (your own model, data, loss and metric) -------------------------------------------
    Field("task.spec", "Task", "text", None, optional=True, cli="task",
          help="package.module:function, a factory returning an lrlab.Task (its arguments: "
               "--task-arg key=value)"),
    Field("max_steps", "Updates", "int", None, low=1, optional=True,
          help="train exactly this many optimizer updates (the loader cycled as needed) instead "
               "of whole epochs; tasks only"),
    Field("batches_per_epoch", "Batches per epoch", "int", None, low=1, optional=True,
          help="what one epoch of the task's training loader is; unset: its length (give it "
               "for a loader without one)"),
    Field("eval_every", "Evaluate every", "int", None, low=1, optional=True,
          help="optimizer updates between evaluations of a task; unset: after each epoch"),
    # -- where a job is logged besides the store (lrlab.core.tracking_targets) -------------------
    Field("log_to", "Log to", "targets", None, optional=True,
          help="tensorboard[:DIR] or mlflow[:URI], repeatable; unset: LRLAB_LOG_TO where the "
               "job runs"),
    Field("tricks.linear_scaling", "Linear-scaling LR", "bool", True, help="LR × batch / 256"),
    Field("tricks.reference_batch", "Reference batch", "int", 256, low=1,
          help="the batch the LR is given for (Goyal et al.)"),
    Field("tricks.warmup_epochs", "Warmup epochs", "float", 1.0, low=0.0, high=1000.0),
    Field("tricks.zero_gamma", "Zero-γ", "bool", True,
          help="last BN of each residual block starts at 0"),
    Field("tricks.no_bias_decay", "No bias decay", "bool", True,
          help="weight decay on conv/linear weights only"),
    Field("tricks.cosine", "Cosine decay", "bool", True),
    Field("tricks.label_smoothing", "Label smoothing ε", "float", 0.1, low=0.0, high=0.99),
    Field("tricks.mixup", "Mixup α", "float", 0.0, low=0.0, high=100.0, help="0: off"),
    Field("tricks.distillation.teacher", "Distillation teacher", "text", None, optional=True,
          cli="teacher", help="distil from a run folder, a checkpoint file or a job id"),
    Field("tricks.distillation.temperature", "Distillation temperature", "float", 20.0,
          low=0.0, high=1000.0, low_open=True),
    Field("tricks.distillation.weight", "Distillation weight", "float", 1.0, low=0.0,
          high=1000.0),
    # -- the range test's sweep ------------------------------------------------------------------
    Field("start_lr", "Start LR", "float", 1e-7, low=0.0, high=1e3, low_open=True,
          format="%g"),
    Field("end_lr", "End LR", "float", 10.0, low=0.0, high=1e4, low_open=True, format="%g"),
    Field("num_points", "Points", "int", 100, low=5, high=100_000,
          help="LR values, one optimizer step each"),
    Field("mode", "Spacing", "choice", "exp", choices=SWEEP_MODES),
    Field("seeds", "Seeds", "int", 1, low=1, high=100,
          help="several seeds give a median curve and a band"),
    Field("val_every", "Validate every", "int", 0, low=0,
          help="validation loss every K points (0: off)"),
    Field("val_batches", "Validation batches", "int", 2, low=1,
          help="batches per validation point"),
    Field("batches_per_point", "Batches per point", "int", 1, low=1,
          help="average the loss over this many batches at each LR"),
    Field("accumulation_steps", "Accumulation steps", "int", 1, low=1,
          help="gradient accumulation per step (a larger effective batch)"),
    Field("advice_steps", "Advice length", "int", None, low=8, optional=True,
          help="total steps of the advised schedules; unset: the planned run's updates "
               "(the setup's epochs x its updates per epoch)"),
    Field("device", "Device", "text", "auto", help="auto, cpu, cuda[:N] or mps"),
    # -- the LR check ladder -------------------------------------------------------------------
    Field("check.lr", "Centre LR", "float", None, low=0.0, high=1e4, low_open=True,
          optional=True, format="%g", cli="around",
          help="the peak LR the ladder is centred on; unset: the peak of the setup's schedule"),
    Field("check.points", "Points", "int", 5, low=1, high=25, cli="points",
          help="log-spaced peak LRs from centre/span to centre x span, plus the centre itself"),
    Field("check.span", "Span (x)", "float", 10.0, low=1.0, high=1e4, low_open=True,
          cli="span", format="%g", help="the ladder reaches from centre/span to centre x span"),
    Field("check.epochs", "Epochs per point", "int", None, low=1, optional=True, cli="epochs",
          help="each point's budget; unset: fraction of the setup's epochs"),
    Field("check.fraction", "Share of the run", "float", None, low=0.0, high=1.0,
          low_open=True, optional=True, cli="fraction",
          help="each point trains this share of the setup's epochs (at least one epoch); "
               "unset, with no epochs either: 0.2"),
    Field("check.seeds", "Seeds per point", "int", 1, low=1, high=10, cli="seeds",
          help="runs per point, seed, seed+1, ... (initialisation, data order, validation "
               "split); a point's figures are their mean and the verdict says how far they "
               "spread: one short run moves by a point or two between neighbouring LRs"),
    Field("check.baselines", "LR-free baselines", "choices", [],
          choices=tuple(baseline_table.BASELINES), cli="baselines",
          help="optimizers that choose their own step size, trained on the same setup, budget "
               "and seeds at their papers' settings, to see whether the tuned LR beats them: "
               + ", ".join(f"{b.name} ({b.title})" for b in baseline_table.BASELINES.values())),
    # -- an imported curve ---------------------------------------------------------------------
    Field("source", "Written by", "choice", "auto", choices=CURVE_SOURCES,
          help="the tool that wrote the curve: its EMA-smoothed losses are inverted to the raw "
               "ones. auto recognises fastai's recorder and lrlab's files and reads lr/loss "
               "columns as raw (torch-lr-finder's history and Lightning's results look alike: "
               "name them)"),
    Field("smoothing_factor", "EMA factor", "float", None, low=0.0, high=1.0, low_open=True,
          high_open=True, optional=True,
          help="the tool's EMA factor if not its default (torch-lr-finder's smooth_f 0.05; "
               "Lightning's and fastai's beta 0.98)"),
    Field("imported.batch_size", "Batch size used", "int", 128, low=1, high=65536,
          cli="batch_size", help="the batch the curve was measured with: the advised LRs "
                                 "transfer to other batches from it"),
    Field("imported.total_steps", "Planned training steps", "int", 10_000, low=10,
          high=10_000_000, step=1000, cli="total_steps",
          help="the length of the advised schedules, in optimizer updates"),
    # -- the Schedule Designer: a schedule's length from a run, and the noise-scale panel -------
    Field("designer.steps_per_epoch", "Steps per epoch", "int", 100, low=1, step=10),
    Field("designer.dataset_size", "Dataset size", "int", 50_000, low=1, step=1000,
          help="training examples"),
    Field("designer.drop_last", "Drop the last partial batch", "bool", False),
    # -- the worker ---------------------------------------------------------------------------
    Field("worker.poll", "Idle poll (s)", "float", 0.25, low=0.0, high=3600.0, low_open=True,
          help="how often an idle worker looks for a job; an empty queue costs one indexed read"),
    Field("worker.heartbeat_timeout", "Heartbeat timeout (s)", "float", HEARTBEAT_TIMEOUT_S,
          low=0.0, high=86400.0, low_open=True, cli="heartbeat_timeout",
          help="a running job silent this long is marked failed (its worker presumed dead)"),
    Field("worker.cancel_grace", "Cancel grace (s)", "float", 10.0, low=0.0, high=3600.0,
          low_open=True, cli="cancel_grace",
          help="how long a cancelled job may take to stop before it is terminated"),
    Field("worker.artifacts", "Artifact root", "text", None, optional=True, cli="artifacts",
          help="where jobs keep their run folders, as a URL every host's app can read: a "
               "mounted share (file:///mnt/lrlab-runs) or fsspec storage (s3://bucket/runs); "
               "default: $LRLAB_ARTIFACTS, else $LRLAB_HOME/runs on this host"),
    Field("worker.executor", "Executor", "choice", "local", choices=("local", "ray"),
          cli="executor",
          help="local: a warm child process per job on this machine; ray: each job a Ray task "
               "on a cluster (needs lrlab[ray]; default from LRLAB_EXECUTOR)"),
    Field("worker.ray_address", "Ray address", "text", None, optional=True, cli="address",
          help="the Ray cluster to place jobs on (default: RAY_ADDRESS, else a local instance)"),
    Field("worker.gpus", "GPUs per job", "float", None, low=0.0, high=64.0, optional=True,
          cli="gpus", help="Ray: GPUs each job asks for, fractional allowed (default: 1 on a "
                           "cluster with GPUs, else 0)"),
    Field("worker.threads", "CPU threads per job", "int", None, low=1, high=1024, optional=True,
          cli="threads",
          help="torch's CPU threads in each job (OMP_NUM_THREADS); unset: torch's default, every "
               "core. Several workers on one CPU machine: cores / workers each, so parallel jobs "
               "(an LR check ladder's points) do not fight over the cores"),
    Field("worker.nice", "Niceness", "int", 0, low=0, high=19,
          help="lower this worker's and its jobs' CPU priority by N (the app's own worker uses "
               "10, so pages stay responsive while a job trains on the same CPU)"),
]
FIELDS: dict[str, Field] = {f.name: f for f in _FIELDS}


def defaults(prefix: str, keys: Iterable[str]) -> dict[str, Any]:
    """{key: default} for the fields of one config section, in the order given."""
    return {key: FIELDS[f"{prefix}.{key}" if prefix else key].default for key in keys}


def check(section: Mapping[str, Any], names: Iterable[str], prefix: str = "") -> dict[str, Any]:
    """Check the named fields of one config section (`prefix` is its path, e.g. "optimizer");
    returns the section with the checked values."""
    out = dict(section)
    for key in names:
        name = f"{prefix}.{key}" if prefix else key
        out[key] = FIELDS[name].check(out[key])
    return out


def add_flags(parser: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """One flag per field, typed and documented from its declaration; unset flags stay None so
    a config file's values are kept."""
    for name in names:
        f = FIELDS[name]
        help_text = f"{f.label}{': ' + f.help if f.help else ''} (default: {f.default})"
        if f.kind == "bool":
            parser.add_argument(f.flag, dest=f.dest, action=argparse.BooleanOptionalAction,
                                default=None, help=help_text)
        elif f.kind == "targets":
            parser.add_argument(f.flag, dest=f.dest, action="append", default=None,
                                metavar="TRACKER[:WHERE]", help=help_text)
        elif f.kind == "choice" and f.cli_choices:
            parser.add_argument(f.flag, dest=f.dest, choices=f.choices, default=None,
                                help=help_text)
        else:
            kind = {"int": int, "float": float}.get(f.kind, str)
            parser.add_argument(f.flag, dest=f.dest, type=kind, default=None, help=help_text)


def apply_flags(config: dict[str, Any], args: argparse.Namespace,
                names: Iterable[str]) -> dict[str, Any]:
    """The config with every flag that was given set at its field's path."""
    out = dict(config)
    for name in names:
        value = getattr(args, FIELDS[name].dest)
        if value is not None:
            set_path(out, name, value)
    return out


def flag_values(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """{field name: the flag's value, else the field's default}, each checked; a bad value is
    refused naming the flag (for settings that are flags only, not part of a config)."""
    values = {}
    for name in names:
        field = FIELDS[name]
        given = getattr(args, field.dest)
        values[name] = field.check(field.default if given is None else given, field.flag)
    return values


def set_path(config: dict[str, Any], name: str, value: Any) -> None:
    """config["a"]["b"] = value for name "a.b", copying the sections it passes through."""
    *sections, key = name.split(".")
    target = config
    for part in sections:
        child = target.get(part)
        target[part] = dict(child) if isinstance(child, Mapping) else {}
        target = target[part]
    target[key] = value


def config_from_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A nested config from {field name: value} (a page's widgets, a row of flags)."""
    config: dict[str, Any] = {}
    for name, value in values.items():
        set_path(config, name, value)
    return config
