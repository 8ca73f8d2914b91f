"""Schedule advice: configs follow lrlab.schedule/1 (the kind table in lrlab/schedules/spec.py, and
the schedule library's validator once it exists), carry the curve's LRs, and scale by batch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from lrlab.core.errors import LrlabError
from lrlab.finder import advise, analyze, scaling_rule
from lrlab.schedules import Schedule
from lrlab.schedules.spec import FORMAT, KINDS, SCALING_RULES, WARMUP_SHAPES

U = np.linspace(-7, 1, 100)
RAW = (
    2.3
    - 2.0 / (1 + np.exp(-(U + 3) / 0.35))
    + 0.3 * np.exp((U + 1.5) / 0.3)
    + np.random.default_rng(0).normal(0, 0.02, 100)
)


@pytest.fixture(scope="module")
def analysis():
    return analyze(10**U, RAW, stop_reason="diverged")


def check_against_spec(config: dict[str, Any]) -> None:
    """Every field known to the kind table and inside its range; the format's block rules."""
    assert config["format"] == FORMAT
    assert config["base_lr"] > 0 and config["total_steps"] >= 1
    kind = KINDS[config["main"]["kind"]]
    for name, value in config["main"].items():
        if name == "kind":
            continue
        field = kind.field(name)
        if field.kind == "choice":
            assert value in field.choices
        elif value is not None and field.kind in ("int", "float"):
            if field.low is not None:
                assert value > field.low if field.low_open else value >= field.low
            if field.high is not None:
                assert value < field.high if field.high_open else value <= field.high
    if "warmup" in config:
        assert not kind.own_warmup
        assert config["warmup"]["shape"] in WARMUP_SHAPES
        assert 0 < config["warmup"]["steps"] < config["total_steps"]
        assert 0 <= config["warmup"]["start_factor"] <= 1
    if "scaling" in config:
        assert config["scaling"]["rule"] in SCALING_RULES


def test_every_config_follows_the_format(analysis) -> None:
    configs = advise(analysis, total_steps=1000, batch_size=128, target_batch_size=512)
    assert set(configs) == {"onecycle", "warmup_cosine", "cyclic"}
    for config in configs.values():
        check_against_spec(config)


def test_configs_validate_in_the_schedule_library(analysis) -> None:
    for opt, target in (("sgd", None), ("adamw", 1024)):
        configs = advise(
            analysis, total_steps=500, batch_size=64, optimizer=opt, target_batch_size=target
        )
        for config in configs.values():
            Schedule.from_dict(config)


def test_lrs_come_from_the_curve(analysis) -> None:
    configs = advise(analysis, total_steps=1000, batch_size=128, optimizer="sgd")
    one = configs["onecycle"]
    # 1cycle's max_lr a decade above the steepest descent; warmup + cosine 0.75 decade, by hand
    assert one["base_lr"] == pytest.approx(analysis.consensus * 10, rel=5e-3)
    assert analysis.lrs[-1] > 10 * analysis.consensus  # the divergence cap does not bite here
    # 1cycle starts where the descent starts: max_lr / div_factor.
    start = one["base_lr"] / one["main"]["div_factor"]
    assert start == pytest.approx(analysis.descent_start_lr, rel=1e-2)
    warm = configs["warmup_cosine"]
    assert warm["base_lr"] == pytest.approx(analysis.consensus * 10**0.75, rel=5e-3)
    assert warm["warmup"]["steps"] == 50
    assert warm["base_lr"] * warm["warmup"]["start_factor"] == pytest.approx(start, rel=1e-2)
    clr = configs["cyclic"]
    assert clr["main"]["base_lr"] == pytest.approx(analysis.descent_start_lr, rel=5e-3)
    assert clr["base_lr"] == pytest.approx(analysis.minimum_lr, rel=5e-3)
    assert clr["main"]["step_size_up"] == 125  # four full cycles
    assert all("scaling" not in c for c in configs.values())


@pytest.mark.parametrize(
    ("optimizer", "rule", "factor"), [("sgd", "linear", 4.0), ("AdamW", "sqrt", 2.0)]
)
def test_batch_transfer(analysis, optimizer: str, rule: str, factor: float) -> None:
    configs = advise(
        analysis, total_steps=1000, batch_size=128, optimizer=optimizer, target_batch_size=512
    )
    config = configs["onecycle"]
    assert config["scaling"] == {"rule": rule, "reference_batch": 128, "batch": 512}
    # the schedule library applies the rule: its peak is the tested peak times the factor
    peak = Schedule.from_dict(config).lr(np.arange(config["total_steps"])).max()
    unscaled = Schedule.from_dict({k: v for k, v in config.items() if k != "scaling"})
    assert peak == pytest.approx(factor * unscaled.lr(np.arange(config["total_steps"])).max())


