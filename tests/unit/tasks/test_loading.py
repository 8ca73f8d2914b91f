"""Naming and building a task: a spec is checked before anything is imported, every mistake is
one sentence naming the spec, the factory is seeded and gets its arguments, and a worker's
registration decides what it may import."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

from lrlab.core.errors import LrlabError
from lrlab.tasks import loading
from lrlab.tasks.protocol import Task


@pytest.fixture
def factories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of factories on sys.path (its name unique to this test)."""
    name = f"factories_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn
        import lrlab

        def build(hidden=4, seed=0):
            model = nn.Linear(3, hidden)
            return lrlab.Task(model=model, train=[(torch.zeros(2, 3), torch.zeros(2).long())])

        def fixed(width=2):
            return lrlab.Task(model=nn.Linear(3, width), train=[])

        def boom(seed=0):
            raise RuntimeError("the data folder is missing")

        def wrong(seed=0):
            return 42

        constant = 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.mark.parametrize("spec", ["pkg.mod:build", "mod:Factory.create", "installed_task"])
def test_specs_in_the_entry_point_syntax_are_accepted(spec: str) -> None:
    assert loading.check_spec(f" {spec} ") == spec


@pytest.mark.parametrize("spec", ["pkg.mod:", "a b:c", "mod:fn()", "", 3, "../x:y"])
def test_anything_else_is_refused_naming_the_field(spec: object) -> None:
    with pytest.raises(LrlabError, match=r"^task.spec: expected package.module:function"):
        loading.check_spec(spec)


def test_the_factory_gets_its_arguments_and_the_seed_after_seeding(factories: str) -> None:
    a = loading.build_task(f"{factories}:build", {"hidden": 5}, seed=7)
    b = loading.build_task(f"{factories}:build", {"hidden": 5}, seed=7)
    c = loading.build_task(f"{factories}:build", {"hidden": 5}, seed=8)
    assert isinstance(a, Task) and a.model.out_features == 5
    assert torch.equal(a.model.weight, b.model.weight)  # seeded alike: the same weights
    assert not torch.equal(a.model.weight, c.model.weight)
    assert loading.build_task(f"{factories}:fixed", {"width": 3}).model.out_features == 3


@pytest.mark.parametrize(("attribute", "args", "words"), [
    ("boom", {}, "the factory raised RuntimeError: the data folder is missing"),
    ("wrong", {}, "the factory returned int, not an lrlab.Task"),
    ("missing", {}, "has no 'missing'"),
    ("constant", {}, "constant is not a function"),
    ("build", {"depth": 3}, "its arguments do not fit the factory"),
])
def test_a_bad_factory_is_one_sentence_naming_the_spec(factories: str, attribute: str,
                                                       args: dict, words: str) -> None:
    with pytest.raises(LrlabError) as err:
        loading.build_task(f"{factories}:{attribute}", args)
    assert str(err.value).startswith(f"task '{factories}:{attribute}': ")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_an_unknown_module_says_how_to_ship_it() -> None:
    with pytest.raises(LrlabError) as err:
        loading.build_task("nowhere_to_be_found.tasks:build")
    assert "no module named 'nowhere_to_be_found'" in str(err.value)
    assert "PYTHONPATH" in str(err.value)


def test_an_installed_tasks_name_stands_for_its_spec(factories: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loading, "entry_point_specs", lambda: {"tiny": f"{factories}:fixed"})
    assert loading.build_task("tiny").model.out_features == 2
    assert "tiny" in loading.registered_specs() and f"{factories}:fixed" in \
        loading.registered_specs()
    with pytest.raises(LrlabError, match="no installed package names a task so"):
        loading.build_task("other")


def test_a_worker_trusts_only_what_it_was_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRLAB_TASKS", "a.b:c, d.e:f")
    trusted = loading.registered_specs(["g.h:i"])
    assert {"a.b:c", "d.e:f", "g.h:i"} <= trusted
    loading.require_registered("d.e:f", trusted)
    with pytest.raises(LrlabError) as err:
        loading.require_registered("x.y:z", trusted)
    assert "not registered with this worker, so it was not imported" in str(err.value)
    assert "--task x.y:z" in str(err.value) and "LRLAB_TASKS" in str(err.value)
    assert "x" not in sys.modules


def test_task_arguments_are_read_as_yaml_never_as_code() -> None:
    assert loading.parse_task_args(["hidden=128", "rate=0.1", "deep=true", "name=gru",
                                    "sizes=[1, 2]", "empty="]) == {
        "hidden": 128, "rate": 0.1, "deep": True, "name": "gru", "sizes": [1, 2], "empty": ""}
    assert loading.parse_task_args(["tag=!!python/object:os.system"]) == {
        "tag": "!!python/object:os.system"}  # safe_load refuses it: kept as text
    with pytest.raises(LrlabError, match="--task-arg: expected key=value"):
        loading.parse_task_args(["hidden"])
