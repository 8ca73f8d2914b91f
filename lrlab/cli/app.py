"""`lrlab app`: serve the web app and its own worker (see lrlab.web.serve)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lrlab.web.serve import DEFAULT_HOST, DEFAULT_PORT


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


def _cmd_app(args: argparse.Namespace) -> int:
    from lrlab.web.serve import serve

    serve(args.script, args.host, args.port)
    return 0
