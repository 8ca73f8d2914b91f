"""Reading config files people write by hand: JSON or YAML with the safe loader.

YAML 1.1 reads `1e-4` as a string (it wants `1.0e-4`); every LR in a config looks like that, so
the loader here also reads it as a number.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from lrlab.core.errors import LrlabError


class NumberFriendlyLoader(yaml.SafeLoader):
    """SafeLoader that also reads 1e-4 as a float."""


NumberFriendlyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """JSON or YAML text (JSON is YAML) through the number-friendly safe loader."""
    return yaml.load(text, Loader=NumberFriendlyLoader)  # a SafeLoader subclass


def read_config_file(path: Path, option: str = "--config") -> dict[str, Any]:
    """A mapping from a JSON or YAML file; errors name the option and the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LrlabError(f"{option}: cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise LrlabError(f"{option}: {path} is neither valid JSON nor YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise LrlabError(
            f"{option}: {path} must hold a mapping of fields, not {type(data).__name__}"
        )
    return data
