"""What commands print: the result on stdout, every note and warning on stderr.

So `id=$(lrlab submit ...)` or `lrlab show 3 --json | jq` get only the result, whatever else a
command has to say.
"""

from __future__ import annotations

import sys


def note(message: str) -> None:
    """A remark for the person at the terminal (what was written, what to do next)."""
    print(f"lrlab: {message}", file=sys.stderr, flush=True)
