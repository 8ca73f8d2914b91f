"""Where a job's files live (its run folder: metrics.jsonl, summary.json, checkpoint.pt), named
by a URL so the app on any host can read what a worker on another host wrote.

The artifact root is local by default (`file://$LRLAB_HOME/runs`). `$LRLAB_ARTIFACTS` (or
`lrlab worker --artifacts`) names shared storage with an fsspec URL: a mounted share
(`file:///mnt/lrlab-runs`) is written in place; any other protocol (`s3://bucket/lrlab` with
s3fs installed, ...) is written to a local staging folder and uploaded when the job ends. A job's
result names its run folder's URL (`artifacts`), and pages read through it.
"""

from __future__ import annotations

import os
from pathlib import Path

from lrlab.core.errors import LrlabError
from lrlab.core.paths import lrlab_home


def artifact_root(given: str | None = None) -> str:
    """The root URL: `given`, else $LRLAB_ARTIFACTS, else this host's $LRLAB_HOME/runs."""
    root = given or os.environ.get("LRLAB_ARTIFACTS") or (lrlab_home() / "runs").as_uri()
    if "://" not in root:  # a plain path
        root = Path(root).expanduser().resolve().as_uri()
    return root.rstrip("/")


def run_url(job_id: int, root: str | None = None) -> str:
    """The URL of a job's run folder under the artifact root."""
    return f"{artifact_root(root)}/{job_id}"


def local_path(url: str) -> Path | None:
    """The folder a file:// URL names on this host; None for other storage."""
    if not url.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(url).path))


def read_bytes(url: str, name: str) -> bytes:
    """A file of a run folder, from wherever the folder lives."""
    import fsspec

    where = f"{url}/{name}"
    try:
        with fsspec.open(where, "rb") as handle:
            return handle.read()
    except (OSError, ImportError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise LrlabError(f"{where}: not readable from this host ({reason}); the worker wrote "
                         "it there: point LRLAB_ARTIFACTS on the workers at storage every host "
                         "can read") from None


def upload(folder: Path, url: str) -> None:
    """Copy a run folder written in staging to its URL (storage that is not a local path)."""
    import fsspec

    fs, target = fsspec.core.url_to_fs(url)
    fs.makedirs(target, exist_ok=True)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            fs.put_file(str(path), f"{target}/{path.relative_to(folder).as_posix()}")


def staging_dir(job_id: int) -> Path:
    """Where a job writes before its upload to storage that is not a local path."""
    return lrlab_home() / "staging" / str(job_id)
