"""The LR check ladder's plan, aggregate and verdict (lrlab.lr_check), with values worked by
hand."""

from __future__ import annotations

import pytest

from lrlab import lr_check
from lrlab.core.errors import LrlabError
from lrlab.schedules import Schedule

SETUP = {"model": "small_cnn", "dataset": "digits", "epochs": 10, "batch_size": 64}


def config(**fields) -> dict:
    return lr_check.validate_config({"setup": SETUP, **fields})


def test_factors_are_log_spaced_over_the_span_and_include_the_advice() -> None:
    assert lr_check.factors(5, 10.0) == pytest.approx([0.1, 10 ** -0.5, 1.0, 10 ** 0.5, 10.0])
    assert lr_check.factors(3, 10.0) == [0.1, 1.0, 10.0]
    assert lr_check.factors(4, 100.0) == pytest.approx([0.01, 100 ** (-1 / 3), 1.0,
                                                      100 ** (1 / 3), 100.0])  # 1 added
    assert lr_check.factors(1, 10.0) == [1.0]


def test_points_move_the_setups_own_lr_with_linear_scaling() -> None:
    # the paper's schedule: optimizer.lr 0.1 at batch 256, linear scaling -> peak 0.025 at 64
    cfg = config(points=3)
    assert lr_check.peak_lr(cfg["setup"]) == pytest.approx(0.025)
    pts = lr_check.points(cfg)
    assert [p["lr"] for p in pts] == pytest.approx([0.0025, 0.025, 0.25])
    assert [p["config"]["optimizer"]["lr"] for p in pts] == pytest.approx([0.01, 0.1, 1.0])
    # 0.2 of 10 epochs would be 44 updates (22 a epoch), under the 200-update floor: the whole
    # planned run is the budget
    assert all(p["config"]["epochs"] == 10 for p in pts)


@pytest.mark.parametrize(("epochs", "budget"), [(100, 20), (30, 10), (5, 5)])
def test_the_budget_is_a_share_of_the_run_with_a_floor_in_updates(epochs: int,
                                                                   budget: int) -> None:
    """22 updates an epoch (1437 training digits, batch 64): 0.2 of 100 epochs is 20 (440
    updates); 0.2 of 30 is 6 (132 updates), raised to the 10 epochs that reach 200; 5 epochs
    are the whole run, under the floor."""
    assert lr_check.budget_epochs(config(setup={**SETUP, "epochs": epochs})) == budget
    assert lr_check.budget_epochs(config(setup={**SETUP, "epochs": epochs}, epochs=3)) == 3
    # a share a person chose is theirs: the verdict says if it was too short to tell
    assert lr_check.budget_epochs(config(setup={**SETUP, "epochs": epochs}, fraction=0.1)) == (
        max(1, round(0.1 * epochs)))


def test_points_scale_a_given_schedule_and_stretch_it_to_the_budget() -> None:
    schedule = {"format": "lrlab.schedule/1", "base_lr": 0.4, "total_steps": 1000,
                "main": {"kind": "cyclic", "base_lr": 0.04, "step_size_up": 100}}
    cfg = config(setup={**SETUP, "schedule": schedule, "schedule_fit": "stretch"}, lr=0.2,
                 points=3, span=4.0, epochs=1)
    pts = lr_check.points(cfg)
    assert [p["lr"] for p in pts] == pytest.approx([0.05, 0.2, 0.8])
    for point in pts:
        moved = Schedule.from_dict(point["config"]["schedule"])
        assert moved.effective_base_lr == pytest.approx(point["lr"])
        # the absolute lower bound moves with the peak: the shape is the same in proportion
        assert moved.config["main"]["base_lr"] == pytest.approx(point["lr"] / 10)
        assert point["config"]["schedule_fit"] == "stretch" and point["config"]["epochs"] == 1