def test_scaling_rule_defaults_to_the_analysed_optimizer() -> None:
    adam = analyze(10**U, RAW, stop_reason="diverged", optimizer="adam")
    configs = advise(adam, total_steps=1000, batch_size=128, target_batch_size=512)
    assert configs["cyclic"]["scaling"]["rule"] == "sqrt"


def test_bad_input(analysis) -> None:
    with pytest.raises(LrlabError, match="optimizer"):
        scaling_rule("newton")
    with pytest.raises(LrlabError, match="total_steps"):
        advise(analysis, total_steps=3, batch_size=128)
    with pytest.raises(LrlabError, match="batch_size"):
        advise(analysis, total_steps=100, batch_size=0)
    with pytest.raises(LrlabError, match="target_batch_size"):
        advise(analysis, total_steps=100, batch_size=8, target_batch_size=-1)
    flat = analyze(10 ** U[:4], [2.0, 2.0, 2.0, 2.0])
    assert flat.consensus is None
    with pytest.raises(LrlabError, match="no LR suggestion"):
        advise(flat, total_steps=100, batch_size=8)


def test_the_peaks_are_the_same_for_every_optimizer(analysis) -> None:
    adam = advise(analysis, total_steps=1000, batch_size=128, optimizer="adamw")
    sgd = advise(analysis, total_steps=1000, batch_size=128, optimizer="sgd")
    for kind in ("onecycle", "warmup_cosine"):
        assert adam[kind]["base_lr"] == sgd[kind]["base_lr"]


def test_the_peaks_stay_below_where_the_sweep_diverged() -> None:
    # a compressed curve: steepest descent at 1e-2, diverged at 2e-2 (under 5.6x and 10x)
    lrs = np.logspace(-4, math.log10(0.02), 60)
    losses = 2.0 - 1.5 / (1.0 + np.exp(-(np.log10(lrs) + 2.3) * 6.0))
    losses[-3:] = [3.0, 6.0, 12.0]
    curve = analyze(lrs, losses, stop_reason="diverged")
    assert curve.consensus is not None and curve.consensus * 10**0.75 > lrs[-1]
    capped = advise(curve, total_steps=100, batch_size=64)
    completed = analyze(lrs, losses, stop_reason="completed")
    uncapped = advise(completed, total_steps=100, batch_size=64)
    for kind, decades in (("onecycle", 1.0), ("warmup_cosine", 0.75)):
        assert curve.consensus <= capped[kind]["base_lr"] <= lrs[-1]
        assert uncapped[kind]["base_lr"] == pytest.approx(completed.consensus * 10**decades,
                                                          rel=5e-3)


def test_each_advised_peak_is_explained_and_a_peak_on_the_rising_curve_is_flagged() -> None:
    """Consensus 0.01 and the smoothed minimum at 0.05: 1cycle at 0.1 is 10x (1 decade) above
    and past the minimum, so flagged; cyclic's top at the minimum itself is not."""
    from lrlab.finder.advice import explain
    from lrlab.web.plots import range_test_result_figure

    lr = np.logspace(-4, 0, 40).tolist()
    result = {"lr": lr, "loss": [2.0] * 40, "smoothed": [2.0] * 40, "minimum_lr": 0.05,
              "suggestions": {"lrlab": 0.01, "consensus": 0.01},
              "advice": {"onecycle": {"base_lr": 0.1}, "warmup_cosine": {"base_lr": 0.0562},
                         "cyclic": {"base_lr": 0.05}}}
    told = explain(result)
    assert told["onecycle"]["why"].startswith(
        "Peaks at 0.1, 10× the consensus (1.00 decade above): a cycle's warm-up")
    assert told["warmup_cosine"]["why"].startswith("Peaks at 0.0562, 5.62× the consensus (0.75")
    assert "already rising (past its minimum at 0.05)" in told["onecycle"]["warning"]
    assert told["cyclic"]["warning"] is None
    figure = range_test_result_figure(result)
    peaks = {t.name: t.x[0] for t in figure.data if t.name.endswith(" peak")}
    assert peaks == {"onecycle peak": 0.1, "warmup_cosine peak": 0.0562, "cyclic peak": 0.05}
