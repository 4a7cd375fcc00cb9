"""Cumulative anthracycline exposure in doxorubicin-equivalents.

Factors and thresholds come from ``mst/data/protocol/anthracyclines.yaml``
(default: Feijen et al., JAMA Oncol 2019). CPX-351 counts through its
daunorubicin component. Seed 002 reported cardiac failure in 44.8% of patients.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict

from mst.errors import ValidationError
from mst.protocol._data import load_yaml
from mst.protocol.catalog import DoseBasis, Regimen
from mst.protocol.notes import Note


def anthracycline_table() -> dict[str, Any]:
    """The parsed ``anthracyclines.yaml`` (factor sets, thresholds, sources)."""
    return load_yaml("anthracyclines.yaml")


def factors(factor_set: str | None = None) -> dict[str, float]:
    """Doxorubicin-equivalence factors of a named set.

    Parameters
    ----------
    factor_set : str, optional
        ``feijen2019`` (default) or ``hematologic_substitution``.

    Raises
    ------
    mst.errors.ValidationError
        For an unknown set.
    """
    tab = anthracycline_table()
    name = factor_set or tab["default_factor_set"]
    if name not in tab["factor_sets"]:
        raise ValidationError(
            "factor_set", name, "must be one of " + ", ".join(sorted(tab["factor_sets"]))
        )
    return dict(tab["factor_sets"][name]["factors"])


class ExposureLine(BaseModel):
    """One contribution to the cumulative exposure."""

    model_config = ConfigDict(frozen=True)

    label: str
    drug: str
    mg_m2: float
    factor: float
    doxorubicin_eq_mg_m2: float


class Exposure(BaseModel):
    """Cumulative exposure and the thresholds it reaches."""

    model_config = ConfigDict(frozen=True)

    factor_set: str
    factor_source: str
    lines: tuple[ExposureLine, ...]
    total_doxorubicin_eq_mg_m2: float
    per_drug_mg_m2: dict[str, float]
    per_drug_limit_mg_m2: dict[str, float]
    notes: tuple[Note, ...]


def course_anthracycline_mg_m2(
    regimen: Regimen, dose_choices: dict[str, float] | None = None, *, assume: str = "high"
) -> dict[str, float]:
    """Anthracycline mg/m² given in one course of ``regimen``.

    Parameters
    ----------
    regimen : Regimen
    dose_choices : dict, optional
        Chosen unit doses for range items.
    assume : {"high", "low"}
        Value used for an unchosen range (``high`` = conservative).

    Returns
    -------
    dict
        mg/m² per anthracycline (daunorubicin from CPX-351 included).
    """
    f = factors()
    choices = dose_choices or {}
    out: dict[str, float] = {}
    for item in regimen.items:
        if item.unit not in (DoseBasis.MG_M2, DoseBasis.U_M2):
            continue
        per = choices.get(item.drug)
        if per is None:
            per = item.dose_high if assume == "high" else item.dose_low
        n = len(item.day_list) * item.per_day
        if item.drug in f:
            out[item.drug] = out.get(item.drug, 0.0) + per * n
        for comp, mg_per_unit in (item.components or {}).items():
            if comp in f:
                out[comp] = out.get(comp, 0.0) + per * mg_per_unit * n
    return out


def cumulative_exposure(
    exposures: list[tuple[str, str, float]],
    *,
    factor_set: str | None = None,
    cardiac_risk_factors: bool = False,
    thresholds: dict[str, float] | None = None,
) -> Exposure:
    """Sum anthracycline exposures as doxorubicin-equivalents and check thresholds.

    Parameters
    ----------
    exposures : list of (label, drug, mg/m²)
        E.g. ``[("course 1 (002-IA)", "idarubicin", 30.0)]``.
    factor_set : str, optional
        Factor set of ``anthracyclines.yaml`` (default ``feijen2019``).
    cardiac_risk_factors : bool
        Applies the lower threshold (400 mg/m²) meant for patients with risk factors.
    thresholds : dict, optional
        Override threshold values by id (``high_risk_baseline``,
        ``with_risk_factors``, ``absolute``), e.g. a center's own limits.

    Returns
    -------
    Exposure
        Lines, total, per-drug cumulative mg/m² with each drug's labelled limit,
        one note per doxorubicin-equivalent threshold reached (≥), one warning
        per drug whose own labelled cumulative limit is reached (≥, the lower
        limit with cardiac risk factors where the label gives one), plus the
        seed 002 cardiac-failure reminder whenever any anthracycline is given.

    Raises
    ------
    mst.errors.ValidationError
        Unknown drug, negative or non-finite dose, unknown threshold id.
    """
    tab = anthracycline_table()
    name = factor_set or tab["default_factor_set"]
    fac = factors(name)
    lines = []
    for label, drug, mg in exposures:
        if drug not in fac:
            raise ValidationError(
                "anthracycline.drug", drug, "must be one of " + ", ".join(sorted(fac))
            )
        if (
            isinstance(mg, bool)
            or not isinstance(mg, int | float)
            or not math.isfinite(mg)
            or mg < 0
        ):
            raise ValidationError(
                f"anthracycline.{drug}", mg, "must be a finite number of mg/m² >= 0"
            )
        lines.append(
            ExposureLine(
                label=label,
                drug=drug,
                mg_m2=mg,
                factor=fac[drug],
                doxorubicin_eq_mg_m2=round(mg * fac[drug], 4),
            )
        )
    total = round(sum(x.doxorubicin_eq_mg_m2 for x in lines), 4)
    over = dict(thresholds or {})
    known = {t["id"] for t in tab["thresholds"]}
    for k, v in over.items():
        if k not in known:
            raise ValidationError(
                f"thresholds.{k}", v, "unknown threshold (known: " + ", ".join(sorted(known)) + ")"
            )
        if not isinstance(v, int | float) or v <= 0:
            raise ValidationError(f"thresholds.{k}", v, "must be > 0 mg/m²")
    notes = []
    for t in tab["thresholds"]:
        if t.get("applies_with_risk_factors") and not cardiac_risk_factors:
            continue
        limit = float(over.get(t["id"], t["mg_m2"]))
        if total >= limit:
            notes.append(
                Note(
                    level="warning" if t["level"] == "warning" else "info",
                    code=f"anthracycline_{t['id']}",
                    message=(
                        f"cumulative anthracycline {total:g} mg/m² doxorubicin-equivalent "
                        f"≥ {limit:g}: "
                        f"{t['text']}"
                    ),
                    sources=(t["source"],),
                )
            )
    per_drug: dict[str, float] = {}
    for x in lines:
        per_drug[x.drug] = round(per_drug.get(x.drug, 0.0) + x.mg_m2, 4)
    limits: dict[str, float] = {}
    for drug, mg in per_drug.items():
        lim = tab["drug_limits"].get(drug)
        if lim is None:
            raise ValidationError(
                "anthracycline.drug", drug, "has no labelled cumulative limit in the table"
            )
        use_rf = cardiac_risk_factors and "with_risk_factors" in lim
        limit = float(lim["with_risk_factors"] if use_rf else lim["mg_m2"])
        limits[drug] = limit
        if mg >= limit:
            verb = "exceeds" if mg > limit else "reaches"
            notes.append(
                Note(
                    level="warning",
                    code=f"anthracycline_{drug}_limit",
                    message=(
                        f"cumulative {drug} {mg:g} mg/m² {verb} its labelled limit {limit:g} mg/m²"
                        + (" (with cardiac risk factors)" if use_rf else "")
                        + ("" if mg == limit else ": beyond the label, cardiology review required")
                    ),
                    sources=(lim["source"],),
                )
            )
    if total > 0:
        s = tab["seed002_note"]
        notes.append(
            Note(level="info", code="cardiac_monitoring", message=s["text"], sources=(s["source"],))
        )
    return Exposure(
        factor_set=name,
        factor_source=tab["factor_sets"][name]["source"],
        lines=tuple(lines),
        total_doxorubicin_eq_mg_m2=total,
        per_drug_mg_m2=per_drug,
        per_drug_limit_mg_m2=limits,
        notes=tuple(notes),
    )
