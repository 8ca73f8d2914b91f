"""Where each LR-suggestion rule lands on curves whose steepest point is known, under noise.

Synthetic range-test curves on lrlab's default sweep (100 points, 1e-7 → 10): the loss falls by 2
along a logistic in log10(lr) (centre uniform in [1e-4.5, 1e-1.5], width 0.25–0.5 decade) and
explodes 1.5 decades after the centre. The truth is the steepest point of the noise-free curve
before its minimum (on a 16 001-point grid). Gaussian noise of σ = 0.5%…5% of the drop is added,
many seeds per level. Every rule gets what its own tool would see (`lrlab.finder.analyze`: fastai
and Lightning their β = 0.98 EMAs, torch-lr-finder its smooth_f = 0.05 EMA, lrlab the raw curve).

Printed per noise level and rule: mean signed error in decades (+ = suggests too high an LR),
95th percentile of |error|, share within 0.15 decade, and how often the rule gave no answer.
Then the time per curve of lrlab's rule against torch-lr-finder's (np.gradient argmin on its
EMA), measured in the same run, and their ratio.

Run: .venv/bin/python benchmarks/bench_suggestion_lag.py [--seeds 400]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lrlab.finder import METHODS, analyze, lrlab_steepest
from lrlab.finder.methods import torch_lr_finder_steepest
from lrlab.finder.smoothing import torch_lr_finder_smooth

SWEEP = np.linspace(-7, 1, 100)
DENSE = np.linspace(-7, 1, 16001)
NOISE = (0.01, 0.02, 0.05, 0.1)  # σ in loss units; the drop is 2.0
TOLERANCE = 0.15


def curve(u: np.ndarray, centre: float, width: float) -> np.ndarray:
    fall = 2.0 / (1 + np.exp(-(u - centre) / width))
    return 2.3 - fall + 0.3 * np.exp((u - centre - 1.5) / 0.3)


def truth(centre: float, width: float) -> float:
    c = curve(DENSE, centre, width)
    return float(DENSE[np.argmin(np.gradient(c, DENSE)[: np.argmin(c)])])


def run(seeds: int) -> None:
    names = [*METHODS, "consensus"]
    print(f"{seeds} curves per noise level; error = log10(suggested) - log10(true steepest)")
    header = f"{'rule':16s}" + "".join(f"{'σ=' + format(s / 2, '.1%'):>28s}" for s in NOISE)
    print(header)
    print(f"{'':16s}" + f"{'mean   p95|e|  ≤0.15  none':>28s}" * len(NOISE))
    rows: dict[str, list[str]] = {n: [] for n in names}
    for sigma in NOISE:
        rng = np.random.default_rng(12345)
        errors: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(seeds):
            centre, width = rng.uniform(-4.5, -1.5), rng.uniform(0.25, 0.5)
            raw = curve(SWEEP, centre, width) + rng.normal(0, sigma, len(SWEEP))
            a = analyze(10**SWEEP, raw)
            t = truth(centre, width)
            for n in names:
                v = a.consensus if n == "consensus" else a.suggestions[n]
                errors[n].append(np.nan if v is None else np.log10(v) - t)
        for n in names:
            e = np.array(errors[n])
            ok = e[np.isfinite(e)]
            rows[n].append(
                f"{np.mean(ok):+7.2f} {np.percentile(np.abs(ok), 95):6.2f} "
                f"{np.mean(np.abs(ok) <= TOLERANCE):6.0%} {np.isnan(e).sum():5d}"
            )
    for n in names:
        print(f"{n:16s}" + "".join(f"{r:>28s}" for r in rows[n]))

    rng = np.random.default_rng(1)
    curves = [curve(SWEEP, -3, 0.35) + rng.normal(0, 0.02, len(SWEEP)) for _ in range(200)]
    lrs = 10**SWEEP
    t0 = time.perf_counter()
    for raw in curves:
        lrlab_steepest(lrs, raw)
    ours = (time.perf_counter() - t0) / len(curves)
    t0 = time.perf_counter()
    for raw in curves:
        torch_lr_finder_steepest(lrs, torch_lr_finder_smooth(raw))
    ref = (time.perf_counter() - t0) / len(curves)
    print(
        f"\ntime per curve: lrlab rule {ours * 1e3:.2f} ms, torch-lr-finder rule (with its EMA) "
        f"{ref * 1e3:.2f} ms, ratio lrlab/torch-lr-finder {ours / ref:.1f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=400)
    run(parser.parse_args().seeds)
