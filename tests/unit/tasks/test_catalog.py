"""What a form shows of a registered task: arguments read from the factory's signature and
annotations (or its task_form declaration), checked values, and only registered specs read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import pytest

import lrlab
from lrlab.core.errors import LrlabError
from lrlab.tasks.catalog import TaskArg, describe, registered_tasks, task_form


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> None:
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)


def test_arguments_come_from_the_signature_and_annotations(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _module(tmp_path, monkeypatch, "sig_task", '''
from typing import Literal, Optional

def build(width: int, rate: float = 0.5, cell: Literal["gru", "lstm"] = "gru",
          tied: bool = False, name: str = "x", depth: Optional[int] = None,
          sizes: list = (1, 2), untyped=3, seed: int = 0):
    """Builds a thing.

    More words."""
''')
    entry = describe("sig_task:build")
    assert entry.title == "sig_task:build" and entry.description == "Builds a thing."
    by_name = {a.name: a for a in entry.args}
    assert list(by_name) == ["width", "rate", "cell", "tied", "name", "depth", "sizes",
                             "untyped"]  # seed is the run's
    assert (by_name["width"].kind, by_name["width"].required) == ("int", True)
    assert (by_name["rate"].kind, by_name["rate"].default) == ("float", 0.5)
    assert (by_name["cell"].kind, by_name["cell"].choices) == ("choice", ("gru", "lstm"))
    assert by_name["tied"].kind == "bool" and by_name["name"].kind == "text"
    assert (by_name["depth"].kind, by_name["depth"].default) == ("int", None)
    assert by_name["sizes"].kind == "yaml" and by_name["untyped"].kind == "int"


def test_a_declaration_completes_and_overrides_the_signature() -> None:
    @task_form(title="Mine", description="Why it exists.",
               args={"width": {"low": 2, "high": 64, "help": "units"},
                     "act": {"choices": ["relu", "gelu"]}})
    def build(width: int = 8, act: str = "relu") -> lrlab.Task:
        raise AssertionError("a form never calls the factory")

    module = type(sys)("declared_task")
    module.build = build
    sys.modules["declared_task"] = module
    try:
        entry = describe("declared_task:build")
    finally:
        del sys.modules["declared_task"]
    assert (entry.title, entry.description) == ("Mine", "Why it exists.")
    width, act = entry.args
    assert (width.low, width.high, width.help) == (2, 64, "units")
    assert (act.kind, act.choices) == ("choice", ("relu", "gelu"))


def test_a_declaration_naming_what_the_factory_does_not_take_is_refused() -> None:
    with pytest.raises(LrlabError, match="argument 'x' declares 'minimum'; expected any of"):
        task_form(args={"x": {"minimum": 1}})
    with pytest.raises(LrlabError, match="kind 'number'; expected one of"):
        task_form(args={"x": {"kind": "number"}})

    @task_form(args={"typo": {"help": "?"}})
    def build(width: int = 8) -> None: ...

    module = type(sys)("typo_task")
    module.build = build
    sys.modules["typo_task"] = module
    try:
        with pytest.raises(LrlabError, match="declares 'typo', which the factory does not "
                                             "take"):
            describe("typo_task:build")
    finally:
        del sys.modules["typo_task"]


@pytest.mark.parametrize(("arg", "value", "expected"), [
    (TaskArg("n", "int", 3, low=1), 4.0, 4),
    (TaskArg("r", "float", 0.1), 1, 1.0),
    (TaskArg("c", "choice", "a", choices=("a", "b")), "b", "b"),
    (TaskArg("s", "yaml", [1]), "[1, 2]", [1, 2]),
    (TaskArg("s", "yaml", None), "{a: 1}", {"a": 1}),
    (TaskArg("n", "int", 3), None, 3),
])
def test_values_are_read_as_their_kind(arg: TaskArg, value: object, expected: object) -> None:
    assert arg.check(value, "t:f") == expected


@pytest.mark.parametrize(("arg", "value", "message"), [
    (TaskArg("n", "int", 3, low=1), 0, "argument n: expected at least 1, got 0"),
    (TaskArg("n", "int", 3, high=9), 10, "argument n: expected at most 9, got 10"),
    (TaskArg("n", "int", 3), 2.5, "argument n: expected a whole number, got 2.5"),
    (TaskArg("n", "int", 3), True, "argument n: expected a whole number, got True"),
    (TaskArg("r", "float", 0.1), "fast", "argument r: expected a number, got 'fast'"),
    (TaskArg("c", "choice", "a", choices=("a", "b")), "z",
     "argument c: expected one of a, b, got 'z'"),
    (TaskArg("w", "int"), None, "argument w: a value is required"),
    (TaskArg("s", "yaml", None), "[1, ", "argument s: expected a YAML value"),
])
def test_bad_values_are_one_sentence_naming_task_and_argument(
        arg: TaskArg, value: object, message: str) -> None:
    with pytest.raises(LrlabError, match=r"^task 't:f', " + message.replace("[", r"\[")):
        arg.check(value, "t:f")


def test_check_args_leaves_defaults_out_and_refuses_unknown_names() -> None:
    entry = describe("examples.tabular:build")
    assert entry.check_args({"hidden": 64, "batch_size": 16}) == {"batch_size": 16}
    with pytest.raises(LrlabError, match="no argument 'width' \\(it takes hidden, batch_size, "
                                         "val_share\\)"):
        entry.check_args({"width": 3})


def test_only_registered_specs_are_read(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A module not registered is never imported (it would leave a marker file); a registered
    one that fails is listed with its problem, after those that can be offered."""
    marker = tmp_path / "imported"
    _module(tmp_path, monkeypatch, "unlisted_task",
            f"open({str(marker)!r}, 'w').close()\ndef build():\n    pass\n")
    monkeypatch.setenv("LRLAB_TASKS", "examples.tabular:build, missing_pkg.tasks:build")
    entries = registered_tasks()
    assert [e.spec for e in entries] == ["examples.tabular:build", "missing_pkg.tasks:build"]
    assert entries[0].problem is None and entries[0].title == "Breast-cancer MLP (tabular)"
    assert entries[1].problem == ("task 'missing_pkg.tasks:build': no module named "
                                  "'missing_pkg' (install the package that holds it, or put "
                                  "its folder on PYTHONPATH)")
    assert not marker.exists()


def test_literal_annotations_give_choices_without_a_declaration() -> None:
    def build(mode: Literal["a", "b"] = "b") -> None: ...

    module = type(sys)("literal_task")
    module.build = build
    sys.modules["literal_task"] = module
    try:
        (arg,) = describe("literal_task:build").args
    finally:
        del sys.modules["literal_task"]
    assert (arg.kind, arg.choices, arg.default) == ("choice", ("a", "b"), "b")
