"""The two checks every config section starts with, phrased one way everywhere: the section is a
mapping, and it holds no field nobody reads (a typo would otherwise be ignored silently)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from lrlab.core.errors import LrlabError

T = TypeVar("T")


def require_mapping(value: Any, where: str,
                    error: type[LrlabError] = LrlabError) -> Mapping[str, Any]:
    """`value` if it is a mapping, else one sentence naming `where` and what it got."""
    if not isinstance(value, Mapping):
        got = "null" if value is None else f"{type(value).__name__} {value!r}"
        raise error(f"{where}: expected a mapping, got {got}")
    return value


def refuse_unknown(section: Mapping[str, Any], allowed: Iterable[str], where: str,
                   error: type[LrlabError] = LrlabError) -> None:
    """Refuse fields `section` holds beyond `allowed`, naming them and the ones there are."""
    allowed = list(allowed)
    unknown = sorted(str(k) for k in section if k not in allowed)
    if unknown:
        raise error(f"{where}: unknown field(s) {', '.join(unknown)}; expected some of "
                    f"{', '.join(allowed)}")


def named_row(table: Mapping[str, T], name: Any, where: str) -> T:
    """The row of a table (optimizers, baselines) a name picks, or one sentence naming the
    field and the names there are."""
    try:
        return table[name]
    except (KeyError, TypeError):
        raise LrlabError(f"{where}: expected one of {', '.join(table)}, got {name!r}") from None
