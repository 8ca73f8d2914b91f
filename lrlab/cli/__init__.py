"""The `lrlab` command: a thin dispatcher over each area's `commands` module.

Each area registers its own sub-commands; this module owns only the shape of a failure: bad input
exits non-zero with one line naming the problem, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from lrlab import __version__
from lrlab.core.errors import LrlabError

# Modules exposing `register(subparsers)`; they import heavy libraries (torch) lazily.
COMMAND_MODULES = ("lrlab.cli.schedule", "lrlab.cli.jobs", "lrlab.cli.find", "lrlab.cli.check",
                   "lrlab.cli.train", "lrlab.cli.app")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrlab", description="Choose learning rates and schedules, and check them."
    )
    parser.add_argument("--version", action="version", version=f"lrlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (LrlabError, OSError) as exc:
        print(f"lrlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lrlab: interrupted", file=sys.stderr)
        return 130

