"""Every kind x target: the target library's own schedule, stepped through the whole run, against
lrlab's values. Exact and table exports must agree to 1e-9 relative at every step; approximate
ones must deviate exactly as much as their label says (never more). Then import -> lrlab gives
the schedule back.

The libraries run for real (transformers, timm, Keras 3 on torch, optax on JAX, ignite), each
imported once for the session. Keras and JAX are set to float64, where "exact" is defined (their
float32 default is stated in the label's note).
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pytest
import torch

from lrlab.schedules import Schedule, ScheduleError
from lrlab.schedules.importers import parse_foreign
from lrlab.schedules.spec import KINDS
from lrlab.schedules.targets import TARGETS, export
from lrlab.schedules.targets.exactness import APPROXIMATE, EXACT_TOL, deviation

N = 240

MAIN = {
    "constant": {},
    "step": {"step_size": 70},
    "multistep": {"milestones": [100, 170]},
    "exponential": {"gamma": 0.99},
    "power": {"s": 30.0, "c": 0.5},
    "polynomial": {"power": 2.0, "min_lr": 0.002},
    "linear": {"end_factor": 0.05},
    "cosine": {"min_lr": 0.001},
    "sgdr": {"T_0": 20, "T_mult": 2},
    "onecycle": {},
    "cyclic": {"base_lr": 0.01, "step_size_up": 30, "step_size_down": 20},
    "piecewise": {"boundaries": [50, 100], "values": [1.0, 0.3, 0.1]},
    "inverse_sqrt": {"timescale": 40.0},
    "wsd": {"decay_steps": 60, "decay_shape": "cosine"},
}
WARMUPS = {
    "plain": {},
    "warmup from 0": {"warmup": {"steps": 24, "start_factor": 0.0, "shape": "linear"}},
    "warmup + hold": {"warmup": {"steps": 24, "start_factor": 0.1, "shape": "linear"},
                      "hold_steps": 16},
    "exponential warmup": {"warmup": {"steps": 24, "start_factor": 0.01,
                                      "shape": "exponential"}},
}
EXTRA = {  # schedules that reach the other branches of the native mappings
    "sgdr decaying": ("sgdr", {"T_0": 20, "T_mult": 2, "decay": 0.5, "min_lr": 0.001}, {}),
    "sgdr even": ("sgdr", {"T_0": 40, "T_mult": 1}, {}),
    "cosine to 0": ("cosine", {}, {}),
    "linear to 0": ("linear", {"end_factor": 0.0}, {}),
    "power c=1": ("power", {"s": 30.0, "c": 1.0}, {}),
    "exponential warmup wsd": ("wsd", {"decay_steps": 60, "min_lr": 0.01},
                               {"warmup": {"steps": 24, "start_factor": 0.1}}),
    "onecycle linear": ("onecycle", {"anneal_strategy": "linear"}, {}),
    "momentum": ("cosine", {}, {"momentum": {"value": 0.85}}),
}


def _cases() -> dict[str, dict]:
    cases = {}
    for kind, main in MAIN.items():
        for name, top in WARMUPS.items():
            if top and KINDS[kind].own_warmup:
                continue
            cases[f"{kind}, {name}"] = {"format": "lrlab.schedule/1", "base_lr": 0.1,
                                        "total_steps": N, "main": {"kind": kind, **main}, **top}
    for name, (kind, main, top) in EXTRA.items():
        cases[name] = {"format": "lrlab.schedule/1", "base_lr": 0.1, "total_steps": N,
                       "main": {"kind": kind, **main}, **top}
    return cases


CASES = _cases()
FRAMEWORKS = ("hf", "timm", "keras", "optax", "ignite", "csv", "lightning")


# -- each library, imported once, stepping its own schedule --------------------------------------


@pytest.fixture(scope="session")
def libraries() -> dict:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import ignite.engine
    import jax
    import keras
    import optax
    import timm.scheduler
    import transformers

    jax.config.update("jax_enable_x64", True)
    keras.config.set_floatx("float64")
    assert keras.backend.backend() == "torch"
    return {"transformers": transformers, "timm": timm, "keras": keras, "optax": optax,
            "jax": jax, "ignite": ignite}


def _sgd(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)


def _hf(result, libs) -> list[float]:
    if "table" in result.args:
        optimizer = _sgd(result.args["base_lr"])
        namespace: dict = {}
        exec(result.text, namespace)
        scheduler = namespace["build_scheduler"](optimizer)
    else:
        a = result.args
        optimizer = _sgd(a["learning_rate"])
        scheduler = libs["transformers"].get_scheduler(
            a["lr_scheduler_type"], optimizer, num_warmup_steps=a["warmup_steps"],
            num_training_steps=a["max_steps"], scheduler_specific_kwargs=a["lr_scheduler_kwargs"])
    out = []
    for _ in range(N):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def _timm(result, libs) -> list[float]:
    optimizer = _sgd(result.args["lr"])
    if "kwargs" in result.args:
        scheduler, _ = libs["timm"].scheduler.create_scheduler_v2(optimizer,
                                                                  **result.args["kwargs"])
    else:
        namespace = {"optimizer": optimizer}
        exec(result.text, namespace)
        scheduler = namespace["lr_scheduler"]
    out = []
    for t in range(N):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step_update(num_updates=t + 1)  # as timm's train loop does
    return out


def _keras(result, libs) -> list[float]:
    namespace: dict = {}
    exec(result.text, namespace)
    schedule = namespace["schedule"]
    rebuilt = libs["keras"].optimizers.schedules.deserialize(result.args)
    assert float(rebuilt(7)) == float(schedule(7))  # the JSON config is the same schedule
    if schedule.__class__.__name__ == "PiecewiseConstantDecay" and len(
            schedule.boundaries) > 8:  # a per-step table: Keras scans it at each call
        steps = [0, 1, 2, N // 3, N // 2, N - 2, N - 1]
        table = result.args["config"]["values"]
        assert [float(schedule(t)) for t in steps] == [table[t] for t in steps]
        return table
    return [float(schedule(t)) for t in range(N)]


def _optax(result, libs) -> list[float]:
    namespace: dict = {}
    exec(result.text, namespace)
    count = libs["jax"].numpy.arange(N)
    if "momentum_table" in result.args:
        momentum = np.asarray(namespace["momentum"](count))
        np.testing.assert_array_equal(momentum, result.args["momentum_table"])
    schedule = namespace["schedule"]
    return [float(schedule(libs["jax"].numpy.asarray(t))) for t in range(N)]


def _ignite(result, libs) -> list[float]:
    engine_module = libs["ignite"].engine
    optimizer = _sgd(1.0)
    trainer = engine_module.Engine(lambda engine, batch: optimizer.step())
    namespace = {"optimizer": optimizer, "trainer": trainer}
    exec(result.text, namespace)
    seen = []

    @trainer.on(engine_module.Events.ITERATION_STARTED)
    def record(engine) -> None:  # registered after the scheduler: sees what the update uses
        seen.append(optimizer.param_groups[0]["lr"])

    trainer.run(range(N), max_epochs=1)
    return seen


def _csv(result, libs) -> list[float]:
    import csv
    import io

    return [float(row["lr"]) for row in csv.DictReader(io.StringIO(result.text))]


def _lightning(result, libs) -> list[float]:
    from lrlab.schedules.targets.pytorch import run_exported

    return run_exported(result.text, N)


STEP_THROUGH = {"hf": _hf, "timm": _timm, "keras": _keras, "optax": _optax,
                "ignite": _ignite, "csv": _csv, "lightning": _lightning}


def _check(schedule: Schedule, result, real: list[float]) -> None:
    assert len(real) == N
    dev, at = deviation(schedule, np.asarray(real))
    label = result.exactness
    if label.label == APPROXIMATE:
        # The label states the real deviation: neither under- nor over-stated.
        assert dev == pytest.approx(label.max_rel_dev, rel=1e-6, abs=1e-12), (dev, at, label)
    else:
        assert dev <= EXACT_TOL, (dev, at, label)


@pytest.mark.parametrize("target", FRAMEWORKS)
@pytest.mark.parametrize("case", list(CASES))
def test_target_library_reproduces_the_export(libraries, case: str, target: str) -> None:
    schedule = Schedule.from_dict(CASES[case])
    result = export(schedule, target)  # auto: the built-in form when exact, else the table
    _check(schedule, result, STEP_THROUGH[target](result, libraries))
    try:
        native = export(schedule, target, "native")
    except ScheduleError as exc:
        assert "no built-in schedule" in str(exc)
        return
    _check(schedule, native, STEP_THROUGH[target](native, libraries))


def test_approximate_labels_occur_and_name_the_step(libraries) -> None:
    """Where a built-in form differs (timm's decaying SGDR peaks, optax's onecycle phases), the
    label says by how much and where; auto then gives the exact table and says why."""
    sgdr = Schedule.from_dict(CASES["sgdr decaying"])
    native = export(sgdr, "timm", "native")
    # Cycles start at 0, 20, 60, 140; the gap between the peaks grows with each restart.
    assert native.exactness.label == APPROXIMATE and native.exactness.at_step == 140
    auto = export(sgdr, "timm")
    assert auto.exactness.label == "via table"
    assert "built-in form would deviate up to" in auto.exactness.note
    onecycle = export(Schedule.from_dict(CASES["onecycle, plain"]), "optax", "native")
    assert onecycle.exactness.label == APPROXIMATE


def test_lightning_trainer_steps_the_export_every_update(libraries, tmp_path) -> None:
    """A real Lightning Trainer, configured with the export, gives each update lrlab's LR and
    (for 1cycle) momentum."""
    import pytorch_lightning as pl

    for case in ("cosine, warmup + hold", "onecycle, plain"):
        schedule = Schedule.from_dict(CASES[case])
        namespace: dict = {}
        exec(export(schedule, "lightning").text, namespace)

        class Probe(pl.LightningModule):
            def __init__(self, exported: dict) -> None:
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(1))
                self.exported = exported
                self.seen: list[tuple[float, float]] = []

            def training_step(self, batch, index):
                group = self.optimizers().param_groups[0]
                self.seen.append((group["lr"], group["momentum"]))
                return (self.w * batch).sum()

            def configure_optimizers(self):
                optimizer = torch.optim.SGD(self.parameters(), lr=1.0, momentum=0.9)
                return self.exported["lightning_optimizers"](optimizer)

            def train_dataloader(self):
                return torch.utils.data.DataLoader(torch.ones(N, 1), batch_size=1)

        probe = Probe(namespace)
        pl.Trainer(max_steps=N, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                   default_root_dir=tmp_path).fit(probe)
        lrs, moms = zip(*probe.seen, strict=True)
        np.testing.assert_allclose(lrs, schedule.lr(np.arange(N)), rtol=1e-12, atol=1e-15)
        if schedule.momentum([0]) is not None:
            np.testing.assert_allclose(moms, schedule.momentum(np.arange(N)), rtol=1e-12)


def test_hf_arguments_are_what_training_arguments_take(libraries, tmp_path) -> None:
    schedule = Schedule.from_dict(CASES["cosine, warmup from 0"])
    args = export(schedule, "hf").args
    training = libraries["transformers"].TrainingArguments(output_dir=str(tmp_path), **args,
                                                           report_to=[])
    assert training.get_warmup_steps(training.max_steps) == 24
    assert training.lr_scheduler_type == "cosine_with_min_lr"


def test_momentum_travels_where_the_target_has_a_place(libraries) -> None:
    onecycle = Schedule.from_dict(CASES["onecycle, plain"])
    moms = onecycle.momentum(np.arange(N))
    optax_export = export(onecycle, "optax")
    assert "inject_hyperparams" in optax_export.momentum
    _optax(optax_export, libraries)  # the momentum function equals lrlab's, step for step
    ignite_export = export(onecycle, "ignite")
    optimizer = _sgd(1.0)
    engine_module = libraries["ignite"].engine
    trainer = engine_module.Engine(lambda engine, batch: optimizer.step())
    exec(ignite_export.text, {"optimizer": optimizer, "trainer": trainer})
    seen = []
    trainer.add_event_handler(engine_module.Events.ITERATION_STARTED,
                              lambda e: seen.append(optimizer.param_groups[0]["momentum"]))
    trainer.run(range(N), max_epochs=1)
    np.testing.assert_allclose(seen, moms, rtol=1e-12)
    for target in ("hf", "timm", "keras"):
        assert export(onecycle, target).momentum.startswith("not carried")


@pytest.mark.parametrize("target", ["hf", "timm", "keras"])
@pytest.mark.parametrize("case", list(CASES))
def test_import_gives_the_schedule_back(case: str, target: str) -> None:
    schedule = Schedule.from_dict(CASES[case])
    try:
        result = export(schedule, target, "native")
    except ScheduleError:
        return
    if result.exactness.label == APPROXIMATE:
        return  # the built-in form is another schedule; reading it back gives that one
    steps = np.arange(N)
    for text in (result.text, _as_json(target, result.args)):
        back = Schedule.from_dict(parse_foreign(text, target, total_steps=N, name="x"))
        np.testing.assert_allclose(back.lr(steps), schedule.lr(steps), rtol=1e-12, atol=1e-15)


def _as_json(target: str, args: dict) -> str:
    import json

    if target == "timm":
        return json.dumps({"lr": args["lr"], **args["kwargs"]})
    return json.dumps(args)


def test_plateau_goes_only_where_a_metric_can_drive_it() -> None:
    plateau = Schedule.from_dict({"format": "lrlab.schedule/1", "base_lr": 0.1,
                                  "total_steps": N, "main": {"kind": "plateau"}})
    for target, spec in TARGETS.items():
        if spec.plateau:
            assert export(plateau, target).text
        else:
            with pytest.raises(ScheduleError, match="follows a validation metric"):
                export(plateau, target)


@pytest.mark.parametrize(
    ("text", "source", "message"),
    [
        ('{"lr_scheduler_type": "cosine_with_restarts", "max_steps": 100, '
         '"lr_scheduler_kwargs": {"num_cycles": 3}}', "hf", "do not split the 100 steps"),
        ('{"lr_scheduler_type": "greedy", "max_steps": 100}', "hf", "'greedy' has no lrlab"),
        ('{"lr_scheduler_type": "cosine"}', "hf", "max_steps: missing"),
        ('{"sched": "cosine", "lr": 0.1}', "timm", "step_on_epochs: true steps the LR once"),
        ('{"sched": "cosine", "lr": 0.1, "step_on_epochs": false, "updates_per_epoch": 10, '
         '"warmup_epochs": 2}', "timm", "warmup_prefix: false"),
        ('{"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, '
         '"decay_steps": 10, "decay_rate": 0.5}}', "keras", "give the run's length"),
        ('{"class_name": "CosineDecay"}', "keras", "decay_steps: missing"),
        ("x = 1\nCONFIG = make_config()\n", None, "only literal values can be read"),
        ('{"format": "lrlab.schedule/1"}', None, "already an lrlab.schedule/1 file"),
    ],
)
def test_import_refuses_with_the_field_and_reason(text: str, source, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_foreign(text, source, name="in.json")


def test_every_value_of_a_table_export_reads_back_exactly() -> None:
    """repr-written tables lose nothing: the csv equals lrlab's float64 values bit for bit."""
    schedule = Schedule.from_dict(CASES["onecycle, plain"])
    values = _csv(export(schedule, "csv"), None)
    assert values == schedule.lr(np.arange(N)).tolist()
    assert all(math.isfinite(v) for v in values)


