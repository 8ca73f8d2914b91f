"""Real-browser fixtures: the app started exactly as the README says, and Debian's chromium.

Skips with a clear reason where there is no browser (playwright cannot download one here).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("LRLAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]


# Counts Streamlit's finished script runs: the app root's data-test-script-state attribute goes
# to "notRunning" each time a run ends. A test waits for the count to grow, not for a fixed time.
COUNT_RUNS = """
window.__lrlabRuns = 0;
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.getAttribute('data-test-script-state') === 'notRunning' &&
        r.oldValue !== 'notRunning') window.__lrlabRuns += 1;
  }
}).observe(document, {attributes: true, attributeOldValue: true, subtree: true,
                      attributeFilter: ['data-test-script-state']});
"""


def _rerun(page, action) -> None:
    before = page.evaluate("window.__lrlabRuns")
    action()
    page.wait_for_function(f"window.__lrlabRuns > {before}", timeout=60_000)


@pytest.fixture
def rerun():
    """rerun(page, action): do action, then wait until the Streamlit run it caused has ended."""
    return _rerun


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)  # condition-wait
    raise RuntimeError(f"the app did not become healthy at {url} within {timeout:.0f} s")


@pytest.fixture(scope="session")
def app_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LRLAB_HOME of the app under test (its store and run folders)."""
    return tmp_path_factory.mktemp("lrlab-home")


@pytest.fixture(scope="session")
def app_url(app_home: Path) -> Iterator[str]:
    """`make run` on a free port with an isolated LRLAB_HOME, stopped after the session."""
    port = _free_port()
    home = app_home
    # the tabular example registered, as whoever starts the app registers their own tasks
    env = {**os.environ, "LRLAB_HOME": str(home), "PORT": str(port),
           "LRLAB_TASKS": "examples.tabular:build"}
    env.pop("LRLAB_DB", None)
    log = (home / "app.log").open("wb")
    proc = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=REPO,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"no browser: {CHROMIUM} not found (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url: str, tmp_path: Path) -> Iterator[object]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    context.add_init_script(COUNT_RUNS)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
