"""The GPU check's set-up steps, which run on a bare machine with no second chance: finding what
is missing, pinning it as the project does, downloading wheels for the GPU machine's Python, and
installing carried wheels where the check's processes import them."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel(folder: Path, name: str, version: str = "1.0") -> Path:
    """A minimal, valid wheel of a one-module package (what `pip wheel` would write)."""
    files = {f"{name}/__init__.py": b"ANSWER = 42\n",
             f"{name}-{version}.dist-info/METADATA":
                 f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{name}-{version}.dist-info/WHEEL":
                 b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},sha256={_digest(data)},{len(data)}\n"
                     for path, data in files.items()) + f"{name}-{version}.dist-info/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name_in, data in files.items():
            archive.writestr(name_in, data)
        archive.writestr(f"{name}-{version}.dist-info/RECORD", record)
    return path


def test_what_is_missing_is_found_by_import_name(gpu_check) -> None:
    assert gpu_check.missing({"json": "json", "no_such_module_here": "no-such"}) == ["no-such"]


def test_wheels_are_pinned_as_the_requirements_pin_them(gpu_check) -> None:
    pinned = gpu_check.pins(list(gpu_check.NEEDED.values()))
    text = "".join(p.read_text() for p in ROOT.glob("requirements*.txt"))
    assert all(pin in text for pin in pinned) and all("==" in pin for pin in pinned)
    with pytest.raises(SystemExit, match="no pinned version of nonesuch"):
        gpu_check.pins(["nonesuch"])


def test_downloads_are_binary_wheels_for_the_gpu_machines_python(gpu_check, tmp_path) -> None:
    command = gpu_check.download_command(["a==1"], tmp_path)
    assert command[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in command and "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == "3.12"
    assert "manylinux2014_x86_64" in command and command[-1] == "a==1"


def test_nothing_is_installed_when_nothing_is_missing(gpu_check, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(gpu_check, "NEEDED", {"json": "json"})
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip was called"))
    assert gpu_check.install(tmp_path, tmp_path / "site") == []


def test_a_missing_package_without_its_wheel_says_how_to_prepare(gpu_check, monkeypatch,
                                                                 tmp_path) -> None:
    monkeypatch.setattr(gpu_check, "NEEDED", {"lrlab_gpu_fake": "lrlab-gpu-fake"})
    with pytest.raises(SystemExit, match=r"gpu_check\.py prepare"):
        gpu_check.install(tmp_path, tmp_path / "site")


def test_a_carried_wheel_is_installed_where_the_check_imports_it(gpu_check, monkeypatch,
                                                                 tmp_path) -> None:
    (tmp_path / "wheels").mkdir()
    _wheel(tmp_path / "wheels", "lrlab_gpu_fake")
    monkeypatch.setattr(gpu_check, "NEEDED", {"lrlab_gpu_fake": "lrlab-gpu-fake"})
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "")
    assert gpu_check.install(tmp_path, tmp_path / "site") == ["lrlab-gpu-fake"]
    assert (tmp_path / "site" / "lrlab_gpu_fake" / "__init__.py").is_file()
    child = subprocess.run([sys.executable, "-c", "import lrlab_gpu_fake as m; print(m.ANSWER)"],
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "42"  # a child process finds it too (PYTHONPATH)