def test_the_designer_import_box_reads_every_format() -> None:
    """parse_any: lrlab's own file, an export's Python, or a JSON config sized by the form."""
    from lrlab.schedules.importers import parse_any
    from lrlab.schedules.io import dump_schedule

    schedule = Schedule.from_dict(CASES["cosine, warmup from 0"])
    steps = np.arange(N)
    for text in (dump_schedule(schedule, "yaml"), export(schedule, "hf").text,
                 export(schedule, "keras").text, export(schedule, "timm").text):
        np.testing.assert_allclose(parse_any(text, "upload", N).lr(steps), schedule.lr(steps),
                                   rtol=1e-12)
    keras_step = ('{"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1,'
                  ' "decay_steps": 10, "decay_rate": 0.5, "staircase": true}}')
    assert parse_any(keras_step, "k.json", total_steps=77).total_steps == 77
    with pytest.raises(ScheduleError, match=r"bad\.yaml: not valid JSON or YAML"):
        parse_any("{ nope", "bad.yaml")


def _hf_file_cases() -> list[str]:
    """Every case transformers has a built-in schedule exactly equal to (its file form)."""
    return [case for case in CASES
            if export(Schedule.from_dict(CASES[case]), "hf").exactness.label == "exact"
            and "lr_scheduler_type" in export(Schedule.from_dict(CASES[case]), "hf").args]


