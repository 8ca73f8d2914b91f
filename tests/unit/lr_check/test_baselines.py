"""LR-free baselines in an LR check ladder: their plan (the ladder's setup, budget and seeds,
only the optimizer and its recommended schedule changed), the comparison with the best tuned
point worked by hand, and how the table, the chart and an export show them."""

from __future__ import annotations

import math

import pytest

from lrlab import lr_check
from lrlab.core.baseline_table import BASELINES
from lrlab.core.errors import LrlabError
from lrlab.core.optimizer_table import OPTIMIZERS
from lrlab.schedules import Schedule
from lrlab.schedules.targets import export

SETUP = {"model": "small_cnn", "dataset": "digits", "epochs": 10, "batch_size": 64}
ONECYCLE = {"format": "lrlab.schedule/1", "base_lr": 0.3, "total_steps": 220,
            "main": {"kind": "onecycle"}}


def config(**fields) -> dict:
    return lr_check.validate_config({"setup": SETUP, **fields})


def test_baselines_are_read_from_a_list_or_comma_separated_and_wrong_names_are_named() -> None:
    assert config(baselines="prodigy, dog")["baselines"] == ["prodigy", "dog"]
    assert config(baselines=["schedulefree"])["baselines"] == ["schedulefree"]
    assert config()["baselines"] == []  # an lrlab.check/3 config asked for none
    with pytest.raises(LrlabError, match=r"^check.baselines: expected any of schedulefree, "
                                         r"prodigy, dadapt, dog .*'adam'"):
        config(baselines=["adam"])
    with pytest.raises(LrlabError, match="each name once"):
        config(baselines=["dog", "dog"])


def test_each_baseline_trains_the_ladders_setup_with_only_its_optimizer_and_schedule() -> None:
    setup = {**SETUP, "schedule": ONECYCLE, "schedule_fit": "stretch"}
    cfg = config(setup=setup, points=3, epochs=2, seeds=2, baselines=list(BASELINES))
    point = lr_check.points(cfg)[0]["config"]
    planned = {b["baseline"]: b for b in lr_check.baselines(cfg)}
    assert list(planned) == ["schedulefree", "prodigy", "dadapt", "dog"]
    for name, b in planned.items():
        train = b["config"]
        info = OPTIMIZERS[BASELINES[name].optimizer]
        assert b["lr"] == info.default_lr and b["title"] == info.title and b["factor"] is None
        assert train["optimizer"] == {**SETUP_OPTIMIZER(cfg), "name": info.name,
                                      "lr": info.default_lr, "momentum": 0.9, "betas": None}
        same = {k: v for k, v in train.items() if k not in ("optimizer", "schedule")}
        assert same == {k: v for k, v in point.items() if k not in ("optimizer", "schedule")}
    total = 44  # the budget: 2 epochs of 22 updates (1437 training digits at batch 64)
    steps = range(total)
    sf = Schedule.from_dict(planned["schedulefree"]["config"]["schedule"])
    warm = round(0.05 * total)  # 5 % of the budget, linear from 0, then held
    assert sf.total_steps == total and warm == 2
    assert [sf.lr_at(s) for s in (0, 1, 2, total - 1)] == pytest.approx(
        [0.0, 0.0025 / 2, 0.0025, 0.0025])
    prodigy = Schedule.from_dict(planned["prodigy"]["config"]["schedule"])
    assert [prodigy.lr_at(s) for s in steps] == pytest.approx(
        [0.5 * (1 + math.cos(math.pi * s / total)) for s in steps])
    dadapt = Schedule.from_dict(planned["dadapt"]["config"]["schedule"])  # the ladder's own
    ours = Schedule.from_dict(ONECYCLE)
    assert [dadapt.lr_at(s) for s in range(220)] == pytest.approx(
        [ours.lr_at(s) / 0.3 for s in range(220)])
    dog = Schedule.from_dict(planned["dog"]["config"]["schedule"])
    assert {dog.lr_at(s) for s in steps} == {1.0}
    assert {b["config"]["schedule_fit"] for b in planned.values()} == {"stretch"}
    # the children: each point's seeds, then each baseline's, on the same seeds
    children = lr_check.children(cfg, ladder_id=7)
    assert len(children) == (3 + 4) * 2
    assert [c["seed"] for _, c in children] == [0, 1] * 7
    assert [c["optimizer"]["name"] for _, c in children[6:]] == [
        "schedulefree_adamw", "schedulefree_adamw", "prodigy", "prodigy", "dadapt_adam",
        "dadapt_adam", "dog", "dog"]
    assert "14 runs of" in lr_check.describe_budget(cfg)


