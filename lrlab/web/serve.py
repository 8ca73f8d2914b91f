"""`lrlab app`: serve the web app with its worker supervised from the first second.

Streamlit runs a page's script only when a browser connects, so a worker started from the page
would not exist until someone opened it: a job queued from the CLI would wait. This launcher starts
the worker supervisor in the server process, then hands the process to Streamlit; the pages find
the same supervisor and only report on it.

It listens on 127.0.0.1 unless told otherwise: serving others (`--host 0.0.0.0`) is a choice, and
then pages may read host folders only under LRLAB_DATA_DIRS (see `lrlab.core.paths`).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from lrlab.core.errors import LrlabError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501


def register(subparsers: argparse._SubParsersAction) -> None:
    app = subparsers.add_parser(
        "app",
        help="serve the web app (and its own local worker)",
        description="Serve the lrlab web app. A local worker is started with the server and "
        "restarted if it dies, unless LRLAB_LOCAL_WORKER=0.",
    )
    app.add_argument(
        "--host", default=DEFAULT_HOST,
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 serves "
             "others, who may then read host folders only under LRLAB_DATA_DIRS)",
    )
    app.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8501)")
    app.add_argument("--script", type=Path, help="the app's entry script (default: app.py)")
    app.set_defaults(func=_cmd_app)


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
        Path(__file__).resolve().parent.parent / "app.py",
        Path.cwd() / "app.py",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(map(str, candidates))
    raise LrlabError(f"--script: app entry not found (looked for {looked})")


def _cmd_app(args: argparse.Namespace) -> int:
    from streamlit.web import cli as streamlit_cli

    from lrlab.jobs.supervisor import ensure_local_worker, local_worker_wanted

    script = find_app_script(args.script)
    if not 0 < args.port < 65536:
        raise LrlabError(f"--port: expected 1-65535, got {args.port}")
    if local_worker_wanted():
        ensure_local_worker(None)
    print(f"lrlab: serving {script} on http://{args.host}:{args.port}", file=sys.stderr)
    streamlit_cli.main(
        ["run", str(script), "--server.address", args.host, "--server.port", str(args.port),
         "--server.headless", "true"],
        prog_name="streamlit",
    )
    return 0
