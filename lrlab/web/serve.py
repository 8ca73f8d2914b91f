"""Serving the web app (`lrlab app`) with its worker supervised from the first second.

Streamlit runs a page's script only when a browser connects, so a worker started from the page
would not exist until someone opened it: a job queued from the CLI would wait. This launcher starts
the worker supervisor in the server process, then hands the process to Streamlit; the pages find
the same supervisor and only report on it.

It listens on 127.0.0.1 unless told otherwise: serving others (`--host 0.0.0.0`) is a choice, and
then pages may read host folders only under LRLAB_DATA_DIRS (see `lrlab.core.paths`).
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from lrlab.core.errors import LrlabError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501


def serves_others(address: str | None) -> bool:
    """True unless the server listens on loopback only (an empty address means every one)."""
    if not address:
        return True
    if address == "localhost":
        return False
    try:
        return not ipaddress.ip_address(address).is_loopback
    except ValueError:
        return True  # a host name other than localhost: reachable from elsewhere


def find_app_script(script: Path | None) -> Path:
    """The entry script: the one given, else app.py beside the package or in this folder."""
    candidates = [script] if script else [
        Path(__file__).resolve().parents[2] / "app.py",
        Path.cwd() / "app.py",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(map(str, candidates))
    raise LrlabError(f"--script: app entry not found (looked for {looked})")


def serve(script: Path | None, host: str, port: int) -> None:
    """Start the app's worker supervisor (unless workers run elsewhere), then hand this process
    to Streamlit serving the entry script on host:port."""
    from streamlit.web import cli as streamlit_cli

    # here, not at the top: `lrlab --help` reads this module and needs no database driver
    from lrlab.jobs.supervisor import ensure_local_worker, local_worker_wanted

    entry = find_app_script(script)
    if not 0 < port < 65536:
        raise LrlabError(f"--port: expected 1-65535, got {port}")
    if local_worker_wanted():
        ensure_local_worker(None)
    print(f"lrlab: serving {entry} on http://{host}:{port}", file=sys.stderr)
    streamlit_cli.main(
        ["run", str(entry), "--server.address", host, "--server.port", str(port),
         "--server.headless", "true"],
        prog_name="streamlit",
    )
