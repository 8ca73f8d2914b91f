"""The "selftest" job kind: proves a worker claims, runs, reports, stops and fails correctly.

It fits y = 2x + 1 on 16 fixed points by plain gradient descent, in pure Python so it starts in
milliseconds (no torch import), and reports loss and lr at every step like a real runner.
`lrlab worker --check` (and the app's health check) queues a few quick steps of it to prove a live
worker runs jobs end to end. `step_seconds` pauses between steps make a run last long enough to
watch, cancel or kill; `fail_at_step` raises at that step, exercising the failure path.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from lrlab.core.options import Field
from lrlab.core.reporting import Reporter
from lrlab.core.validation import refuse_unknown
from lrlab.jobs.kinds.declaration import JobKind

FIELDS = (
    Field("steps", "Steps", "int", 20, low=1, high=1_000_000),
    Field("lr", "LR", "float", 0.05, low=0.0, high=1.0, low_open=True),
    Field("step_seconds", "Pause per step (s)", "float", 0.0, low=0.0, high=60.0),
    Field("fail_at_step", "Fail at step", "int", None, low=0, optional=True),
)
DEFAULTS: dict[str, Any] = {field.name: field.default for field in FIELDS}
_XS = [i / 8 - 1.0 for i in range(16)]
_YS = [2.0 * x + 1.0 for x in _XS]


class SelfTestError(RuntimeError):
    """The failure a self-test was asked to produce."""


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    refuse_unknown(config, [*DEFAULTS, "device"], "selftest config")
    merged = {**DEFAULTS, **config}
    for field in FIELDS:
        merged[field.name] = field.check(merged[field.name], f"selftest {field.name}")
    return merged


def run_from_config(config: Mapping[str, Any], reporter: Reporter) -> dict[str, Any]:
    cfg = validate_config(config)
    steps, lr = cfg["steps"], float(cfg["lr"])
    w = b = 0.0
    n = len(_XS)
    started = time.perf_counter()
    done = 0
    loss = float("nan")
    for step in range(steps):
        if reporter.should_stop():
            break
        if cfg["fail_at_step"] == step:
            raise SelfTestError(f"selftest: failure requested at step {step}")
        errors = [w * x + b - y for x, y in zip(_XS, _YS, strict=True)]
        loss = sum(e * e for e in errors) / n
        w -= lr * 2 * sum(e * x for e, x in zip(errors, _XS, strict=True)) / n
        b -= lr * 2 * sum(errors) / n
        done = step + 1
        reporter.step(step, {"loss": loss, "lr": lr})
        reporter.progress(done / steps, f"step {done}/{steps}")
        if cfg["step_seconds"]:
            time.sleep(cfg["step_seconds"])
    return {
        "steps_done": done,
        "stopped": done < steps,
        "final_loss": loss,
        "w": w,
        "b": b,
        "seconds": time.perf_counter() - started,
    }


KIND = JobKind(
    name="selftest", title="worker self-test", short="self-test",
    validate="lrlab.jobs.kinds.selftest:validate_config",
    run="lrlab.jobs.kinds.selftest:run_from_config",
    setup_at=None, listed=False,  # plumbing, not a run a person compares
)
