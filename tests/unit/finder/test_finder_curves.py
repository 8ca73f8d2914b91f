"""Curve import from other tools' shapes, and the errors bad curves give."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lrlab.core.errors import LrlabError
from lrlab.finder.curves import curve_from_mapping, load_curve, validate_curve

LRS = [1e-4, 1e-3, 1e-2, 1e-1]
LOSSES = [2.0, 1.5, 0.7, 3.0]


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "obj",
    [
        {"lr": LRS, "loss": LOSSES},  # torch-lr-finder history, Lightning results
        {"lrs": LRS, "losses": LOSSES},  # fastai Recorder
        {"results": {"LR": LRS, "Loss": LOSSES}},  # nested, any case
        [{"learning_rate": a, "loss": b} for a, b in zip(LRS, LOSSES, strict=True)],  # rows
    ],
)
def test_json_shapes_of_other_tools(tmp_path: Path, obj: object) -> None:
    curve = load_curve(write(tmp_path, "c.json", json.dumps(obj)))
    np.testing.assert_array_equal(curve.lrs, LRS)
    np.testing.assert_array_equal(curve.losses, LOSSES)
    assert "c.json" in curve.source


def test_range_test_file_reads_raw_loss_and_null_as_nan(tmp_path: Path) -> None:
    obj = {
        "format": "lrlab.range_test/2",
        "config": {"optimizer": {"lr": 0.1}},
        "lr": LRS,
        "loss": [2.0, 1.5, 0.7, None],
        "smoothed": [9.0, 9.0, 9.0, None],
    }
    curve = load_curve(write(tmp_path, "r.json", json.dumps(obj)))
    assert curve.losses[:3].tolist() == [2.0, 1.5, 0.7] and math.isnan(curve.losses[3])
    assert "lrlab.range_test/2" in curve.source


def test_csv_with_any_case_and_aliases(tmp_path: Path) -> None:
    rows = "\n".join(f"{a},{b},x" for a, b in zip(LRS, LOSSES, strict=True))
    curve = load_curve(write(tmp_path, "c.csv", f"Learning_Rate,Losses,note\n{rows}\n"))
    np.testing.assert_array_equal(curve.lrs, LRS)
    np.testing.assert_array_equal(curve.losses, LOSSES)


def test_in_memory_mapping() -> None:
    curve = curve_from_mapping({"lr": np.array(LRS), "loss": LOSSES}, source="torch-lr-finder")
    assert curve.source == "torch-lr-finder" and len(curve.lrs) == 4


@pytest.mark.parametrize(
    ("lrs", "losses", "message"),
    [
        ([], [], "empty"),
        ([1e-3, 1e-2], [1.0], "must match"),
        ([1e-2, 1e-3], [1.0, 2.0], "strictly increasing"),
        ([1e-3, 1e-3], [1.0, 2.0], "strictly increasing"),
        ([0.0, 1e-3], [1.0, 2.0], "> 0"),
        ([-1e-3, 1e-3], [1.0, 2.0], "> 0"),
        ([1e-3, float("inf")], [1.0, 2.0], "finite"),
        ([1e-3, 1e-2], [float("nan"), float("inf")], "NaN"),
        ([1e-3, 1e-2], ["a", "b"], "numbers"),
    ],
)
def test_bad_curves(lrs: list, losses: list, message: str) -> None:
    with pytest.raises(LrlabError, match=message):
        validate_curve(lrs, losses, where="my curve")
    with pytest.raises(LrlabError, match="my curve"):
        validate_curve(lrs, losses, where="my curve")


def test_missing_columns_name_the_file_and_what_was_found(tmp_path: Path) -> None:
    p = write(tmp_path, "c.csv", "step,value\n1,2\n")
    with pytest.raises(LrlabError, match=r"c\.csv.*'step', 'value'"):
        load_curve(p)
    p = write(tmp_path, "c.json", json.dumps({"lr": LRS, "accuracy": LOSSES}))
    with pytest.raises(LrlabError, match=r"c\.json.*'lr', 'accuracy'"):
        load_curve(p)


def test_unreadable_empty_and_non_numeric_files(tmp_path: Path) -> None:
    with pytest.raises(LrlabError, match="cannot read"):
        load_curve(tmp_path / "missing.json")
    with pytest.raises(LrlabError, match="empty"):
        load_curve(write(tmp_path, "e.csv", "  \n"))
    with pytest.raises(LrlabError, match="not a number"):
        load_curve(write(tmp_path, "n.csv", "lr,loss\n0.1,abc\n"))
    with pytest.raises(LrlabError, match="no CSV rows"):
        load_curve(write(tmp_path, "h.csv", "lr,loss\n"))
    with pytest.raises(LrlabError, match="list of numbers"):
        curve_from_mapping({"lr": "0.1", "loss": "2"})


def test_an_uploaded_csv_is_analysed_like_a_range_test_with_advice() -> None:
    import numpy as np

    from lrlab.finder.analysis import analyze
    from lrlab.finder.curves import parse_curve
    from lrlab.finder.importers import analyze_imported

    lrs = np.logspace(-6, 0, 60)
    losses = 2.3 - 1.5 / (1 + np.exp(-(np.log10(lrs) + 3) * 3)) + np.where(lrs > 0.3, 5 * lrs, 0)
    text = "lr,loss\n" + "\n".join(f"{a:.17g},{b:.17g}" for a, b in zip(lrs, losses, strict=True))
    curve = parse_curve(text, "uploads/history.csv")
    assert curve.source.startswith("history.csv (CSV")
    result = analyze_imported(curve, optimizer="adam", batch_size=128, total_steps=5000)
    reference = analyze(lrs, losses, optimizer="adam").to_dict()
    assert result["format"] == "lrlab.range_test/2"
    assert result["suggestions"] == reference["suggestions"]
    assert result["advice"]["onecycle"]["total_steps"] == 5000
    assert "advice" not in analyze_imported(curve)  # no batch size: no transfer, no advice


@pytest.mark.parametrize(("text", "message"), [
    ("", "history.csv: the file is empty"),
    ("a,b\n1,2\n", "history.csv"),
    ("lr,loss\n0.1,abc\n", "history.csv"),
])
def test_a_bad_upload_names_the_file(text: str, message: str) -> None:
    from lrlab.finder.curves import parse_curve

    with pytest.raises(LrlabError, match=message):
        parse_curve(text, "history.csv")
