"""The GPU check: every CUDA-only line of lrlab run for real, and its speed on the GPU measured
against references in the same run, in one go on a bare GPU machine (target: 8 minutes on one
H100). Such a machine receives only the working tree, so `prepare` first puts what it lacks in an
ignored folder that travels with it:

    python3 benchmarks/gpu_check.py prepare            # here: the MNIST test set and wheels
    python3 benchmarks/gpu_check.py run --out DIR      # there, with .gpu-carry carried along
    python3 benchmarks/gpu_check.py run --dry-run      # anywhere: the same steps on the CPU

`run` installs what is missing from the carried wheels, runs `tests/gpu`, then prints four
ratios, each against a reference measured in the same run:

1. the range test against torch-lr-finder on the same model, data and sweep (time ratio);
2. the training loop's images/s against a plain hand-written loop (same model, AMP, optimizer);
3. the on-device loader's images/s against a DataLoader with workers and pinned memory;
4. an LR check of 5 points as one worker's jobs against the same points run one after another
   in one process (the cost of a process and a store per point).

It writes `gpu_check.json` (the environment, the tests' counts and every figure) to --out.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / ".gpu-carry"
SITE = Path("/tmp/lrlab-gpu-site")
# What lrlab needs that the GPU image lacks (its package list: the device tool's KINDS.md), by
# import name and requirement name; the versions are the ones requirements*.txt pin.
NEEDED = {"sqlalchemy": "sqlalchemy", "torch_lr_finder": "torch-lr-finder"}
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                   "manylinux2014_x86_64", "manylinux1_x86_64")


# -- set-up -------------------------------------------------------------------------------------

def missing(modules: dict[str, str]) -> list[str]:
    """The requirement names of the modules this Python cannot import."""
    return [req for module, req in modules.items() if importlib.util.find_spec(module) is None]


def pins(names: list[str], root: Path = ROOT) -> list[str]:
    """`name==version` for each name, as the project's requirements files pin it."""
    found: dict[str, str] = {}
    for path in root.glob("requirements*.txt"):
        for line in path.read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s#]+)", line.strip())
            if match:
                found[match.group(1).lower()] = f"{match.group(1)}=={match.group(3)}"
    absent = [n for n in names if n.lower() not in found]
    if absent:
        raise SystemExit(f"gpu_check: no pinned version of {', '.join(absent)} in "
                         "requirements*.txt")
    return [found[n.lower()] for n in names]


def download_command(requirements: list[str], dest: Path, python: str = "3.12") -> list[str]:
    """pip download of binary wheels for the GPU machine's Python (3.12, x86-64 Linux)."""
    platforms = [arg for p in WHEEL_PLATFORMS for arg in ("--platform", p)]
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--python-version", python, "--implementation", "cp", *platforms,
            "-d", str(dest), *requirements]


def install_command(wheels: list[Path], target: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
            "--no-compile", "--no-cache-dir", "--upgrade", "--target", str(target),
            *map(str, wheels)]


def prepare(carry: Path = CARRY) -> None:
    """Here: the MNIST test set and the wheels of every needed package, into `carry`."""
    data = ROOT.parent / "shared" / "data" / "mnist-t10k"
    if not data.is_dir():
        raise SystemExit(f"gpu_check: the MNIST test set is not at {data}")
    shutil.copytree(data, carry / "data" / "mnist-t10k", dirs_exist_ok=True)
    wheels = carry / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(download_command(pins(list(NEEDED.values())), wheels), check=True)
    print(f"gpu_check: prepared {carry} ({sum(1 for _ in wheels.glob('*.whl'))} wheels); "
          "carry it along: run(..., carry=['.gpu-carry'])")


def install(carry: Path = CARRY, target: Path = SITE) -> list[str]:
    """Install the carried wheels of whatever is missing, and put them on this process's and
    its children's path; the names installed (none when nothing was missing)."""
    needed = missing(NEEDED)
    if not needed:
        return []
    wheels = [w for w in (carry / "wheels").glob("*.whl")
              if any(w.name.lower().startswith(n.replace("-", "_")) for n in needed)]
    if len(wheels) < len(needed):
        raise SystemExit(f"gpu_check: {', '.join(needed)} missing and no wheel for each in "
                         f"{carry / 'wheels'}; run `python3 benchmarks/gpu_check.py prepare` "
                         "and carry .gpu-carry")
    subprocess.run(install_command(wheels, target), check=True)
    sys.path.insert(0, str(target))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target),
                                                             os.environ.get("PYTHONPATH")]))
    return needed


def run_tests(out: Path) -> dict[str, Any]:
    """tests/gpu in a child pytest: its counts, and the whole report in the output folder."""
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/gpu", "-q", "-rs", "-p",
                           "no:cacheprovider", "--timeout", "600"],
                          cwd=ROOT, capture_output=True, text=True)
    (out / "tests_gpu.txt").write_text(done.stdout + done.stderr)
    print(done.stdout[-4000:])
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error)",
                                              done.stdout.splitlines()[-1] if done.stdout
                                              else "")}
    return {"returncode": done.returncode, **counts}


