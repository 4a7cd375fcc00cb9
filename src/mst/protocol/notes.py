"""Cited notes: every recommendation, warning and error-like finding names its source."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["info", "action", "warning", "outside_consensus"]


class Note(BaseModel):
    """A finding shown to the user, with the section(s) that say so.

    Attributes
    ----------
    level : {"info", "action", "warning", "outside_consensus"}
        ``outside_consensus`` marks a plan the consensus does not cover
        (e.g. infusion later than 96 h).
    code : str
        Stable machine-readable code (``infusion_delayed``, ``dose_choice_required`` …).
    message : str
        The finding in words.
    sources : tuple of str
        Citations, e.g. ``("004 §4.3", "004 §5")``.
    """

    model_config = ConfigDict(frozen=True)

    level: Level
    code: str
    message: str
    sources: tuple[str, ...] = Field(min_length=1)