def SETUP_OPTIMIZER(cfg: dict) -> dict:
    return cfg["setup"]["optimizer"]


def test_d_adaptation_on_the_papers_schedule_trains_its_lr_unscaled() -> None:
    """Without a schedule the image setup builds the paper's from optimizer.lr, scaled with
    the batch: for D-Adaptation's LR 1.0, a multiplier of the step it finds, scaling is off."""
    cfg = config(baselines=["dadapt"])
    (b,) = lr_check.baselines(cfg)
    assert b["config"]["schedule"] is None and b["config"]["optimizer"]["lr"] == 1.0
    assert b["config"]["tricks"]["linear_scaling"] is False
    assert lr_check.peak_lr(b["config"]) == 1.0


def test_train_with_a_baseline_trains_it_for_the_whole_run() -> None:
    cfg = config(epochs=2, baselines=["prodigy"])
    full = lr_check.best_training_config(cfg, {}, baseline="prodigy")
    assert full["epochs"] == 10 and full["optimizer"]["name"] == "prodigy"
    assert full["schedule"]["main"]["kind"] == "cosine"
    assert full["schedule"]["total_steps"] == 220  # the whole run's updates, not the budget's


def row(lr: float, factor: float | None, seeds: list[float], baseline: str | None = None,
        status: str = "succeeded") -> dict:
    mean = sum(seeds) / len(seeds) if seeds else None
    return {"lr": lr, "factor": factor, "status": status, "final_val_top1": mean,
            "best_val_top1": mean, "final_val_loss": 0.3, "final_train_loss": 0.2,
            "job": None, "progress": 1.0, "error": None, "num_classes": 10,
            "seed_final_val_top1": seeds, "baseline": baseline,
            "title": BASELINES[baseline].title if baseline else None}


POINTS = [row(0.03, 0.1, [0.90, 0.91]), row(0.3, 1.0, [0.96, 0.98]),
          row(3.0, 10.0, [0.50, 0.60])]


def test_the_verdict_says_by_how_much_the_tuned_point_beats_the_best_baseline() -> None:
    """Best tuned point 0.97 (seeds 0.96, 0.98); Schedule-Free 0.92 (0.91, 0.93), Prodigy 0.90.
    Gap 5.0 points; its standard error sqrt(0.0002/2 + 0.0002/2) = 0.0141: beyond twice it."""
    setup = {**SETUP, "schedule": ONECYCLE, "schedule_fit": "stretch"}
    baselines = [row(0.0025, None, [0.91, 0.93], "schedulefree"),
                 row(1.0, None, [0.89, 0.91], "prodigy"),
                 row(1.0, None, [], "dog", status="failed")]
    baselines[2]["error"] = "diverged"
    result = lr_check.aggregate(config(setup=setup, seeds=2), POINTS, baselines)
    versus = result["versus"]
    assert versus["baseline"] == "schedulefree" and versus["gap"] == pytest.approx(0.05)
    assert versus["error"] == pytest.approx(math.sqrt(0.0002)) and versus["beyond"] is True
    assert ("The tuned 1cycle at LR 0.3 is 5.0 ± 1.4 points above Schedule-Free AdamW "
            "(92.0 %), the best LR-free baseline; beyond the seeds' spread (the mean of 2 "
            "seeds each).") in result["verdict"]
    assert "Other baselines: Prodigy 90.0 %, DoG failed (diverged)." in result["verdict"]
    assert [b["baseline"] for b in result["baselines"]] == ["schedulefree", "prodigy", "dog"]
    text = lr_check.table(result)
    assert text.splitlines()[-3].endswith("<- LR-free baseline: Schedule-Free AdamW")
    shown = lr_check.shown_rows([*result["points"], *result["baselines"]])
    assert [r["run"] for r in shown] == ["ladder point"] * 3 + [
        "Schedule-Free AdamW", "Prodigy", "DoG"]
    assert shown[3]["x advice"] == "" and shown[3]["final top-1"] == "92.00 %"


