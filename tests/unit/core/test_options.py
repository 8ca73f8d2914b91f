"""Every option declared once: its check names the field and the limit, and the CLI flags and
page widgets that offer it are built from the same declaration (choices, limits, defaults)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from lrlab.cli import build_parser
from lrlab.cli.check import LADDER_FLAGS
from lrlab.cli.find import SWEEP_FLAGS
from lrlab.cli.train import TRAIN_FLAGS
from lrlab.core import options
from lrlab.core.errors import LrlabError
from lrlab.tasks.image.data import DATASETS
from lrlab.tasks.image.models import MODELS


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("batch_size", 0, "batch_size: expected an integer >= 1, got 0"),
        ("batch_size", 2.5, "batch_size: expected an integer >= 1, got 2.5"),
        ("optimizer.momentum", 1.0, "optimizer.momentum: expected a number in [0, 1), got 1.0"),
        ("optimizer.lr", 0, "optimizer.lr: expected a number in (0, 100], got 0"),
        ("optimizer.lr", True, "optimizer.lr: expected a number, got True"),
        ("optimizer.name", "lion",
         "optimizer.name: expected one of sgd, sgdw, adam, adamw, schedulefree_adamw, "
         "schedulefree_sgd, prodigy, dadapt_adam, dog, got 'lion'"),
        ("tricks.cosine", "yes", "tricks.cosine: expected true or false, got 'yes'"),
        ("data_root", 3, "data_root: expected text, got 3"),
        ("model", "resnet1000", "model: expected one of small_cnn, resnet18"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field_and_the_limit(
    name: str, value: object, message: str
) -> None:
    with pytest.raises(LrlabError) as info:
        options.FIELDS[name].check(value)
    assert str(info.value).startswith(message)


def test_good_values_are_normalised() -> None:
    assert options.FIELDS["batch_size"].check(64.0) == 64 and options.FIELDS["width"].check(None) \
        is None
    assert options.FIELDS["optimizer.momentum"].check(0) == 0.0
    assert options.FIELDS["data_root"].check("  ") is None


def test_every_default_passes_its_own_check() -> None:
    for field in options.FIELDS.values():
        assert field.check(field.default) == field.default, field.name


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]


@pytest.mark.parametrize(("command", "names"), [
    ("find", TRAIN_FLAGS + SWEEP_FLAGS), ("train", TRAIN_FLAGS),
    ("check", tuple(n for n in TRAIN_FLAGS if n != "epochs") + LADDER_FLAGS)])
def test_cli_flags_are_built_from_the_registry(command: str, names: tuple[str, ...]) -> None:
    actions = {a.dest: a for a in _subparser(command)._actions}
    for name in names:
        field = options.FIELDS[name]
        action = actions[field.dest]
        assert action.option_strings[0] == field.flag
        assert action.default is None  # unset flags keep a config file's value
        assert field.label in action.help and str(field.default) in action.help
        if field.kind == "choice" and field.cli_choices:
            assert tuple(action.choices) == field.choices
        if field.kind in ("int", "float"):
            assert action.type is {"int": int, "float": float}[field.kind]


def test_model_and_dataset_choices_are_the_registries() -> None:
    """The names declared in options are the ones the zoo and the datasets can build, in the
    registries' order (the order pages list them in)."""
    assert options.FIELDS["model"].choices == tuple(MODELS)
    assert options.FIELDS["dataset"].choices == tuple(DATASETS)


def test_a_cheap_mistake_is_refused_without_importing_torch() -> None:
    """Pages and the CLI answer a bad batch at once: validation reaches for torch (the model and
    dataset registries) only after the cheap checks pass."""
    code = ("import sys\nfrom lrlab.jobs import kinds\nfrom lrlab.core.errors import LrlabError\n"
            "for kind in ('find', 'train', 'selftest'):\n"
            "    try:\n        kinds.validate(kind, {'batch_size': 0} if kind != 'selftest'"
            " else {'steps': 0})\n    except LrlabError:\n        pass\n"
            "    else:\n        raise SystemExit(kind + ' accepted a bad config')\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "False"