# -- figures ------------------------------------------------------------------------------------

def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _setup(dry_run: bool) -> dict[str, Any]:
    """The data the figures use: the carried MNIST test set (10k images, 28x28) on a GPU,
    scikit-learn's digits in a dry run."""
    mnist = next((p for p in (CARRY / "data" / "mnist-t10k",
                              ROOT.parent / "shared" / "data" / "mnist-t10k") if p.is_dir()), None)
    if dry_run or mnist is None:
        return {"model": "small_cnn", "dataset": "digits", "epochs": 5}
    return {"model": "small_cnn", "dataset": "idx", "data_root": str(mnist), "epochs": 5}


def bench_range_test(device: Any, data: Any, points: int) -> dict[str, Any]:
    """lrlab's range test and torch-lr-finder's on the same model, batches and sweep: one
    DataLoader of the normalised images, each tool moving its batches to the device."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from torch_lr_finder import LRFinder

    from lrlab.finder.range_test import range_test
    from lrlab.tasks.image.models import build_model

    def model() -> nn.Module:
        torch.manual_seed(0)
        return build_model("small_cnn", num_classes=data.num_classes,
                           in_channels=data.in_channels, image_size=data.image_size).to(device)

    x = (data.train.x.float() / 255.0 - data.mean[0]) / data.std[0]
    batches = DataLoader(TensorDataset(x, data.train.y), batch_size=128, shuffle=False,
                         drop_last=True)
    timings = {"lrlab": [], "torch_lr_finder": []}
    for _ in range(3):
        net = model()
        _sync(device)
        start = time.perf_counter()
        range_test(net, torch.optim.SGD(net.parameters(), lr=1e-7, momentum=0.9), batches,
                   criterion=nn.CrossEntropyLoss(), num_points=points, diverge_threshold=1e9,
                   device=device)
        _sync(device)
        timings["lrlab"].append(time.perf_counter() - start)
        net = model()
        finder = LRFinder(net, torch.optim.SGD(net.parameters(), lr=1e-7, momentum=0.9),
                          nn.CrossEntropyLoss(), device=device)
        _sync(device)
        start = time.perf_counter()
        finder.range_test(batches, end_lr=10, num_iter=points, diverge_th=1e9)
        _sync(device)
        timings["torch_lr_finder"].append(time.perf_counter() - start)
        finder.reset()
    best = {k: min(v) for k, v in timings.items()}
    return {"points": points, "seconds": best,
            "ratio": best["torch_lr_finder"] / best["lrlab"],
            "reads": "torch-lr-finder's time / lrlab's (> 1: lrlab is faster)"}


def bench_train_loop(device: Any, data: Any, epochs: int) -> dict[str, Any]:
    """lrlab's run_epochs against a plain loop: same ResNet, on-device batches, AMP, SGD."""
    import torch
    from torch import nn

    from lrlab.core.precision import resolve_precision
    from lrlab.tasks.image.data import make_loader
    from lrlab.tasks.image.models import build_model
    from lrlab.training.loop import run_epochs

    precision = resolve_precision("auto", device)
    loader = make_loader(data, "train", 256, device=device, seed=0)
    val = make_loader(data, "val", 256, device=device, seed=0)
    fmt = torch.channels_last if device.type == "cuda" else torch.preserve_format

    def fresh() -> tuple[nn.Module, torch.optim.Optimizer, Any]:
        torch.manual_seed(0)
        net = build_model("resnet18", num_classes=data.num_classes,
                          in_channels=data.in_channels, image_size=data.image_size,
                          width=16).to(device=device, memory_format=fmt)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        return net, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)

    def plain() -> float:
        net, opt, sched = fresh()
        scaler = precision.grad_scaler()
        images, start = 0, time.perf_counter()
        for _ in range(epochs):
            for x, y in loader:
                with precision.autocast():
                    loss = nn.functional.cross_entropy(net(x.contiguous(memory_format=fmt)), y)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                sched.step()
                images += y.shape[0]
        _sync(device)
        return images / (time.perf_counter() - start)

    def ours() -> float:
        net, opt, sched = fresh()
        result = run_epochs(net, opt, sched, loader, val, epochs, precision=precision,
                            memory_format=fmt)
        return result.train_images / result.train_seconds if result.train_seconds else 0.0

    rounds = [(plain(), ours()) for _ in range(2)]
    best_plain, best_ours = max(r[0] for r in rounds), max(r[1] for r in rounds)
    return {"epochs": epochs, "precision": precision.name, "images_per_s":
            {"plain": best_plain, "lrlab": best_ours}, "ratio": best_ours / best_plain,
            "reads": "lrlab's images/s / a plain loop's (target >= 0.95)"}


