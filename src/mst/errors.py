"""Exceptions shared by every part of :mod:`mst`.

Every validation failure names the field, the offending value and the rule it
broke, so that a clinician or a script can fix the input without guessing.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from typing import Any


def show(value: Any, limit: int = 80) -> str:
    """A value in plain words for an error message (never a Python repr).

    Dates and times in ISO 8601, numbers as written (``1500``, ``0.5``), enums by
    their value, text in quotes, lists item by item, an object by its keys.
    """
    if value is None:
        return "(missing)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return show(value.value, limit)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return show(value.item(), limit)
        except (TypeError, ValueError):
            pass
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value).lower()
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        return f"'{text}'"
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:8]) + (", …" if len(value) > 8 else "")
        return f"an object with keys {keys}" if value else "an empty object"
    if isinstance(value, list | tuple | set | frozenset):
        items = [show(v, 30) for v in list(value)[:8]]
        text = "[" + ", ".join(items) + (", …" if len(value) > 8 else "") + "]"
        return text if len(text) <= limit else text[: limit - 2] + "…]"
    return f"a {type(value).__name__}"


#: The same as :func:`show` (name used by the shared input readers).
plain = show


class MstError(Exception):
    """Base class of every error raised on purpose by :mod:`mst`."""


class ValidationError(MstError, ValueError):
    """Input that breaks a documented rule.

    Parameters
    ----------
    field : str
        Dotted name of the field (``"patient.weight_kg"``, ``"row 12: anc"``).
    value : Any
        The rejected value.
    rule : str
        The rule in words, e.g. ``"must be between 20 and 300 kg"``.
    """

    def __init__(self, field: str, value: Any, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        if value is None:  # nothing to show: the field and the rule say it all
            super().__init__(f"{field}: {rule}")
        else:
            super().__init__(f"{field}: {show(value)} rejected — {rule}")


class ConsistencyError(MstError, ValueError):
    """Records that are valid one by one but contradict each other.

    Parameters
    ----------
    entity : str
        The record concerned, e.g. ``"patient C01-0004 / event 3"``.
    rule : str
        The cross-record rule that was broken.
    """

    def __init__(self, entity: str, rule: str) -> None:
        self.entity = entity
        self.rule = rule
        super().__init__(f"{entity}: {rule}")


class NotFoundError(MstError, LookupError):
    """A record that was asked for does not exist (or is not visible)."""
