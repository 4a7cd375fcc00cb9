"""Cytokine release syndrome grading by the ASTCT consensus (Lee DW et al., BBMT 2019).

Thresholds and the oxygen-device table come from ``mst/data/monitoring/crs_astct.yaml``.
"""

from __future__ import annotations

import dataclasses

from mst.domain.analytes import analyte_table
from mst.errors import ValidationError
from mst.monitoring._data import load


def _check_celsius(temperature_c: float) -> None:
    """Refuse a temperature outside the physiological range in °C (a °F value, most often)."""
    a = analyte_table()["temperature"]
    if not (a.minimum <= temperature_c <= a.maximum):
        hint = " — looks like °F; convert to °C" if 86 <= temperature_c <= 113 else ""
        raise ValidationError(
            "temperature_c",
            temperature_c,
            f"must be in °C within {a.minimum:g}–{a.maximum:g} °C{hint}",
        )


@dataclasses.dataclass(frozen=True, slots=True)
class CrsGrade:
    """ASTCT CRS grade (0 = no CRS) with the criteria that decided it."""

    grade: int
    fever_grade: int
    hypotension_grade: int
    hypoxia_grade: int
    reasons: tuple[str, ...]
    source: str


def grade_crs(
    *,
    temperature_c: float | None,
    hypotension: bool = False,
    vasopressors: int = 0,
    vasopressin_only_adjunct: bool = False,
    oxygen_device: str = "none",
    oxygen_l_min: float | None = None,
    fever_masked: bool = False,
) -> CrsGrade:
    """Grade CRS; the most severe of hypotension and hypoxia sets the grade.

    Parameters
    ----------
    temperature_c : float or None
        Highest temperature (°C). Fever is >= 38.0 °C. A value outside the
        physiological range of ``analytes.yaml`` (30–45 °C) is refused (°F?).
    hypotension : bool
        Hypotension present.
    vasopressors : int
        Number of vasopressors needed, not counting vasopressin. 0 with
        ``hypotension`` = grade 2; 1 = grade 3; >= 2 = grade 4.
    vasopressin_only_adjunct : bool
        Vasopressin given. ASTCT counts vasopressin as a vasopressor when it is
        the only one (grade 3: "a vasopressor with or without vasopressin") but
        not towards "multiple vasopressors (excluding vasopressin)" (grade 4);
        so vasopressin alone is grade 3 and vasopressin with one other
        vasopressor stays grade 3.
    oxygen_device : str
        One of the devices in ``crs_astct.yaml`` (``none``, ``blow_by``,
        ``low_flow_nasal_cannula``, ``high_flow_nasal_cannula``, ``facemask``,
        ``non_rebreather``, ``venturi``, ``cpap``, ``bipap``, ``intubation``,
        ``mechanical_ventilation``).
    oxygen_l_min : float, optional
        Flow for a nasal cannula; > 6 L/min counts as high flow.
    fever_masked : bool
        Fever was present but is now masked by antipyretics or anti-cytokine
        therapy; grading then continues on hypotension/hypoxia (ASTCT).

    Returns
    -------
    CrsGrade

    Raises
    ------
    mst.errors.ValidationError
        On an unknown device, negative counts, or hypotension/hypoxia graded
        without fever (ASTCT requires fever).
    """
    t = load("crs_astct")
    devices: dict[str, int] = t["oxygen_devices"]
    if oxygen_device not in devices:
        raise ValidationError(
            "oxygen_device", oxygen_device, "must be one of " + ", ".join(sorted(devices))
        )
    if vasopressors < 0:
        raise ValidationError("vasopressors", vasopressors, "must be >= 0")
    if oxygen_l_min is not None and oxygen_l_min < 0:
        raise ValidationError("oxygen_l_min", oxygen_l_min, "must be >= 0")
    if temperature_c is not None:
        _check_celsius(temperature_c)
    if (vasopressors > 0 or vasopressin_only_adjunct) and not hypotension:
        hypotension = True
    reasons: list[str] = []
    fever = fever_masked or (temperature_c is not None and temperature_c >= t["fever_c"])
    if not fever:
        if hypotension or devices[oxygen_device] > 0:
            raise ValidationError(
                "temperature_c",
                temperature_c,
                f"ASTCT CRS requires fever >= {t['fever_c']} °C (or fever masked by treatment)",
            )
        return CrsGrade(0, 0, 0, 0, ("no fever >= 38.0 °C: no CRS",), t["source"])
    text = {g["grade"]: g["text"] for g in t["grades"]}
    reasons.append(
        "fever masked by treatment"
        if fever_masked and not (temperature_c is not None and temperature_c >= t["fever_c"])
        else f"fever {temperature_c} °C >= {t['fever_c']} °C"
    )
    hypo = 0
    if hypotension:
        # vasopressin counts as the vasopressor when it is the only one (grade 3), never
        # towards "multiple vasopressors (excluding vasopressin)" (grade 4)
        pressors = max(vasopressors, 1 if vasopressin_only_adjunct else 0)
        hypo = 2 if pressors == 0 else 3 if pressors == 1 else 4
        if vasopressin_only_adjunct and vasopressors == 0:
            what = "vasopressin as the only vasopressor"
        else:
            what = f"{vasopressors} vasopressor(s)" + (
                " plus vasopressin" if vasopressin_only_adjunct else ""
            )
        reasons.append(f"hypotension with {what}: grade {hypo}")
    oxy = devices[oxygen_device]
    if (
        oxygen_device == "low_flow_nasal_cannula"
        and oxygen_l_min is not None
        and (oxygen_l_min > t["low_flow_max_l_min"])
    ):
        oxy = 3
    if oxy:
        if oxygen_l_min is not None:
            flow = f" at {oxygen_l_min:g} L/min"
        elif oxygen_device == "low_flow_nasal_cannula":
            flow = f" (flow not given: <= {t['low_flow_max_l_min']} L/min ASSUMED)"
        else:
            flow = ""
        reasons.append(f"oxygen by {oxygen_device}{flow}: grade {oxy}")
    grade = max(1, hypo, oxy)
    reasons.append(f"grade {grade}: {text[grade]} (highest grade wins)")
    return CrsGrade(grade, 1, hypo, oxy, tuple(reasons), t["source"])