def bench_loader(device: Any, data: Any) -> dict[str, Any]:
    """The on-device loader against a DataLoader (workers, pinned memory, per-sample crop)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from lrlab.tasks.image.data import make_loader

    ours = make_loader(data, "train", 256, device=device, seed=0)
    x = data.train.x.float() / 255.0
    reference = DataLoader(TensorDataset(x, data.train.y), batch_size=256, shuffle=True,
                           num_workers=2, pin_memory=device.type == "cuda",
                           persistent_workers=True, drop_last=True)

    def rate(batches: Any, move: bool) -> float:
        images, total = 0, torch.zeros((), device=device)
        start = time.perf_counter()
        for _ in range(3):
            for xb, yb in batches:
                if move:
                    xb = xb.to(device, non_blocking=True)
                    yb = yb.to(device, non_blocking=True)
                total += xb.sum()
                images += yb.shape[0]
        _sync(device)
        return images / (time.perf_counter() - start)

    rate(ours, False)  # the first pass pays the one-off copy to the device
    ours_rate, reference_rate = rate(ours, False), rate(reference, True)
    return {"images_per_s": {"lrlab": ours_rate, "DataLoader": reference_rate},
            "ratio": ours_rate / reference_rate,
            "reads": "lrlab's images/s / a DataLoader's (> 1: lrlab is faster)"}


def bench_check_ladder(device: Any, setup: dict[str, Any], out: Path) -> dict[str, Any]:
    """A 5-point LR check as one worker's jobs (a warm process and the store per point) against
    the same points trained one after another in this process."""
    from lrlab import lr_check
    from lrlab.jobs import kinds
    from lrlab.store import Store

    cfg = lr_check.validate_config({"setup": {**setup, "device": device.type}, "lr": 0.1,
                                    "points": 5, "epochs": 1})
    start = time.perf_counter()
    lr_check.run_locally(cfg)
    in_process = time.perf_counter() - start
    url = f"sqlite:///{out / 'ladder.db'}"
    env = {**os.environ, "LRLAB_HOME": str(out / "home")}
    (out / "home").mkdir(exist_ok=True)
    with Store(url) as store, open(out / "worker.log", "wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "lrlab.cli", "worker", "--db", url,
                                   "--device", device.type, "--poll", "0.05"],
                                  stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while not store.live_workers():  # start-up is not the ladder's time
                time.sleep(0.1)
            start = time.perf_counter()
            job_id = kinds.submit(store, "check", cfg)
            while not store.get(job_id).is_finished:
                kinds.refresh(store, store.get(job_id))
                time.sleep(0.1)
            as_jobs = time.perf_counter() - start
            status = store.get(job_id).status
        finally:
            worker.terminate()
            worker.wait(60)
    return {"points": 5, "seconds": {"one_process": in_process, "worker_jobs": as_jobs},
            "status": status, "ratio": as_jobs / in_process,
            "reads": "the worker's time / one process's (the cost of a process per point)"}


# -- the run ------------------------------------------------------------------------------------

def run(out: Path, dry_run: bool) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    # lrlab from this checkout (a GPU machine has it only as the working tree), here and in
    # every process the check starts (pytest, workers, their children)
    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                             os.environ.get("PYTHONPATH")]))
    installed = install()
    import torch

    if not dry_run and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device; use --dry-run to rehearse on the CPU")
    device = torch.device("cuda" if torch.cuda.is_available() and not dry_run else "cpu")
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "dry_run": dry_run,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU",
        "torch": torch.__version__, "python": platform.python_version(),
        "installed": installed}
    started = time.perf_counter()
    report["tests"] = run_tests(out)
    from lrlab.tasks.image.data import load_dataset

    setup = _setup(dry_run)
    data = load_dataset(setup["dataset"], root=setup.get("data_root"), seed=0)
    figures = {
        "range_test_vs_torch_lr_finder": lambda: bench_range_test(device, data,
                                                                   30 if dry_run else 100),
        "train_loop_vs_plain_loop": lambda: bench_train_loop(device, data, 1 if dry_run else 3),
        "loader_vs_dataloader": lambda: bench_loader(device, data),
        "lr_check_worker_vs_one_process": lambda: bench_check_ladder(device, setup, out),
    }
    for name, measure in figures.items():
        try:
            report[name] = measure()
        except Exception as exc:  # one figure failing must not hide the others
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"{name}: {json.dumps(report[name])}", flush=True)
    report["seconds"] = time.perf_counter() - started
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    print(f"gpu_check: {report['tests']} in {report['seconds']:.0f} s; wrote "
          f"{out / 'gpu_check.json'}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help="copy the data and download the wheels into .gpu-carry")
    go = sub.add_parser("run", help="install, run tests/gpu, measure, write gpu_check.json")
    go.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-check-out")))
    go.add_argument("--dry-run", action="store_true", help="the same steps on the CPU")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare()
    else:
        report = run(args.out, args.dry_run)
        sys.exit(1 if report["tests"].get("returncode", 1) not in (0, 5) else 0)


if __name__ == "__main__":
    main()
