"""Typed results: what each released field *is*, declared on the field itself.

Every stage returns frozen dataclasses in natural units (rates as proportions); a field's
:class:`Kind` (count, derived, statistic, label, flag, meta) is its metadata, so the disclosure
rules that apply to it are stated where the number is made, and a test checks each one against
:func:`jdl.disclosure.kind_of`. Dicts appear only at the file/API boundary, via :func:`to_plain`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a released field is, which decides the rule applied to it."""

    COUNT = "count"  # people or events: suppressed below min_count, else rounded
    DERIVED = "derived"  # rate, mean, difference, CI, p-value, wording built from counts
    STATISTIC = "statistic"  # not a count and not from a small cell (SMD, caliper, day...)
    LABEL = "label"  # text chosen by the lab or the organisation (names, categories)
    FLAG = "flag"  # true/false
    META = "meta"  # versions, hashes, seed, timestamps


def released(kind: Kind, *, default: Any = dataclasses.MISSING,
             omit_if_none: bool = False) -> Any:
    """A dataclass field released as ``kind``; with ``omit_if_none`` the key is left out of
    :func:`to_plain`'s dict when the value is None (an optional note)."""
    metadata = {"kind": kind, "omit_if_none": omit_if_none}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def internal(*, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field that is never part of the released shape (lab-internal detail)."""
    metadata = {"internal": True}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def field_kind(cls: type, name: str) -> Kind | None:
    """The declared kind of ``cls``'s field ``name`` (None for containers of typed results)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            kind = f.metadata.get("kind")
            return None if kind is None else Kind(kind)
    raise KeyError(name)


def _plain_scalar(value: Any) -> Any:
    """numpy scalars as Python numbers (JSON has no int64)."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        return item()
    return value


def to_plain(value: Any) -> Any:
    """Dataclasses as dicts (field order, internal fields left out), tuples as lists, numpy
    scalars as Python numbers: the JSON-ready shape of a typed result."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if f.metadata.get("internal"):
                continue
            item = getattr(value, f.name)
            if item is None and f.metadata.get("omit_if_none"):
                continue
            out[f.name] = to_plain(item)
        return out
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return _plain_scalar(value)


def finite_or_none(value: Any, digits: int | None = None) -> float | None:
    """A float, or None for missing/NaN/infinite values; rounded to ``digits`` if given."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return number if digits is None else round(number, digits)


def _leaves(value: Any, path: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _leaves(v, (*path, str(k)))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def declared_kinds(value: Any, path: tuple[str | int, ...] = ()
                   ) -> list[tuple[tuple[str | int, ...], Kind]]:
    """(path, kind) of every released leaf of a typed result, as :func:`to_plain` lays it out:
    a kinded field's leaves (all items of a kinded list or mapping) take its kind; fields
    holding typed results are walked into. Optional fields are listed even when empty."""
    out: list[tuple[tuple[str | int, ...], Kind]] = []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.metadata.get("internal"):
                continue
            item, sub = getattr(value, f.name), (*path, f.name)
            kind = f.metadata.get("kind")
            if kind is None:
                out += declared_kinds(item, sub)
            else:
                out += [(p, Kind(kind)) for p in _leaves(item, sub)]
    elif isinstance(value, Mapping):
        for k, v in value.items():
            out += declared_kinds(v, (*path, str(k)))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            out += declared_kinds(v, (*path, i))
    return out