@pytest.mark.parametrize(("fields", "where"), [
    ({"points": 0}, "check.points"),
    ({"span": 1.0}, "check.span"),
    ({"epochs": 1, "fraction": 0.5}, "not both"),
    ({"lr": -1.0}, "check.lr"),
    ({"seeds": 0}, "check.seeds"),
    ({"suggestions": {"fastai": "big"}}, "suggestions"),
    ({"nonsense": 1}, "nonsense"),
    ({"setup": {**SETUP, "epochs": 0}}, "epochs"),
])
def test_bad_ladder_configs_name_the_field(fields, where) -> None:
    with pytest.raises(LrlabError, match=where):
        lr_check.validate_config({"setup": SETUP, **fields})


def row(lr: float, factor: float, top1: float | None, loss: float | None = 0.5,
        status: str = "succeeded", classes: int | None = 10) -> dict:
    return {"lr": lr, "factor": factor, "status": status, "final_val_top1": top1,
            "best_val_top1": top1, "final_val_loss": loss, "final_train_loss": loss,
            "job": None, "progress": 1.0, "error": None, "num_classes": classes}


def test_a_ladder_where_no_point_learned_cannot_tell_and_says_what_to_change() -> None:
    """The default check on digits with 11 updates a point: 10.0 / 20.9 / 45.1 / 13.9 / 10.0 %
    top-1. 45.1 % is not halfway from chance (10 %) to perfect, so no LR can be crowned."""
    rows = [row(0.0111, 0.1, 0.100), row(0.0351, 10 ** -0.5, 0.209), row(0.111, 1.0, 0.451),
            row(0.351, 10 ** 0.5, 0.139), row(1.11, 10.0, 0.100, loss=602.0)]
    result = lr_check.aggregate(config(), rows)
    assert result["format"] == lr_check.FORMAT == "lrlab.check/4"
    assert result["judgement"]["clear"] is False
    assert result["verdict"].startswith("Cannot tell which LR is best: no point learned much")
    assert "45.1 % top-1; chance is 10 %" in result["verdict"]
    assert "train each point longer" in result["verdict"]


def test_a_best_at_the_ladders_end_cannot_tell() -> None:
    rows = [row(0.01, 0.1, 0.90), row(0.1, 1.0, 0.95), row(1.0, 10.0, 0.97)]
    judgement = lr_check.aggregate(config(), rows)["judgement"]
    assert judgement == {"clear": False, "reasons": ["the best is at the ladder's top end"],
                         "fixes": ["widen the span"]}


def test_neighbours_within_the_seed_spread_cannot_tell() -> None:
    """Best 0.95 with seeds at 0.93 and 0.97 (a 4-point spread); its neighbour's mean 0.93 is
    within it."""
    def seeds(lr, factor, a, b):
        return lr_check.combine({"factor": factor, "lr": lr}, [row(lr, factor, a),
                                                               row(lr, factor, b)])
    rows = [seeds(0.01, 0.1, 0.80, 0.82), seeds(0.1, 1.0, 0.93, 0.97), seeds(1.0, 10.0, 0.92, 0.94),
            seeds(10.0, 100.0, 0.50, 0.52)]
    judgement = lr_check.aggregate(config(seeds=2), rows)["judgement"]
    assert judgement["clear"] is False
    assert judgement["reasons"] == ["its neighbours are within its seeds' spread (4.0 points)"]
    rows[2] = seeds(1.0, 10.0, 0.85, 0.86)  # now 9 points below: the ranking holds
    assert lr_check.aggregate(config(seeds=2), rows)["judgement"]["clear"] is True


def test_a_clear_best_is_said_plainly() -> None:
    rows = [row(0.01, 0.1, 0.90), row(0.1, 1.0, 0.98), row(1.0, 10.0, 0.95)]
    result = lr_check.aggregate(config(), rows)
    assert result["judgement"] == {"clear": True, "reasons": [], "fixes": []}
    assert result["verdict"].startswith("The advice (LR 0.1) is the best of 3 points")


def test_verdict_gives_the_gap_in_decades_and_accuracy_points() -> None:
    rows = [row(0.01, 0.1, 0.90), row(0.1, 1.0, 0.95), row(1.0, 10.0, 0.975),
            row(10.0, 100.0, 0.97)]
    result = lr_check.aggregate(config(), rows)
    assert result["best"]["lr"] == 1.0 and result["advice"]["lr"] == 0.1
    assert result["verdict"].startswith(
        "The advice (LR 0.1) is 1.00 decade below the best of 4 points (LR 1) and 2.5 points "
        "of accuracy below it (95.0 % vs 97.5 %).")
    assert "end" not in result["verdict"]


