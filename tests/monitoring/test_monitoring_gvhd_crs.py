"""MAGIC acute GVHD staging/grade and ASTCT CRS grade at every threshold."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mst.errors import ValidationError
from mst.monitoring.crs import grade_crs
from mst.monitoring.gvhd import grade_acute_gvhd, stage_liver, stage_lower_gi, stage_skin

with (Path(__file__).parent / "data" / "magic_cases.csv").open(encoding="utf-8") as _fh:
    CASES = list(csv.DictReader(_fh))


def _f(s: str) -> float | None:
    return float(s) if s != "" else None


@pytest.mark.parametrize("row", CASES, ids=[r["case"] for r in CASES])
def test_magic_table(row: dict[str, str]) -> None:
    g = grade_acute_gvhd(
        rash_bsa=_f(row["rash_bsa"]),
        bullae_bsa=_f(row["bullae_bsa"]) or 0.0,
        bilirubin_mg_dl=_f(row["bilirubin"]),
        persistent_upper_gi=row["upper_gi"] == "1",
        stool_ml_day=_f(row["stool_ml"]),
        episodes_per_day=int(row["episodes"]) if row["episodes"] else None,
        severe_pain_or_bloody=row["severe_gi"] == "1",
    )
    got = (g.skin, g.liver, g.upper_gi, g.lower_gi, g.grade)
    want = tuple(int(row[k]) for k in ("skin", "liver", "ugi", "lgi", "grade"))
    assert got == want
    assert "MAGIC" in g.source
    assert g.reasons[-1].startswith("overall grade" if g.grade else "no organ")


def test_single_organ_helpers_and_roman() -> None:
    assert stage_skin(25) == 2
    assert stage_liver(3.01) == 2
    assert stage_lower_gi(episodes_per_day=4) == 1
    assert grade_acute_gvhd(bilirubin_mg_dl=20).roman == "IV"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rash_bsa": 101}, "rash_bsa"),
        ({"bilirubin_mg_dl": -1}, "bilirubin_mg_dl"),
        ({"stool_ml_day": -5}, "stool_ml_day"),
    ],
)
def test_gvhd_rejects(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as ei:
        grade_acute_gvhd(**kwargs)
    assert ei.value.field == field


# (label, kwargs, expected grade)
CRS_ROWS = [
    ("37.9 °C no CRS", {"temperature_c": 37.9}, 0),
    ("38.0 °C grade 1", {"temperature_c": 38.0}, 1),
    ("hypotension without pressor", {"temperature_c": 38.5, "hypotension": True}, 2),
    ("blow-by oxygen", {"temperature_c": 38.5, "oxygen_device": "blow_by"}, 2),
    (
        "low flow 6 L/min",
        {"temperature_c": 38.5, "oxygen_device": "low_flow_nasal_cannula", "oxygen_l_min": 6},
        2,
    ),
    (
        "low flow 6.5 L/min = high flow",
        {"temperature_c": 38.5, "oxygen_device": "low_flow_nasal_cannula", "oxygen_l_min": 6.5},
        3,
    ),
    ("one vasopressor", {"temperature_c": 39, "hypotension": True, "vasopressors": 1}, 3),
    (
        "one pressor + vasopressin",
        {
            "temperature_c": 39,
            "hypotension": True,
            "vasopressors": 1,
            "vasopressin_only_adjunct": True,
        },
        3,
    ),
    ("facemask", {"temperature_c": 39, "oxygen_device": "facemask"}, 3),
    ("two vasopressors", {"temperature_c": 39, "hypotension": True, "vasopressors": 2}, 4),
    ("BiPAP", {"temperature_c": 39, "oxygen_device": "bipap"}, 4),
    (
        "highest wins: grade 2 hypotension + grade 4 oxygen",
        {"temperature_c": 39, "hypotension": True, "oxygen_device": "intubation"},
        4,
    ),
    (
        "fever masked by tocilizumab, pressor",
        {"temperature_c": 37.0, "fever_masked": True, "hypotension": True, "vasopressors": 1},
        3,
    ),
]


@pytest.mark.parametrize(("label", "kwargs", "grade"), CRS_ROWS, ids=[r[0] for r in CRS_ROWS])
def test_astct_table(label: str, kwargs: dict, grade: int) -> None:
    g = grade_crs(**kwargs)
    assert g.grade == grade, g.reasons
    assert "ASTCT" in g.source


def test_crs_without_fever_but_hypoxia_is_rejected() -> None:
    with pytest.raises(ValidationError, match="requires fever"):
        grade_crs(temperature_c=37.5, oxygen_device="facemask")


def test_crs_unknown_device() -> None:
    with pytest.raises(ValidationError) as ei:
        grade_crs(temperature_c=39, oxygen_device="snorkel")
    assert ei.value.field == "oxygen_device"


# ASTCT (Lee 2019, Table 3), grade 3: "hypotension requiring a vasopressor with or without
# vasopressin"; grade 4: "multiple vasopressors (excluding vasopressin)". Vasopressin given as the
# only vasopressor is a vasopressor requirement (grade 3), not "hypotension not requiring
# vasopressors" (grade 2); vasopressin added to one vasopressor stays grade 3.
@pytest.mark.parametrize(
    ("vasopressors", "vasopressin", "grade"),
    [(0, False, 2), (0, True, 3), (1, True, 3), (2, True, 4)],
)
def test_astct_hypotension_vasopressin_alone_is_a_vasopressor(
    vasopressors: int, vasopressin: bool, grade: int
) -> None:
    g = grade_crs(
        temperature_c=38.5,
        hypotension=True,
        vasopressors=vasopressors,
        vasopressin_only_adjunct=vasopressin,
    )
    assert g.grade == grade, g.reasons


# ASTCT fever is >= 38.0 °C: the temperature must be in °C. 100.4 (°F) would pass any Celsius
# threshold; a value outside the physiological range 30–45 °C (analytes.yaml) is refused.
@pytest.mark.parametrize("t", [29.9, 45.1, 100.4])
def test_astct_fever_temperature_outside_celsius_range_refused(t: float) -> None:
    with pytest.raises(ValidationError) as ei:
        grade_crs(temperature_c=t)
    assert ei.value.field == "temperature_c"
    assert "°C" in ei.value.rule


@pytest.mark.parametrize("t", [30.0, 45.0])
def test_astct_fever_temperature_celsius_range_inclusive(t: float) -> None:
    assert grade_crs(temperature_c=t).grade == (1 if t >= 38 else 0)


# MAGIC liver stages are in mg/dL (Harris 2016, Table 1). A bilirubin above the physiological
# range in mg/dL (80, analytes.yaml) is almost surely µmol/L and is refused, naming the unit.
def test_magic_liver_bilirubin_above_mg_dl_range_refused() -> None:
    with pytest.raises(ValidationError) as ei:
        grade_acute_gvhd(bilirubin_mg_dl=85.5)
    assert ei.value.field == "bilirubin_mg_dl"
    assert "µmol/L" in ei.value.rule
    assert grade_acute_gvhd(bilirubin_mg_dl=80).liver == 4


# ASTCT: low-flow nasal cannula is <= 6 L/min (grade 2). A low-flow cannula without a flow is
# graded 2 and the assumption is printed next to the grade (house rule: assumed values are shown).
def test_astct_low_flow_without_flow_says_the_assumption() -> None:
    g = grade_crs(temperature_c=38.5, oxygen_device="low_flow_nasal_cannula")
    assert g.grade == 2
    assert any("ASSUMED" in r and "6 L/min" in r for r in g.reasons), g.reasons
