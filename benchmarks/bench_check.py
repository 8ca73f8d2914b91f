"""The LR check ladder, two figures:

1. Parallel ladder: a 5-point ladder (small_cnn on digits, 3 epochs a point) run by two
   `lrlab worker --threads 1`s on one store (cores / workers each), against the same ladder run
   by one worker with every core (the same 5 runs one after another), each timed from the
   submit to the ladder's end (worker start-up excluded).
   Prints the ratio (target <= 0.65 on 2 cores).
2. Advice against the ladder's best, on ten model/data pairs. Each pair: a range test of the
   setup (lrlab's advice sized to the run); then each advised schedule (1cycle, warmup +
   cosine) trained at the peaks of a 9-point ladder around the advice (x0.1 ... x10, a quarter
   decade apart) and at torch-lr-finder's and fastai's (valley) suggestions, read off the same
   curve by those tools' own rules. Prints each run's final top-1, the advice's share of the
   ladder's best, and the share a peak d decades above the consensus would reach
   (interpolated on the ladder): the family the advice's peaks are chosen from.
   - tuned on: small_cnn on digits (SGD); small_cnn width 16 on a 4,000-image MNIST sample
     (the t10k set; SGD + Nesterov); small_cnn width 16 on digits (Adam);
   - held out, seen: ResNet-18-D width 8 on digits (AdamW); ResNet-18-A width 8 on the MNIST
     sample (SGD, mixup 0.2). Held out from the first rules; their misses led to the present
     ones, so they no longer count as held out;
   - held out for warmup + cosine: ResNet-18-D width 8 on the MNIST sample (SGD); small_cnn
     width 16 on the MNIST sample (AdamW); ResNet-18-A width 8 on digits (Adam, mixup 0.2).
     First run after warmup + cosine's rule was fixed, but under 1cycle's earlier rule, whose
     misses there were seen before 1cycle's present rule was chosen;
   - held out: small_cnn width 8 on the MNIST sample (Adam, batch 128); ResNet-18-D width 8 on
     digits (SGD + Nesterov, mixup 0.2). Never run before both present rules were fixed.
   Every training setup keeps the paper's tricks on (label smoothing 0.1, no bias decay, ...).

   With --seeds N every trained point is the mean of N seeds: one run's top-1 moves by a point or
   two between neighbouring LRs on these small validation sets (359 and 800 images).

3. Proxy fidelity and trust calibration (--only fidelity): on four longer runs, does the LR
   check's default budget rank the ladder's LRs as the full runs do, and how often does the
   advice at each trust level reach 0.98 of the full ladder's best.
4. Trust calibration on the ten advice pairs (--only trust): each pair's range test at 100 and
   30 points and a ladder of its 1cycle advice; how often the advice at each trust level (and
   at each spread of the methods) reaches 0.98 of the ladder's best.
5. Your own tasks (--only tasks): the examples' advice against their LR check's best, by their
   own objective (accuracy up, loss down), and torch-lr-finder's LR on the same schedule.
6. LR-free baselines (--only baselines): on the image pairs and the example tasks, an LR check of
   the 1cycle advice over the whole planned run with Schedule-Free AdamW, Prodigy, D-Adaptation
   Adam and DoG beside it (lrlab.lr_check's own ladder, every run on the same seeds): each
   baseline's final objective (mean and seed spread) beside the ladder's best and the advice's,
   and the verdict's comparison.

    python benchmarks/bench_check.py [--mnist ../shared/data/mnist-t10k]
        [--only parallel|advice|fidelity|trust|tasks|baselines]
        [--points 9] [--seeds 3] [--pair "held out"] [--schedule warmup_cosine]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lrlab import lr_check
from lrlab.core.errors import LrlabError
from lrlab.core.reporting import NullReporter
from lrlab.finder.advice import PEAK_DECADES
from lrlab.finder.job import run_from_config
from lrlab.jobs import kinds
from lrlab.store import Store
from lrlab.training.job import train

REPO = Path(__file__).resolve().parents[1]
LADDER_SETUP = {"model": "small_cnn", "dataset": "digits", "epochs": 15, "device": "cpu"}


def ladder_seconds(workers: int) -> float:
    """Seconds from submitting a 5-point ladder to its end, with `workers` workers, each
    with its share of the cores (`--threads`; one worker keeps torch's default, all)."""
    threads = [] if workers == 1 else ["--threads", str(max(1, (os.cpu_count() or 1)
                                                            // workers))]
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{Path(home) / 'jobs.db'}"
        env = {**os.environ, "LRLAB_HOME": home}
        with Store(url) as store:
            command = [sys.executable, "-m", "lrlab.cli", "worker", "--db", url, "--poll",
                       "0.05", *threads]
            procs = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL) for _ in range(workers)]
            try:
                while len(store.live_workers()) < workers:  # condition-wait: registered
                    time.sleep(0.05)
                warm = [store.submit("train", kinds.validate("train", {
                    **LADDER_SETUP, "epochs": 1})) for _ in range(workers)]
                while not all(store.get(i).is_finished for i in warm):  # condition-wait
                    time.sleep(0.05)
                config = kinds.validate("check", {"setup": LADDER_SETUP, "epochs": 3})
                started = time.perf_counter()
                job_id = kinds.submit(store, "check", config)
                while not store.get(job_id).is_finished:  # condition-wait: the ladder ended
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
                assert store.get(job_id).status == "succeeded", store.get(job_id).error
                return elapsed
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    proc.wait(timeout=120)


TUNED, SEEN, HELD_OUT = "tuned on", "held out, seen", "held out"
COSINE_HELD_OUT = "held out for warmup + cosine"


def pairs(mnist: Path | None) -> list[tuple[str, dict, str]]:
    """(name, setup, role) of each model/data pair: the advice rules were chosen on the pairs
    tuned on (see advice.py)."""
    out = [
        ("small_cnn / digits, SGD", {"model": "small_cnn", "dataset": "digits", "epochs": 6,
                                     "batch_size": 64}, TUNED),
        ("small_cnn w16 / digits, Adam", {"model": "small_cnn", "width": 16,
                                          "dataset": "digits", "epochs": 6, "batch_size": 64,
                                          "optimizer": {"name": "adam", "weight_decay": 0.0}},
         TUNED),
        ("resnet18-D w8 / digits, AdamW + LS", {
            "model": "resnet18", "width": 8, "dataset": "digits", "epochs": 6, "batch_size": 64,
            "optimizer": {"name": "adamw", "weight_decay": 0.05}}, SEEN),
        ("resnet18-A w8 / digits, Adam + mixup 0.2", {
            "model": "resnet18", "variant": "A", "width": 8, "dataset": "digits", "epochs": 6,
            "batch_size": 64, "optimizer": {"name": "adam", "weight_decay": 0.0},
            "tricks": {"mixup": 0.2}}, COSINE_HELD_OUT),
        ("resnet18-D w8 / digits, SGD Nesterov + mixup 0.2", {
            "model": "resnet18", "width": 8, "dataset": "digits", "epochs": 6, "batch_size": 64,
            "optimizer": {"nesterov": True}, "tricks": {"mixup": 0.2}}, HELD_OUT),
    ]
    if mnist is not None:
        sample = {"dataset": "idx", "data_root": str(mnist), "limit": 4000, "epochs": 4}
        out += [
            ("small_cnn w16 / MNIST 4k, SGD Nesterov", {
                "model": "small_cnn", "width": 16, **sample, "batch_size": 64,
                "optimizer": {"nesterov": True}}, TUNED),
            ("resnet18-A w8 / MNIST 4k, SGD + mixup 0.2", {
                "model": "resnet18", "variant": "A", "width": 8, **sample, "batch_size": 128,
                "tricks": {"mixup": 0.2}}, SEEN),
            ("resnet18-D w8 / MNIST 4k, SGD", {
                "model": "resnet18", "width": 8, **sample, "batch_size": 128}, COSINE_HELD_OUT),
            ("small_cnn w16 / MNIST 4k, AdamW", {
                "model": "small_cnn", "width": 16, **sample, "batch_size": 64,
                "optimizer": {"name": "adamw", "weight_decay": 0.05}}, COSINE_HELD_OUT),
            ("small_cnn w8 / MNIST 4k, Adam, batch 128", {
                "model": "small_cnn", "width": 8, **sample, "batch_size": 128,
                "optimizer": {"name": "adam", "weight_decay": 0.0}}, HELD_OUT),
        ]
    return [(name, {**setup, "device": "cpu"}, role) for name, setup, role in out]


def top1(setup: dict, schedule: dict, peak: float, seeds: int = 1,
         epochs: int | None = None) -> float | None:
    """Final top-1 of the setup trained with `schedule` moved to `peak`, the mean over `seeds`
    seeds (each its own initialisation, data order and validation split); a diverged run
    counts as 0, and None means every seed diverged."""
    from lrlab.schedules import Schedule
    from lrlab.schedules.fit import scale_lr

    moved = scale_lr(Schedule.from_dict(schedule), peak / schedule["base_lr"]).to_dict()
    budget = {} if epochs is None else {"epochs": epochs, "schedule_fit": "stretch"}
    finals = []
    for seed in range(seeds):
        try:
            run = train({**setup, "schedule": moved, "seed": seed, **budget})
            finals.append(run["summary"]["final_val_top1"])
        except LrlabError as exc:  # a diverged run is a result here
            print(f"    peak {peak:.3g}, seed {seed}: {exc}")
            finals.append(None)
    if all(f is None for f in finals):
        return None
    return sum(f or 0.0 for f in finals) / len(finals)


def at_lr(ladder_rows: dict[float, float | None], lr: float) -> float | None:
    """Accuracy at `lr`, linear in log LR between the two ladder points around it (a diverged
    point counts as 0); None outside the ladder."""
    import itertools
    import math

    points = sorted((k, v or 0.0) for k, v in ladder_rows.items())
    for (a, fa), (b, fb) in itertools.pairwise(points):
        if a <= lr <= b:
            t = (math.log(lr) - math.log(a)) / (math.log(b) - math.log(a))
            return fa + t * (fb - fa)
    return None


def advice_quality(mnist: Path | None, points: int, only: str | None = None,
                   kinds: tuple[str, ...] = tuple(PEAK_DECADES),
                   seeds: int = 1) -> None:
    for name, setup, role in pairs(mnist):
        if only and only not in name and only != role:
            continue
        started = time.perf_counter()
        found = run_from_config({"setup": setup, "num_points": 100}, NullReporter())
        consensus, minimum = found["suggestions"]["consensus"], found["minimum_lr"]
        print(f"\n{name} ({role}); {found['planned_run']['updates']} updates; consensus "
              f"{consensus:.3g}, smoothed minimum {minimum:.3g}, trust {found['trust']['level']}; "
              f"sweep {found['stop_reason']} at {found['lr'][-1]:.3g}")
        for kind in kinds:
            advice = found["advice"][kind]
            cfg = lr_check.validate_config({"setup": {**setup, "schedule": advice},
                                          "points": points, "epochs": setup["epochs"]})
            rows = {p["lr"]: top1(setup, advice, p["lr"], seeds) for p in lr_check.points(cfg)}
            best_lr = max((lr for lr in rows if rows[lr] is not None), key=lambda lr: rows[lr])
            best = rows[best_lr]
            print(f"  {kind}: advice peak {advice['base_lr']:.3g}")
            for lr, acc in rows.items():
                mark = " <- advice" if lr == cfg["setup"]["schedule"]["base_lr"] else ""
                shown = "diverged" if acc is None else f"{100 * acc:.2f} %"
                print(f"    ladder peak {lr:<8.3g} {shown}{mark}")
            others = {}
            for method in ("torch_lr_finder", "fastai_valley"):
                lr = found["suggestions"].get(method)
                others[method] = top1(setup, advice, lr, seeds) if lr else None
                shown = "none" if others[method] is None else f"{100 * others[method]:.2f} %"
                print(f"    {method:<16} peak {lr or 0:<8.3g} {shown}")
            own = rows.get(advice["base_lr"]) or 0.0
            gap = 100 * (own - (others["torch_lr_finder"] or 0.0))
            print(f"    advice / ladder best = {own / best:.3f} (best peak {best_lr:.3g}); "
                  f"advice - torch-lr-finder = {gap:+.2f} points")
            # the family the peaks are chosen from, on this ladder
            family = {f"d={d:g}": consensus * 10**d for d in (0.25, 0.5, 0.75, 1.0, 1.25)}
            shares = "  ".join(f"{key}: {acc / best:.3f}" if (acc := at_lr(rows, lr)) is not None
                               else f"{key}: -" for key, lr in family.items())
            print(f"    consensus x 10^d, share of best (interpolated): {shares}")
        print(f"  ({time.perf_counter() - started:.0f} s)")


# Longer runs than the advice pairs: there the check's default budget is the whole run (cheap at
# their pace), so its proxy is exact by construction. Here a share of the run is the budget.
FIDELITY_PAIRS = (
    ("small_cnn / digits, SGD, 30 epochs", {"model": "small_cnn", "dataset": "digits",
                                            "epochs": 30, "batch_size": 64}),
    ("small_cnn w16 / digits, Adam, 30 epochs", {
        "model": "small_cnn", "width": 16, "dataset": "digits", "epochs": 30, "batch_size": 64,
        "optimizer": {"name": "adam", "weight_decay": 0.0}}),
    ("small_cnn w16 / MNIST 4k, SGD, 20 epochs", {
        "model": "small_cnn", "width": 16, "dataset": "idx", "limit": 4000, "epochs": 20,
        "batch_size": 64}),
    ("small_cnn w8 / MNIST 4k, AdamW, 20 epochs", {
        "model": "small_cnn", "width": 8, "dataset": "idx", "limit": 4000, "epochs": 20,
        "batch_size": 128, "optimizer": {"name": "adamw", "weight_decay": 0.05}}),
)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    for rank, i in enumerate(order):
        ranks[i] = float(rank)
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    """Rank correlation of two lists (ties broken by order: the ladders have few)."""
    ra, rb = _ranks(a), _ranks(b)
    n = len(a)
    mean = (n - 1) / 2
    cov = sum((x - mean) * (y - mean) for x, y in zip(ra, rb, strict=True))
    var = sum((x - mean) ** 2 for x in ra)
    return cov / var if var else 1.0


def proxy_fidelity(mnist: Path | None, points: int) -> None:
    """Does the LR check's default budget rank the ladder's LRs as full runs do? Per pair: the
    range test, its advised warmup + cosine moved to each ladder peak and trained for the
    check's default budget and for the whole run: Spearman correlation of the two rankings,
    the full-run regret of the short ladder's pick, and (the trust calibration) the range
    test's trust level and whether the advice reached 0.98 of the full ladder's best. The
    budget rule was chosen before any of these runs: every pair is held out from it."""
    calibration: dict[str, list[bool]] = {}
    for name, setup in FIDELITY_PAIRS:
        if setup["dataset"] == "idx":
            if mnist is None:
                continue
            setup = {**setup, "data_root": str(mnist)}
        setup = {**setup, "device": "cpu"}
        found = run_from_config({"setup": setup, "num_points": 100}, NullReporter())
        advice = found["advice"]["warmup_cosine"]
        cfg = lr_check.validate_config({"setup": {**setup, "schedule": advice,
                                                  "schedule_fit": "stretch"}, "points": points})
        short_epochs = lr_check.budget_epochs(cfg)
        lrs = [p["lr"] for p in lr_check.points(cfg)]
        short = [top1(setup, advice, lr, epochs=short_epochs) or 0.0 for lr in lrs]
        full = [top1(setup, advice, lr) or 0.0 for lr in lrs]
        pick = max(range(len(lrs)), key=lambda i: short[i])
        regret = 100 * (max(full) - full[pick])
        at_advice = full[lrs.index(min(lrs, key=lambda lr: abs(lr - advice["base_lr"])))]
        level = found["trust"]["level"]
        calibration.setdefault(level, []).append(at_advice >= 0.98 * max(full))
        print(f"\n{name}: budget {short_epochs} of {setup['epochs']} epochs; trust {level}")
        for lr, s, f in zip(lrs, short, full, strict=True):
            print(f"    peak {lr:<8.3g} short {100 * s:6.2f} %   full {100 * f:6.2f} %")
        print(f"  rank correlation {spearman(short, full):.2f}; short ladder's pick "
              f"{lrs[pick]:.3g}: full-run regret {regret:.2f} points; advice / full best "
              f"{at_advice / max(full):.3f}")
    print("\ntrust calibration (advice >= 0.98 of the full ladder's best):")
    for level, hits in calibration.items():
        print(f"  {level}: {sum(hits)} of {len(hits)}")


# Your own tasks (examples/), held out from the advice rules: both were written after the rules
# were fixed, and no rule was changed after they ran.
TASK_PAIRS = (
    ("tabular MLP, breast cancer, Adam, 20 epochs", {
        "task": {"spec": "examples.tabular:build"}, "epochs": 20,
        "optimizer": {"name": "adam", "weight_decay": 0.0}}),
    ("tabular MLP, breast cancer, SGD, 20 epochs", {
        "task": {"spec": "examples.tabular:build"}, "epochs": 20,
        "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 0.0}}),
    ("char-level GRU, Python docs 200k chars, Adam, 2 epochs", {
        "task": {"spec": "examples.char_lm:build"}, "epochs": 2, "grad_clip": 1.0,
        "optimizer": {"name": "adam", "weight_decay": 0.0}}),
    ("char-level GRU, Python docs 200k chars, SGD, 2 epochs", {
        "task": {"spec": "examples.char_lm:build"}, "epochs": 2, "grad_clip": 1.0,
        "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 0.0}}),
)


def task_objective(setup: dict, schedule: dict, peak: float, seeds: int = 1) -> float | None:
    """The task's final objective with `schedule` moved to `peak`, the mean over `seeds`; None
    when every seed diverged."""
    from lrlab.schedules import Schedule
    from lrlab.schedules.fit import scale_lr

    moved = scale_lr(Schedule.from_dict(schedule), peak / schedule["base_lr"]).to_dict()
    finals = []
    for seed in range(seeds):
        try:
            run = train({**setup, "schedule": moved, "seed": seed, "device": "cpu"})
            finals.append(run["summary"]["final_objective"])
        except LrlabError as exc:  # a diverged run is a result here
            print(f"    peak {peak:.3g}, seed {seed}: {exc}")
    return sum(finals) / len(finals) if finals else None


def share_of(value: float | None, best: float, mode: str) -> float:
    """A result's share of the best, oriented so 1.0 is the best: value/best for a score,
    best/value for a loss; 0 for a diverged run."""
    if value is None:
        return 0.0
    return value / best if mode == "max" else best / value


def task_advice(points: int, seeds: int) -> None:
    """Advice against the LR check's best on each example task, and torch-lr-finder's LR on the
    same schedule: the share of best of each, misses included."""
    sys.path.append(str(REPO))  # examples/ is shipped beside lrlab, as docs/tasks.md says
    for name, setup in TASK_PAIRS:
        found = run_from_config({"setup": setup, "num_points": 100}, NullReporter())
        advice = found["advice"]["onecycle"]
        cfg = lr_check.validate_config({**lr_check.from_range_test(found), "points": points,
                                        "epochs": setup["epochs"]})
        rows = {p["lr"]: task_objective(setup, advice, p["lr"], seeds)
                for p in lr_check.points(cfg)}
        mode = "max" if "tabular" in name else "min"
        pick = max if mode == "max" else min
        best_lr = pick((lr for lr in rows if rows[lr] is not None), key=lambda lr: rows[lr])
        best = rows[best_lr]
        tlf_lr = found["suggestions"].get("torch_lr_finder")
        tlf = task_objective(setup, advice, tlf_lr, seeds) if tlf_lr else None
        own = rows[advice["base_lr"]]
        print(f"\n{name}: {found['planned_run']['updates']} updates; consensus "
              f"{found['suggestions']['consensus']:.3g}, trust {found['trust']['level']}")
        for lr, value in rows.items():
            mark = " <- advice" if lr == advice["base_lr"] else ""
            print(f"    ladder peak {lr:<8.3g} {'diverged' if value is None else f'{value:.4f}'}"
                  f"{mark}")
        print(f"    torch_lr_finder  peak {tlf_lr or 0:<8.3g} "
              f"{'none' if tlf is None else f'{tlf:.4f}'}")
        print(f"  advice / ladder best = {share_of(own, best, mode):.3f} (best peak "
              f"{best_lr:.3g}); torch-lr-finder's LR = {share_of(tlf, best, mode):.3f}")


def _spread_decades(suggestions: dict) -> float:
    """How many decades every method's suggestion spans together."""
    import math

    lrs = [v for k, v in suggestions.items() if k != "consensus" and v]
    return math.log10(max(lrs) / min(lrs)) if lrs else float("nan")


def trust_calibration(mnist: Path | None, points: int, sweeps: tuple[int, ...] = (100, 30),
                      only: str | None = None) -> None:
    """Does a trust level predict how well the advice trains? Per advice pair: range tests of
    `sweeps` points each (a short sweep is noisier, so the levels vary), and one ladder of the
    1cycle advice (1 seed) centred on the first sweep's advice. Each reading's advice is scored
    as its share of the ladder's best: measured at the ladder's centre, read off the ladder
    (linear in log LR) for the other sweeps. Prints each level's share of readings whose
    advice reaches 0.98 of the best, and the same by the methods' spread."""
    readings: list[tuple[str, str, float, float, bool]] = []
    sys.path.append(str(REPO))  # the example tasks
    cases = [(name, setup, role, "max", top1) for name, setup, role in pairs(mnist)] + [
        (name, setup, "task, held out", "max" if "tabular" in name else "min", task_objective)
        for name, setup in TASK_PAIRS]
    for name, setup, role, mode, score in cases:
        if only and only not in name and only != role:
            continue
        found = [run_from_config({"setup": setup, "num_points": n}, NullReporter())
                 for n in sweeps]
        advice = found[0]["advice"]["onecycle"]
        cfg = lr_check.validate_config({**lr_check.from_range_test(found[0]), "points": points,
                                        "epochs": setup["epochs"]})
        rows = {p["lr"]: score(setup, advice, p["lr"]) for p in lr_check.points(cfg)}
        best = (max if mode == "max" else min)(v for v in rows.values() if v is not None)
        shares = {lr: share_of(v, best, mode) for lr, v in rows.items()}
        print(f"\n{name} ({role}): ladder " + ", ".join(
            f"{lr:.3g}: {'diverged' if v is None else f'{v:.4g}'}" for lr, v in rows.items()))
        for n, result in zip(sweeps, found, strict=True):
            peak = result["advice"]["onecycle"]["base_lr"]
            measured = n == sweeps[0]
            share = shares.get(peak) if measured else at_lr(shares, peak)
            how = "" if measured else " (read off the ladder)"
            if share is None:
                # past the ladder's end: no better than its end point (the objective improves
                # towards the best LR and worsens past it), so a bound below 0.98 is a miss
                end = min(rows) if peak < min(rows) else max(rows)
                share, how = shares[end], f" (at most: beyond the ladder's end {end:.3g})"
            level, spread = result["trust"]["level"], _spread_decades(result["suggestions"])
            readings.append((name, level, spread, share, measured))
            print(f"  {n:>3} points: trust {level:<6} spread {spread:.2f} decades; advice "
                  f"{peak:.3g}: share of best {share:.3f}{how}")
    print("\ntrust calibration (advice >= 0.98 of the ladder's best):")
    for level in ("high", "medium", "low"):
        shares = [r[3] for r in readings if r[1] == level]
        hits = sum(s >= 0.98 for s in shares)
        print(f"  {level:<6}: {hits} of {len(shares)}" + (
            f" ({100 * hits / len(shares):.0f} %), worst {min(shares):.3f}" if shares else ""))
    for low, high in ((0, 1), (1, 2), (2, 99)):
        shares = [r[3] for r in readings if low <= r[2] < high]
        hits = sum(s >= 0.98 for s in shares)
        print(f"  spread {low}-{high if high < 99 else ''} decades: {hits} of {len(shares)}")


def against_baselines(mnist: Path | None, points: int, seeds: int,
                      only: str | None = None) -> None:
    """Each pair's ladder of its 1cycle advice with every LR-free baseline beside it, run by
    lr_check.run_locally (the ladder `lrlab check --baselines` trains): the table of final
    objectives, seeds' spread, and how far each baseline is from the ladder's best."""
    from lrlab.core.baseline_table import BASELINES

    sys.path.append(str(REPO))  # the example tasks
    cases = [(name, setup, role) for name, setup, role in pairs(mnist)] + [
        (name, setup, "task") for name, setup in TASK_PAIRS]
    summary = []
    for name, setup, role in cases:
        if only and only not in name and only != role:
            continue
        started = time.perf_counter()
        found = run_from_config({"setup": setup, "num_points": 100}, NullReporter())
        cfg = lr_check.validate_config({**lr_check.from_range_test(found), "points": points,
                                        "epochs": setup["epochs"], "seeds": seeds,
                                        "baselines": list(BASELINES)})
        result = lr_check.run_locally(cfg)
        top1 = result["objective"] == "val_top1"

        def fig(value: float | None, top1: bool = top1) -> str:
            return "-" if value is None else (f"{100 * value:.2f} %" if top1 else f"{value:.4f}")

        def spread(row: dict) -> str:
            value = lr_check.seed_spread(row)
            return "" if value is None else f" (seeds spread {fig(value)})"

        best, advice = result["best"], result["advice"]
        print(f"\n{name} ({role}): {result['objective']}, {seeds} seed(s) each "
              f"({time.perf_counter() - started:.0f} s)")
        print(f"  ladder best  LR {best['lr']:<8.3g} {fig(best['final_objective'])}{spread(best)}")
        print(f"  advice       LR {advice['lr']:<8.3g} {fig(advice['final_objective'])}"
              f"{spread(advice)}")
        for b in result["baselines"]:
            sign = 1 if result["mode"] == "max" else -1  # positive: the tuned point is better
            gap = (None if b["final_objective"] is None
                   else sign * (best["final_objective"] - b["final_objective"]))
            print(f"  {b['title']:<22} {fig(b['final_objective'])}{spread(b)}; "
                  f"ladder best - it = {'-' if gap is None else fig(gap)}"
                  + ("" if b["status"] == "succeeded" else f" [{b['status']}: {b['error']}]"))
        print("  verdict: " + lr_check.baseline_verdict(
            best, result["baselines"], result["versus"], lr_check.schedule_words(cfg["setup"])))
        summary.append((name, result["versus"]))
    print("\nbest tuned point against the best baseline (gap ± standard error):")
    for name, versus in summary:
        if versus is None:
            print(f"  {name}: no comparison")
            continue
        error = "" if versus["error"] is None else f" ± {versus['error']:.4f}"
        print(f"  {name}: {versus['title']}, gap {versus['gap']:+.4f}{error}, "
              f"beyond the spread: {versus['beyond']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", type=Path, default=REPO.parent / "shared/data/mnist-t10k")
    parser.add_argument("--only", choices=("parallel", "advice", "fidelity", "trust", "tasks",
                                           "baselines"), default=None)
    parser.add_argument("--points", type=int, default=9, help="ladder points per schedule")
    parser.add_argument("--pair", default=None,
                        help="only the pairs whose name contains this, or of this role "
                             f"({TUNED!r}, {SEEN!r}, {COSINE_HELD_OUT!r}, {HELD_OUT!r})")
    parser.add_argument("--seeds", type=int, default=1,
                        help="seeds per trained point (each figure is their mean)")
    parser.add_argument("--schedule", choices=tuple(PEAK_DECADES), default=None,
                        help="only this advised schedule's ladder")
    args = parser.parse_args()
    mnist = args.mnist if args.mnist.exists() else None
    if args.only == "fidelity":
        proxy_fidelity(mnist, args.points)
        return
    if args.only == "trust":
        trust_calibration(mnist, args.points, only=args.pair)
        return
    if args.only == "tasks":
        task_advice(args.points, args.seeds)
        return
    if args.only == "baselines":
        against_baselines(mnist, args.points, args.seeds, args.pair)
        return
    if args.only != "advice":
        one = ladder_seconds(1)
        two = ladder_seconds(2)
        print(f"5-point ladder, 3 epochs a point: 1 worker {one:.1f} s, 2 workers {two:.1f} s "
              f"-> ratio {two / one:.2f} (target <= 0.65)")
    if args.only != "parallel":
        kinds = (args.schedule,) if args.schedule else tuple(PEAK_DECADES)
        advice_quality(mnist, args.points, args.pair, kinds, args.seeds)


if __name__ == "__main__":
    main()