@pytest.mark.parametrize("file_format", ["json", "yaml"])
def test_hf_files_parse_and_train_lrlabs_lr_in_a_real_trainer(libraries, tmp_path,
                                                              file_format: str) -> None:
    """The JSON/YAML form, read by HfArgumentParser, configures a real Trainer whose step loop
    gives every update lrlab's LR (1e-9), for every kind transformers has built in."""
    transformers = libraries["transformers"]
    cases = _hf_file_cases()
    kinds = {CASES[c]["main"]["kind"] for c in cases}
    assert {"constant", "linear", "cosine", "polynomial", "inverse_sqrt", "wsd"} <= kinds

    class Probe(transformers.TrainerCallback):
        def __init__(self) -> None:
            self.lrs: list[float] = []

        def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
            self.lrs.append(optimizer.param_groups[0]["lr"])

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, labels=None):
            return {"loss": (self.w * x).sum() * 0.0 + (self.w ** 2).sum()}

    data = [{"x": torch.ones(1)} for _ in range(N)]
    for case in cases:
        schedule = Schedule.from_dict(CASES[case])
        exported = export(schedule, "hf", file_format=file_format)
        path = tmp_path / exported.filename
        path.write_text(exported.text)
        parser = transformers.HfArgumentParser(transformers.TrainingArguments)
        read = (parser.parse_json_file(str(path)) if file_format == "json"
                else parser.parse_yaml_file(str(path)))[0]
        read = dataclasses.replace(read, output_dir=str(tmp_path / "out"), report_to=[],
                                   use_cpu=True, per_device_train_batch_size=1,
                                   save_strategy="no", logging_strategy="no",
                                   disable_tqdm=True)
        probe = Probe()
        transformers.Trainer(model=Tiny(), args=read, train_dataset=data,
                             callbacks=[probe]).train()
        assert len(probe.lrs) == schedule.total_steps, case
        np.testing.assert_allclose(probe.lrs, schedule.lr(np.arange(schedule.total_steps)),
                                   rtol=1e-9, atol=1e-15, err_msg=case)


