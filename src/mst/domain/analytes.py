"""Laboratory analytes: canonical units, accepted units and physiological ranges.

The table lives in ``mst/data/analytes.yaml`` (versioned, each entry with its
source). A value in a unit that is not listed for its analyte, or outside the
physiological range after conversion, is rejected with
:class:`mst.errors.ValidationError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from mst.errors import ValidationError


@dataclass(frozen=True)
class Analyte:
    """One laboratory analyte.

    Attributes
    ----------
    code : str
        Short code used in files and the registry (``"anc"``).
    label : str
        Human-readable name.
    unit : str
        Canonical unit; values are stored in it.
    units : dict[str, float]
        Accepted units and the factor that converts each to ``unit``.
    minimum, maximum : float
        Physiological range in the canonical unit (inclusive).
    source : str
        Key of the source in the data file.
    """

    code: str
    label: str
    unit: str
    units: dict[str, float]
    minimum: float
    maximum: float
    source: str


@lru_cache(maxsize=1)
def analyte_table() -> dict[str, Analyte]:
    """Load the analyte table shipped with the package.

    Returns
    -------
    dict[str, Analyte]
        Analytes by code.
    """
    text = resources.files("mst.data").joinpath("analytes.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    table: dict[str, Analyte] = {}
    for code, entry in raw["analytes"].items():
        if entry["source"] not in raw["sources"]:
            raise ValueError(f"analytes.yaml: {code} cites unknown source {entry['source']!r}")
        if entry["unit"] not in entry["units"] or entry["units"][entry["unit"]] != 1:
            raise ValueError(f"analytes.yaml: {code} canonical unit must be listed with factor 1")
        table[code] = Analyte(
            code=code,
            label=entry["label"],
            unit=entry["unit"],
            units={str(k): float(v) for k, v in entry["units"].items()},
            minimum=float(entry["min"]),
            maximum=float(entry["max"]),
            source=entry["source"],
        )
    return table


def analyte_table_version() -> str:
    """Return the version string of the shipped analyte table."""
    text = resources.files("mst.data").joinpath("analytes.yaml").read_text(encoding="utf-8")
    return str(yaml.safe_load(text)["version"])


def to_canonical(analyte: str, value: float, unit: str, field: str = "value") -> float:
    """Convert a lab value to its analyte's canonical unit and check its range.

    Parameters
    ----------
    analyte : str
        Analyte code (see :func:`analyte_table`).
    value : float
        The value as reported.
    unit : str
        The unit as reported; must be one accepted for the analyte.
    field : str, optional
        Field name used in error messages.

    Returns
    -------
    float
        The value in the canonical unit.

    Raises
    ------
    mst.errors.ValidationError
        Unknown analyte, unit not accepted for the analyte, non-finite value, or
        value outside the physiological range.
    """
    table = analyte_table()
    if analyte not in table:
        raise ValidationError("analyte", analyte, f"must be one of {sorted(table)}")
    a = table[analyte]
    if unit not in a.units:
        raise ValidationError(
            "unit", unit, f"{analyte} must be reported in one of {sorted(a.units)}"
        )
    if value != value or value in (float("inf"), float("-inf")):
        raise ValidationError(field, value, "must be a finite number")
    converted = value * a.units[unit]
    if not (a.minimum <= converted <= a.maximum):
        likely = [
            f"{u} ({value:g} {u} = {value * f:g} {a.unit})"
            for u, f in a.units.items()
            if u != unit and f != a.units[unit] and a.minimum <= value * f <= a.maximum
        ]
        hint = f"; the value looks like it was reported in {likely[0]}" if likely else ""
        raise ValidationError(
            field,
            value,
            f"{analyte} must lie in the physiological range {a.minimum:g}–{a.maximum:g} "
            f"{a.unit} (got {converted:g} {a.unit}){hint}",
        )
    return converted


@lru_cache(maxsize=1)
def _myeloma_fish_codes() -> frozenset[str]:
    text = resources.files("mst.data").joinpath("myeloma/staging.yaml").read_text("utf-8")
    fish = yaml.safe_load(text)["fish"]
    return frozenset(fish["high_risk_msmart"]) | frozenset(fish["standard_risk"])


def check_myeloma_event_detail(kind: str, detail: str | None) -> None:
    """Check the coded detail of a myeloma ``cytogenetics`` or ``bone_disease`` event.

    ``cytogenetics``: one FISH finding of ``mst/data/myeloma/staging.yaml`` (``del17p``,
    ``t(4;14)`` …) or ``none`` (panel done, none of them found). ``bone_disease``: a
    lytic-lesion count (``0``, ``3`` …), ``advanced`` or
    ``new`` (a new lesion or plasmacytoma after treatment, IMWG progression).

    Raises
    ------
    mst.errors.ValidationError
        Naming ``detail`` and the accepted values.
    """
    if detail is None or not detail.strip():
        raise ValidationError("detail", detail, f"is required for {kind}")
    d = detail.strip()
    if kind == "cytogenetics":
        codes = _myeloma_fish_codes()
        if d not in codes and d != "none":
            raise ValidationError(
                "detail", detail, f"cytogenetics must be one of {sorted(codes)} or none"
            )
    elif not (d.isdigit() or d in ("advanced", "new")):
        raise ValidationError(
            "detail", detail, 'bone_disease must be a lesion count, "advanced" or "new"'
        )