def test_a_best_at_the_end_of_the_ladder_and_failed_points_are_said() -> None:
    rows = [row(0.01, 0.1, 0.80), row(0.1, 1.0, 0.90), row(1.0, 10.0, 0.95),
            row(10.0, 100.0, None, None, status="failed")]
    verdict = lr_check.aggregate(config(), rows)["verdict"]
    # the failed top point is not part of the finished ladder's range, so LR 1 is its top
    assert "1 of 4 points did not finish (LR 10: failed)" in verdict
    rows[3] = row(0.001, 0.01, 0.5)
    verdict = lr_check.aggregate(config(), rows)["verdict"]
    assert "at the ladder's top end" in verdict


def test_ties_go_to_the_lower_loss_and_the_advice_that_ties_is_the_best() -> None:
    rows = [row(0.05, 0.5, 0.9600, loss=0.30), row(0.1, 1.0, 0.9605, loss=0.20),
            row(0.2, 2.0, 0.9600, loss=0.25)]
    result = lr_check.aggregate(config(), rows)
    assert result["best"]["lr"] == 0.1
    assert result["verdict"].startswith("The advice (LR 0.1) is the best of 3 points")


def test_no_finished_point_cannot_judge() -> None:
    rows = [row(0.1, 1.0, None, None, status="cancelled")]
    result = lr_check.aggregate(config(), rows)
    assert result["best"] is None
    assert result["verdict"].startswith("No point of the ladder finished")


def test_a_ladder_from_a_range_test_takes_its_setup_advice_and_marks() -> None:
    advice = {"format": "lrlab.schedule/1", "base_lr": 0.3, "total_steps": 55,
              "main": {"kind": "onecycle"}}
    result = {"format": "lrlab.range_test/2", "config": {"setup": SETUP},
              "suggestions": {"fastai_valley": 0.01, "lrlab": 0.2, "lightning": None},
              "advice": {"onecycle": advice}}
    cfg = lr_check.validate_config(lr_check.from_range_test(result, job=7))
    assert cfg["setup"]["schedule"]["base_lr"] == 0.3 and cfg["range_test"] == 7
    assert cfg["suggestions"] == {"fastai_valley": 0.01, "lrlab": 0.2}
    assert lr_check.points(cfg)[2]["lr"] == pytest.approx(0.3)
    with pytest.raises(LrlabError, match="advised onecycle"):
        lr_check.from_range_test(result, advice="cyclic")
    flat = {"config": {"model": "small_cnn", "dataset": "digits"}, "advice": {"onecycle": advice}}
    assert lr_check.from_range_test(flat)["setup"]["batch_size"] == 64  # a /1 result's setup


def test_each_point_runs_its_seeds_side_by_side_and_names_its_ladder() -> None:
    cfg = config(points=3, seeds=2, setup={**SETUP, "seed": 5})
    jobs = lr_check.children(cfg, ladder_id=42)
    assert [c["seed"] for _, c in jobs] == [5, 6, 5, 6, 5, 6]
    lrs = [c["optimizer"]["lr"] for _, c in jobs]
    assert lrs[0] == lrs[1] < lrs[2] == lrs[3] < lrs[4] == lrs[5]
    assert all(c["origin"] == {"range_test": None, "check": 42} for _, c in jobs)
    # a ladder stored before seeds existed ran one run a point
    assert lr_check.seeds_of({k: v for k, v in cfg.items() if k != "seeds"}) == 1
    assert config()["seeds"] == 1


