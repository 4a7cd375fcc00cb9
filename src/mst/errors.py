"""Exceptions shared by every part of :mod:`mst`.

Every validation failure names the field, the offending value and the rule it
broke, so that a clinician or a script can fix the input without guessing.
"""

from __future__ import annotations

from typing import Any


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
        super().__init__(f"{field}: {value!r} rejected — {rule}")


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
