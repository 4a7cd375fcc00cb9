"""Human labels, clinical level order and reference levels of the flat-table columns.

One table (``src/mst/data/labels/labels.yaml``) shared by the report, the web app and the
statistics printouts, so a reader sees "Donor sex: Female" and "> 3 MST courses: Yes"
rather than ``donor_sex`` and ``courses_gt3=True`` everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class ColumnLabel:
    """Label, unit and level order of one column."""

    name: str
    label: str
    unit: str | None = None
    levels: dict[str, str] = field(default_factory=dict)
    reference: str | None = None
    source: str | None = None
    format: str | None = None
    hr_per: float | None = None

    @property
    def title(self) -> str:
        """The label with its unit, e.g. ``"Donor age (years)"``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


@lru_cache(maxsize=1)
def _table() -> dict[str, ColumnLabel]:
    text = resources.files("mst.data").joinpath("labels/labels.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    out: dict[str, ColumnLabel] = {}
    for name, spec in raw["columns"].items():
        levels = {str(k): str(v) for k, v in (spec.get("levels") or {}).items()}
        ref = spec.get("reference")
        out[name] = ColumnLabel(
            name=name,
            label=spec["label"],
            unit=spec.get("unit"),
            levels=levels,
            reference=str(ref) if ref is not None else (next(iter(levels)) if levels else None),
            source=spec.get("source"),
            format=spec.get("format"),
            hr_per=spec.get("hr_per"),
        )
    return out


def column(name: str) -> ColumnLabel:
    """The label entry of a column; a column not in the table is labelled by its name.

    Parameters
    ----------
    name : str
        Flat-table column name.

    Returns
    -------
    ColumnLabel
    """
    return _table().get(name) or ColumnLabel(name=name, label=name)


def label(name: str) -> str:
    """Human label of a column (its name when the table has none)."""
    return column(name).label


def _key(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def level_label(name: str, value: Any) -> str:
    """Human label of one level of a column (the value itself when not in the table)."""
    key = _key(value)
    return column(name).levels.get(key, key)


def order_levels(name: str, values: list[Any]) -> list[Any]:
    """Sort the observed levels of a column in clinical order.

    Levels listed in the table come first in the table's order; others follow, numbers by
    value and text alphabetically.

    Parameters
    ----------
    name : str
        Column name.
    values : list
        Observed distinct values.

    Returns
    -------
    list
        The same values, reordered.
    """
    known = list(column(name).levels)
    pos = {k: i for i, k in enumerate(known)}

    def sort_key(v: Any) -> tuple[int, float, str]:
        k = _key(v)
        if k in pos:
            return (0, float(pos[k]), "")
        try:
            return (1, float(k), "")
        except ValueError:
            return (2, 0.0, k)

    return sorted(values, key=sort_key)


def reference_level(name: str, values: list[Any]) -> Any:
    """The reference level of a column among the observed values (first in clinical order)."""
    col = column(name)
    if col.reference is not None:
        for v in values:
            if _key(v) == col.reference:
                return v
    ordered = order_levels(name, values)
    return ordered[0] if ordered else None