def test_a_baseline_ahead_within_the_seeds_spread_is_no_clear_difference() -> None:
    """Prodigy 0.975 (seeds 0.95, 1.00) against 0.97: 0.5 points ahead, but the standard error
    is sqrt(0.00125/2 + 0.0002/2) = 0.027."""
    baselines = [row(1.0, None, [0.95, 1.00], "prodigy")]
    result = lr_check.aggregate(config(seeds=2), POINTS, baselines)
    assert result["versus"]["gap"] == pytest.approx(-0.005)
    assert result["versus"]["beyond"] is False
    assert ("Prodigy (97.5 %), an LR-free baseline, is 0.5 ± 2.7 points above the tuned "
            "Bag-of-Tricks schedule at LR 0.3 (97.0 %); within the seeds' spread") in (
        result["verdict"])


def test_with_one_seed_the_gap_is_given_without_a_spread() -> None:
    points = [row(0.1, 1.0, [0.95])]
    result = lr_check.aggregate(config(points=1), points, [row(1.0, None, [0.93], "dog")])
    assert result["versus"]["error"] is None and result["versus"]["beyond"] is None
    assert "is 2.0 points above DoG (93.0 %)" in result["verdict"]
    assert "one seed each" in result["verdict"]


def test_a_tasks_objective_is_compared_in_its_own_direction() -> None:
    def task_row(lr: float, factor: float | None, losses: list[float],
                 baseline: str | None = None) -> dict:
        r = row(lr, factor, [], baseline)
        r.update(objective="val_loss", mode="min", final_objective=sum(losses) / len(losses),
                 best_objective=min(losses), initial_objective=2.0,
                 seed_final_objective=losses)
        return r

    points = [task_row(0.01, 1.0, [0.50, 0.52])]
    result = lr_check.aggregate(config(points=1, seeds=2), points,
                                [task_row(1.0, None, [0.40, 0.42], "prodigy")])
    assert result["versus"]["gap"] == pytest.approx(-0.10)  # Prodigy's loss is lower
    assert "Prodigy (0.41), an LR-free baseline, is 0.1 ± 0.014 better in val_loss than" in (
        result["verdict"])


def test_a_ladder_without_baselines_says_nothing_of_them() -> None:
    result = lr_check.aggregate(config(seeds=2), POINTS)
    assert result["baselines"] == [] and result["versus"] is None
    assert "baseline" not in result["verdict"]
    assert "run" not in lr_check.shown_rows(result["points"])[0]  # no column to name them
    assert "LR-free" not in lr_check.table(result)


def test_the_chart_draws_each_baseline_as_a_line_with_its_seeds_band() -> None:
    from lrlab.web.plots import ladder_figure

    baselines = [row(0.0025, None, [0.91, 0.93], "schedulefree"),
                 row(1.0, None, [], "dog", status="failed")]
    lr_check.aggregate(config(seeds=2), POINTS, baselines)  # fills in the objective
    fig = ladder_figure(POINTS, {}, baselines).to_dict()
    named = [t for t in fig["data"] if t.get("name") == "Schedule-Free AdamW (LR-free)"]
    line = next(t for t in named if t.get("showlegend") is not False)
    assert list(line["x"]) == [0.03, 3.0] and list(line["y"]) == pytest.approx([0.92, 0.92])
    band = next(t for t in fig["data"] if t.get("fill") == "toself")
    assert list(band["y"]) == pytest.approx([0.91, 0.91, 0.93, 0.93])
    assert not any("DoG" in (t.get("name") or "") for t in fig["data"])  # no figure to draw


@pytest.mark.parametrize("name", ["prodigy", "dadapt_adam", "dog", "schedulefree_adamw"])
def test_an_export_for_an_lr_free_optimizer_says_the_schedule_is_not_the_whole_story(
        name: str) -> None:
    schedule = Schedule.from_dict(ONECYCLE)
    note = export(schedule, "pytorch", optimizer=name).exactness.note
    assert note.startswith(OPTIMIZERS[name].title) and "not the whole story" in note
    assert export(schedule, "pytorch", optimizer="sgd").exactness.note == export(
        schedule, "pytorch").exactness.note
    with pytest.raises(LrlabError, match=r"^--optimizer: expected one of"):
        export(schedule, "pytorch", optimizer="lion")