def test_an_hf_file_is_refused_where_only_a_table_is_exact() -> None:
    schedule = Schedule.from_dict(CASES["onecycle, plain"])
    with pytest.raises(ScheduleError, match=r"--format json: transformers has no built-in "
                                            r"schedule equal to this one .* use --format code"):
        export(schedule, "hf", file_format="json")
    with pytest.raises(ScheduleError, match=r"--format yaml: optax .* use --format code"):
        export(schedule, "optax", file_format="yaml")


@pytest.mark.parametrize("file_format", ["json", "yaml"])
def test_keras_files_deserialize_to_lrlabs_lr(libraries, file_format: str) -> None:
    """The JSON/YAML form is what keras.optimizers.schedules.deserialize reads: native
    classes and the table alike give every step lrlab's LR (float64)."""
    import json

    import yaml

    keras = libraries["keras"]
    for case in ("cosine, warmup from 0", "sgdr, plain", "onecycle, plain", "multistep, plain"):
        schedule = Schedule.from_dict(CASES[case])
        exported = export(schedule, "keras", file_format=file_format)
        read = json.loads(exported.text) if file_format == "json" else yaml.safe_load(
            exported.text)
        built = keras.optimizers.schedules.deserialize(read)
        got = [float(keras.ops.convert_to_numpy(built(t))) for t in range(N)]
        np.testing.assert_allclose(got, schedule.lr(np.arange(N)), rtol=1e-9, atol=1e-15,
                                   err_msg=case)
