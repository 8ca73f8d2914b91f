"""The pages' widgets are drawn from the option registry: the same choices, defaults, limits,
labels and help as the validators and the CLI flags (see tests/unit/test_options.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import run_page

from lrlab.core import options
from lrlab.schedules.spec import KINDS, SETTINGS
from lrlab.tasks.image.data import DATASETS
from lrlab.web import designer


@pytest.mark.parametrize(
    ("page", "widgets"),
    [
        ("lr_finder.py", {"finder.model": "model", "finder.dataset": "dataset",
                          "finder.opt": "optimizer.name", "finder.mode": "mode",
                          "finder.momentum": "optimizer.momentum", "finder.points": "num_points",
                          "finder.seeds": "seeds", "finder.end": "end_lr"}),
        ("training.py", {"training.model": "model", "training.variant": "variant",
                         "training.precision": "precision", "training.opt": "optimizer.name",
                         "training.epochs": "epochs", "training.lr": "optimizer.lr",
                         "training.label_smoothing": "tricks.label_smoothing",
                         "training.warmup": "tricks.warmup_epochs"}),
    ],
)
def test_page_widgets_are_built_from_the_registry(
    lrlab_home: Path, page: str, widgets: dict[str, str]
) -> None:
    at = run_page(page)
    for key, name in widgets.items():
        field = options.FIELDS[name]
        if field.kind == "choice":
            box = at.selectbox(key=key)
            shown = (tuple(DATASETS[n].title for n in field.choices) if name == "dataset"
                     else field.choices)  # datasets are listed by title
            assert tuple(box.options) == shown, key
            assert box.value == field.default, key
            continue
        box = at.number_input(key=key)
        proto = box.proto
        assert proto.label == field.label, key
        if field.low is not None and not field.low_open:
            assert proto.has_min and proto.min == field.low, key
        if field.high is not None and not field.high_open:
            assert proto.has_max and proto.max == field.high, key
        assert proto.help == field.help, key


def test_designer_widgets_are_built_from_the_schedule_declarations(lrlab_home: Path) -> None:
    """Each kind's parameters and the settings around them: one declaration, read by the
    validator (`schedules.config`) and by these widgets."""
    at = run_page("schedule_designer.py")
    P = designer.FORM_PREFIX
    checked = 0
    for kind in KINDS.values():
        at.selectbox(key=P + "kind").set_value(kind.name).run()
        assert not at.exception, kind.name
        declared = {P + designer.field_key(kind.name, f): f for f in kind.fields}
        if not kind.own_warmup:
            declared |= {P + name: SETTINGS[name] for name in
                         ("warmup.steps", "warmup.start_factor", "hold_steps", "momentum.value")}
        for key, field in declared.items():
            if field.kind in ("int", "float"):
                proto = at.number_input(key=key).proto
                assert proto.label == field.label, key
                assert proto.has_min == (field.low is not None and not field.low_open), key
                if proto.has_min:
                    assert proto.min == field.low, key
                assert proto.has_max == (field.high is not None and not field.high_open), key
                if proto.has_max:
                    assert proto.max == field.high, key
            elif field.kind == "choice":
                assert tuple(at.selectbox(key=key).options) == field.choices, key
            elif field.kind == "bool":
                assert at.toggle(key=key).label == field.label, key
            else:
                assert at.text_input(key=key).label == field.label, key
            checked += 1
    assert checked > 60
