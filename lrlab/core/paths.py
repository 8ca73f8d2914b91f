"""Where lrlab keeps its files, and which host folders the app may read for others.

Kept apart from the job store so the training library, the worker and the app can all find
`$LRLAB_HOME` without importing SQLAlchemy.

When the app serves other people (it listens on more than loopback), a path typed into a page is
a path on *this* host: without a limit, anyone who can reach the app could read any image folder
or model file the server can. `LRLAB_DATA_DIRS` (os.pathsep-separated) lists the folders pages may
name; the default is `$LRLAB_HOME/data` and the user's home. The CLI is the host's own user and
stays unrestricted.
"""

from __future__ import annotations

import os
from pathlib import Path

from lrlab.core.errors import LrlabError


def lrlab_home() -> Path:
    """$LRLAB_HOME (default ~/.lrlab), created if needed and checked to be writable."""
    home = Path(os.environ.get("LRLAB_HOME") or "~/.lrlab").expanduser()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LrlabError(f"LRLAB_HOME: cannot create {home}: {exc.strerror or exc}") from exc
    if not home.is_dir() or not os.access(home, os.W_OK | os.X_OK):
        raise LrlabError(f"LRLAB_HOME: {home} is not a writable folder; point LRLAB_HOME elsewhere")
    return home


def allowed_data_dirs() -> list[Path]:
    """The folders pages may read from when the app serves others ($LRLAB_DATA_DIRS)."""
    raw = os.environ.get("LRLAB_DATA_DIRS")
    if raw:
        folders = [Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip()]
    else:
        folders = [lrlab_home() / "data", Path.home()]
    return [folder.resolve() for folder in folders]


def confine_path(field: str, value: str | None, allowed: list[Path]) -> None:
    """Refuse a host path outside the allowed folders (symlinks and `..` resolved first)."""
    if not value:
        return
    path = Path(value).expanduser().resolve()
    if not any(path == folder or path.is_relative_to(folder) for folder in allowed):
        names = ", ".join(str(folder) for folder in allowed)
        raise LrlabError(
            f"{field}: {value!r} is outside the folders this app may read ({names}); "
            "the server's admin can widen LRLAB_DATA_DIRS"
        )


def host_paths(config: dict) -> dict[str, str]:
    """The host paths a job config names, by field (a teacher given as a job id is not a path)."""
    found = {}
    for prefix, section in (("", config), ("setup.", config.get("setup"))):
        if not isinstance(section, dict):
            continue  # a range test or ladder names its paths in its setup
        if isinstance(section.get("data_root"), str):
            found[prefix + "data_root"] = section["data_root"]
        distillation = (section.get("tricks") or {}).get("distillation") or {}
        teacher = distillation.get("teacher")
        if isinstance(teacher, str) and not teacher.strip().isdigit():
            found[prefix + "tricks.distillation.teacher"] = teacher
    return found
