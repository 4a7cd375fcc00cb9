"""Exceptions shared by every part of :mod:`mst`.

Every validation failure names the field, the offending value and the rule it
broke, so that a clinician or a script can fix the input without guessing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
from typing import Any

_MAX_SHOWN = 80


def plain(value: Any) -> str:
    """Show a rejected value in plain words, never as a Python or numpy repr.

    ``np.int64(2)`` → ``2``, ``datetime.date(2020, 1, 2)`` → ``2020-01-02``, ``None`` →
    ``(empty)``, a string in quotes (cut at 80 characters), a mapping by its keys.

    Parameters
    ----------
    value : Any
        The value to show.

    Returns
    -------
    str
        A short, human-readable rendering.
    """
    if value is None:
        return "(empty)"
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        with contextlib.suppress(TypeError, ValueError):
            value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, float):
        if math.isnan(value):
            return "(empty)"
        if math.isinf(value):
            return "infinity" if value > 0 else "minus infinity"
        return f"{value:g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.3g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"
        return f"'{shown}'"
    if isinstance(value, bytes):
        return f"{len(value)} bytes"
    if isinstance(value, dict):
        return "a record with fields " + ", ".join(str(k) for k in list(value)[:10])
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in list(value)[:10]]
        more = ", …" if len(value) > 10 else ""
        return "[" + ", ".join(items) + more + "]"
    text = str(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"


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
        if value is None:
            super().__init__(f"{field}: {rule}")
        else:
            super().__init__(f"{field}: {plain(value)} rejected — {rule}")


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