def test_a_points_figures_are_its_seeds_mean_and_its_status_waits_for_all() -> None:
    point = {"factor": 1.0, "lr": 0.1}
    a, b = row(0.1, 1.0, 0.90, loss=0.4), row(0.1, 1.0, 0.94, loss=0.2)
    both = lr_check.combine(point, [a, b])
    assert both["status"] == "succeeded"
    assert both["final_val_top1"] == pytest.approx(0.92)
    assert both["final_val_loss"] == pytest.approx(0.3)
    assert both["seed_final_val_top1"] == [0.90, 0.94]
    assert lr_check.seed_spread(both) == pytest.approx(0.04)
    running = lr_check.combine(point, [a, {**b, "status": "running", "final_val_top1": None}])
    assert running["status"] == "running" and running["final_val_top1"] == pytest.approx(0.90)
    failed = lr_check.combine(point, [a, {**row(0.1, 1.0, None, None, status="failed"),
                                        "error": "the loss is nan at step 7"}])
    assert failed["status"] == "failed"
    assert failed["error"] == "seed 2 of 2: the loss is nan at step 7"
    assert lr_check.seed_spread(lr_check.combine(point, [a])) is None


def test_the_verdict_says_how_far_the_seeds_spread_or_that_one_seed_may_be_noise() -> None:
    point_rows = [lr_check.combine({"factor": f, "lr": lr}, [row(lr, f, x), row(lr, f, y)])
                  for lr, f, x, y in ((0.01, 0.1, 0.90, 0.92), (0.1, 1.0, 0.95, 0.96),
                                      (1.0, 10.0, 0.90, 0.85))]
    result = lr_check.aggregate(config(seeds=2), point_rows)
    assert result["seeds"] == 2 and result["best"]["lr"] == 0.1
    assert result["verdict"].endswith(
        "Each point is the mean of 2 seeds, whose final top-1 spread by up to 5.0 points.")
    assert "seed spread" in lr_check.table(result).splitlines()[0]
    assert "5.00 %" in lr_check.table(result).splitlines()[3]
    one = lr_check.aggregate(config(), [row(0.01, 0.1, 0.90), row(0.1, 1.0, 0.95),
                                      row(1.0, 10.0, 0.97)])
    assert "One seed per point" in one["verdict"]
    assert "seed spread" not in lr_check.table(one)


def test_the_ladder_figure_draws_each_points_seed_range() -> None:
    from lrlab.web.plots import ladder_figure

    rows = [lr_check.combine({"factor": f, "lr": lr}, [row(lr, f, x), row(lr, f, y)])
            for lr, f, x, y in ((0.01, 0.1, 0.90, 0.92), (0.1, 1.0, 0.95, 0.96))]
    top1 = ladder_figure(rows, {}).data[0]
    assert list(top1.y) == pytest.approx([0.91, 0.955])
    assert list(top1.error_y.array) == pytest.approx([0.01, 0.005])
    assert list(top1.error_y.arrayminus) == pytest.approx([0.01, 0.005])


def test_the_ladder_figure_marks_a_point_that_did_not_finish_and_keeps_accuracy_in_range() -> None:
    """A diverged point's loss (602) would squash the others on a linear axis: the loss axis is
    logarithmic, a point with no loss is an ✕ at the top, and top-1 stays on 0-100 %."""
    from lrlab.web.plots import ladder_figure

    rows = [row(0.01, 0.1, 0.90, loss=0.3), row(0.1, 1.0, 0.95, loss=0.2),
            row(1.0, 10.0, 0.10, loss=602.0),
            {**row(10.0, 100.0, None, None, status="failed"), "error": "non-finite loss"}]
    figure = ladder_figure(rows, {"lrlab": 0.1}).to_dict()
    (failed,) = [t for t in figure["data"] if t["name"] == "did not finish"]
    assert list(failed["x"]) == [10.0] and list(failed["y"]) == [1204.0]
    assert figure["layout"]["yaxis"]["range"] == [0, 1]
    assert figure["layout"]["yaxis2"]["type"] == "log"
    assert [t["name"] for t in figure["data"]].count("lrlab") == 1  # in the legend, once


def test_the_pages_table_has_one_format_a_figure_and_no_none_cells() -> None:
    rows = [row(0.0111, 0.1, 0.9777, loss=0.23), row(0.0351, 10 ** -0.5, None, None,
                                                     status="queued")]
    shown = lr_check.shown_rows(rows)
    assert shown[0]["final top-1"] == "97.77 %" and shown[0]["peak LR"] == "0.0111"
    assert shown[0]["final val loss"] == "0.2300"
    assert all(v is not None and v != "None" for r in shown for v in r.values())
    assert shown[1]["final top-1"] == "" and shown[1]["final val loss"] == ""


