"""The GPU check rehearsed on the CPU (--dry-run): every step a GPU machine would run, end to
end, so the one run a borrowed GPU gets is not its first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_dry_run_goes_end_to_end_and_writes_every_figure(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "run", "--dry-run",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["dry_run"] is True and report["device"] == "CPU"
    assert report["tests"]["returncode"] == 0 and report["tests"]["skipped"] >= 7
    for figure in ("range_test_vs_torch_lr_finder", "train_loop_vs_plain_loop",
                   "loader_vs_dataloader", "lr_check_worker_vs_one_process"):
        assert "error" not in report[figure], report[figure]
        assert report[figure]["ratio"] > 0
    assert report["lr_check_worker_vs_one_process"]["status"] == "succeeded"
    assert (tmp_path / "tests_gpu.txt").read_text().count("SKIPPED") >= 1
