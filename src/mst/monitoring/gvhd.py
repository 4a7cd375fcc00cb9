"""Acute GVHD organ staging and overall grade by the MAGIC criteria.

Thresholds come from ``mst/data/monitoring/gvhd_magic.yaml`` (Harris AC et al.,
BBMT 2016;22:4–10). Every result carries the criteria that decided it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mst.domain.analytes import analyte_table
from mst.errors import ValidationError
from mst.monitoring._data import load


@dataclasses.dataclass(frozen=True, slots=True)
class GvhdGrade:
    """Organ stages and overall MAGIC grade (0 = no GVHD, 1–4 = grade I–IV)."""

    skin: int
    liver: int
    upper_gi: int
    lower_gi: int
    grade: int
    reasons: tuple[str, ...]
    source: str

    @property
    def roman(self) -> str:
        """Grade as a Roman numeral ("0" when no GVHD)."""
        return ("0", "I", "II", "III", "IV")[self.grade]


def _stage(value: float, stages: list[dict[str, Any]]) -> tuple[int, str]:
    best, text = 0, ""
    for row in stages:
        bound = float(row["bound"])
        hit = value >= bound if row["inclusive"] else value > bound
        if hit and row["stage"] > best:
            best, text = int(row["stage"]), str(row.get("text", ""))
    return best, text


def _check(name: str, value: float | None, hi: float | None = None) -> None:
    if value is None:
        return
    if value < 0 or (hi is not None and value > hi):
        rng = f"between 0 and {hi}" if hi is not None else ">= 0"
        raise ValidationError(name, value, f"must be {rng}")


def _check_bilirubin_unit(value: float | None) -> None:
    """Refuse a bilirubin above the physiological range in mg/dL (µmol/L given, most often)."""
    hi = analyte_table()["bilirubin"].maximum
    if value is not None and value > hi:
        raise ValidationError(
            "bilirubin_mg_dl",
            value,
            f"must be in mg/dL (at most {hi:g}); a value this high is probably µmol/L "
            "(divide by 17.1)",
        )


def stage_skin(rash_bsa: float | None, bullae_bsa: float = 0.0) -> int:
    """MAGIC skin stage from rash extent (% BSA) and bullae/desquamation (% BSA)."""
    return _organs(rash_bsa=rash_bsa, bullae_bsa=bullae_bsa)[0]["skin"]


def stage_liver(bilirubin_mg_dl: float | None) -> int:
    """MAGIC liver stage from total bilirubin in mg/dL."""
    return _organs(bilirubin_mg_dl=bilirubin_mg_dl)[0]["liver"]


def stage_lower_gi(
    stool_ml_day: float | None = None,
    episodes_per_day: int | None = None,
    severe_pain_or_bloody: bool = False,
) -> int:
    """MAGIC adult lower-GI stage from stool volume and/or episodes per day."""
    return _organs(
        stool_ml_day=stool_ml_day,
        episodes_per_day=episodes_per_day,
        severe_pain_or_bloody=severe_pain_or_bloody,
    )[0]["lower_gi"]


def _organs(
    rash_bsa: float | None = None,
    bullae_bsa: float = 0.0,
    bilirubin_mg_dl: float | None = None,
    persistent_upper_gi: bool = False,
    stool_ml_day: float | None = None,
    episodes_per_day: int | None = None,
    severe_pain_or_bloody: bool = False,
) -> tuple[dict[str, int], list[str]]:
    t = load("gvhd_magic")["organs"]
    _check("rash_bsa", rash_bsa, 100)
    _check("bullae_bsa", bullae_bsa, 100)
    _check("bilirubin_mg_dl", bilirubin_mg_dl)
    _check_bilirubin_unit(bilirubin_mg_dl)
    _check("stool_ml_day", stool_ml_day)
    _check("episodes_per_day", episodes_per_day)
    reasons: list[str] = []
    st = {"skin": 0, "liver": 0, "upper_gi": 0, "lower_gi": 0}
    if rash_bsa is not None:
        sk = t["skin"]
        if rash_bsa > sk["stage_4_bsa"] and bullae_bsa > sk["stage_4_bullae_bsa"]:
            st["skin"] = 4
            reasons.append(
                f"skin stage 4: {sk['stage_4']} (rash {rash_bsa}%, bullae {bullae_bsa}%)"
            )
        else:
            s, txt = _stage(rash_bsa, sk["stages"])
            st["skin"] = s
            if s:
                reasons.append(f"skin stage {s}: {txt} (rash {rash_bsa}% BSA)")
    if bilirubin_mg_dl is not None:
        s, txt = _stage(bilirubin_mg_dl, t["liver"]["stages"])
        st["liver"] = s
        if s:
            reasons.append(f"liver stage {s}: {txt} (bilirubin {bilirubin_mg_dl} mg/dL)")
    if persistent_upper_gi:
        st["upper_gi"] = 1
        reasons.append(f"upper GI stage 1: {t['upper_gi']['stage_1']}")
    lg = t["lower_gi"]
    if severe_pain_or_bloody:
        st["lower_gi"] = 4
        reasons.append(f"lower GI stage 4: {lg['stage_4']}")
    else:
        s_vol, txt = _stage(stool_ml_day, lg["stages"]) if stool_ml_day is not None else (0, "")
        s_ep, _ = (
            _stage(float(episodes_per_day), lg["episodes"])
            if episodes_per_day is not None
            else (0, "")
        )
        s = max(s_vol, s_ep)
        st["lower_gi"] = s
        if s:
            row = next(r for r in lg["stages"] if r["stage"] == s)
            detail = []
            if stool_ml_day is not None:
                detail.append(f"stool {stool_ml_day} mL/day")
            if episodes_per_day is not None:
                detail.append(f"{episodes_per_day} episodes/day")
            reasons.append(f"lower GI stage {s}: {row['text']} ({', '.join(detail)})")
    return st, reasons


def grade_acute_gvhd(
    *,
    rash_bsa: float | None = None,
    bullae_bsa: float = 0.0,
    bilirubin_mg_dl: float | None = None,
    persistent_upper_gi: bool = False,
    stool_ml_day: float | None = None,
    episodes_per_day: int | None = None,
    severe_pain_or_bloody: bool = False,
) -> GvhdGrade:
    """Stage each organ and derive the overall MAGIC grade.

    Parameters
    ----------
    rash_bsa : float, optional
        Maculopapular rash (active erythema), % of body surface area.
    bullae_bsa : float
        Bullous formation and desquamation, % BSA (skin stage 4 needs > 5%
        together with erythroderma > 50%).
    bilirubin_mg_dl : float, optional
        Total bilirubin, mg/dL (above 80 mg/dL, the physiological range of
        ``analytes.yaml``, it is refused as probably µmol/L).
    persistent_upper_gi : bool
        Persistent nausea, vomiting or anorexia (upper GI stage 1).
    stool_ml_day : float, optional
        Adult stool output, mL/day.
    episodes_per_day : int, optional
        Stool episodes per day (used when volume is not measured; the higher
        stage of the two wins).
    severe_pain_or_bloody : bool
        Severe abdominal pain with or without ileus, or grossly bloody stool
        (lower GI stage 4 regardless of volume).

    Returns
    -------
    GvhdGrade
        Stages, the overall grade and the criteria that decided it; source
        cites MAGIC.

    Raises
    ------
    mst.errors.ValidationError
        On negative values or a BSA above 100%.
    """
    st, reasons = _organs(
        rash_bsa,
        bullae_bsa,
        bilirubin_mg_dl,
        persistent_upper_gi,
        stool_ml_day,
        episodes_per_day,
        severe_pain_or_bloody,
    )
    table = {row["grade"]: row["text"] for row in load("gvhd_magic")["overall_grade"]}
    skin, liver, ugi, lgi = st["skin"], st["liver"], st["upper_gi"], st["lower_gi"]
    if skin == 4 or liver == 4 or lgi == 4:
        grade = 4
    elif liver in (2, 3) or lgi in (2, 3):
        grade = 3
    elif skin == 3 or liver == 1 or ugi == 1 or lgi == 1:
        grade = 2
    elif skin in (1, 2):
        grade = 1
    else:
        grade = 0
    if grade:
        reasons.append(f"overall grade {('I', 'II', 'III', 'IV')[grade - 1]}: {table[grade]}")
    else:
        reasons.append("no organ involvement: no acute GVHD")
    return GvhdGrade(skin, liver, ugi, lgi, grade, tuple(reasons), load("gvhd_magic")["source"])