TASK_SETUP = {"task": {"spec": "nowhere.at_all:build"}, "epochs": 10, "batches_per_epoch": 50,
              "optimizer": {"name": "adam", "lr": 0.001}}


def _task_result(final: float, start: float = 2.0, mode: str = "min") -> dict:
    return {"summary": {"objective": "val_loss" if mode == "min" else "val_f1", "mode": mode,
                        "initial_objective": start, "final_objective": final,
                        "best_objective": final, "final_metrics": {"val_loss": final}}}


def test_a_tasks_ladder_moves_its_lr_and_budgets_by_its_batches() -> None:
    cfg = lr_check.validate_config({"setup": TASK_SETUP, "points": 3})
    assert lr_check.peak_lr(cfg["setup"]) == 0.001  # no tricks: the optimizer's own LR
    pts = lr_check.points(cfg)
    assert [p["config"]["optimizer"]["lr"] for p in pts] == pytest.approx([1e-4, 1e-3, 1e-2])
    # 0.2 of 10 epochs of 50 updates = 100 updates, under the 200-update floor: 4 epochs
    assert {p["config"]["epochs"] for p in pts} == {4}
    assert lr_check.describe_budget(cfg).startswith("3 runs of 200 updates each (4 of the "
                                                    "run's 10 epochs")


@pytest.mark.parametrize(("mode", "finals", "best"), [
    ("min", [1.2, 0.8, 1.5], 1e-3),  # the lowest loss wins
    ("max", [0.6, 0.7, 0.9], 1e-2),  # the highest score wins
])
def test_a_tasks_points_are_ranked_by_its_objective_in_its_direction(
        mode: str, finals: list[float], best: float) -> None:
    cfg = lr_check.validate_config({"setup": TASK_SETUP, "points": 3, "span": 10.0})
    start = 2.0 if mode == "min" else 0.1
    rows = [lr_check.point_row(p, "succeeded", result=_task_result(f, start, mode))
            for p, f in zip(lr_check.points(cfg), finals, strict=True)]
    result = lr_check.aggregate(cfg, [lr_check.combine(p, [r]) for p, r in
                                      zip(lr_check.points(cfg), rows, strict=True)])
    assert result["best"]["lr"] == pytest.approx(best)
    assert result["objective"] == ("val_loss" if mode == "min" else "val_f1")
    assert result["mode"] == mode
    assert "% top-1" not in result["verdict"] and result["objective"] in result["verdict"]


def test_a_tasks_ladder_that_did_not_move_its_objective_cannot_tell() -> None:
    cfg = lr_check.validate_config({"setup": TASK_SETUP, "points": 3})
    rows = [lr_check.combine(p, [lr_check.point_row(p, "succeeded",
                                                    result=_task_result(f, start=2.0))])
            for p, f in zip(lr_check.points(cfg), [1.999, 1.998, 1.9995], strict=True)]
    result = lr_check.aggregate(cfg, rows)
    assert not lr_check.can_tell(result)
    assert "no point learned much in its budget (the best moved val_loss from 2 to 1.998)" in \
        result["verdict"]


def test_a_tasks_ladder_is_drawn_and_tabled_by_its_own_metric() -> None:
    from lrlab.web.plots import ladder_figure

    cfg = lr_check.validate_config({"setup": TASK_SETUP, "points": 3})
    rows = [lr_check.combine(p, [lr_check.point_row(p, "succeeded", result=_task_result(f))])
            for p, f in zip(lr_check.points(cfg), [1.2, 0.8, 1.5], strict=True)]
    figure = ladder_figure(rows, {"lrlab": 1e-3}).to_dict()
    assert figure["layout"]["annotations"][0]["text"] == "final val_loss (lower is better)"
    assert list(figure["data"][0]["y"]) == [1.2, 0.8, 1.5]
    assert "range" not in figure["layout"]["yaxis"]  # not forced to 0-100 %
    shown = lr_check.shown_rows(rows)
    assert [r["final val_loss"] for r in shown] == ["1.2", "0.8", "1.5"]
    assert "final top-1" not in shown[0]
