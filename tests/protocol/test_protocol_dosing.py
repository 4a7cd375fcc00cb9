"""Dosing: BSA, per-regimen doses to the mg, ranges, rounding, venetoclax with azoles."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.errors import ValidationError
from mst.protocol._data import load_yaml
from mst.protocol.catalog import get_regimen, load_catalog, validate_catalog
from mst.protocol.dosing import (
    DoseOptions,
    bsa,
    course_doses,
    days_text,
    normalise_inhibitor,
    round_dose,
)
from mst.protocol.schedule import course_calendar

# height, weight, method, expected BSA (hand-computed: Mosteller sqrt(h*w/3600);
# DuBois 0.007184 w^0.425 h^0.725)
BSA_TABLE = [
    (170, 70, "mosteller", 1.8181),
    (160, 50, "mosteller", 1.4907),
    (180, 90, "mosteller", 2.1213),
    (170, 70, "dubois", 1.81),  # published two-decimal values
    (160, 50, "dubois", 1.50),
]


@pytest.mark.parametrize("h,w,method,expected", BSA_TABLE)
def test_bsa(h: float, w: float, method: str, expected: float) -> None:
    tol = 1e-4 if method == "mosteller" else 5e-3
    assert bsa(h, w, method) == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize(
    "h,w,field",
    [(None, 70, "height_cm"), (170, None, "weight_kg"), (170, 0, "weight_kg"), (0, 70, "height_cm"),
     (170, -3, "weight_kg"), (math.nan, 70, "height_cm"), (170, math.inf, "weight_kg"),
     (True, 70, "height_cm")],
)  # fmt: skip
def test_bsa_bad_input(h, w, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        bsa(h, w)
    assert exc.value.field == field


def test_bsa_unknown_method() -> None:
    with pytest.raises(ValidationError, match="mosteller"):
        bsa(170, 70, "haycock")


DATA = Path(__file__).parent / "data"


def _dose_vignettes() -> list[tuple[str, dict[str, float], dict[str, float]]]:
    """Rows of doses_170cm_70kg.csv grouped by (regimen, choices).

    170 cm / 70 kg -> BSA 1.82 m² (Mosteller, 2 decimals); doses rounded half-up to 1 mg.
    """
    groups: dict[tuple[str, str], dict[str, float]] = {}
    with (DATA / "doses_170cm_70kg.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            key = (row["regimen_id"], row["dose_choices"])
            groups.setdefault(key, {})[row["drug"]] = float(row["expected_mg"])
    out = []
    for (rid, ch), expected in groups.items():
        choices = {k: float(v) for k, v in (p.split("=") for p in ch.split(";") if p)}
        out.append((rid, choices, expected))
    return out


DOSE_TABLE = _dose_vignettes()


def test_dose_table_covers_every_regimen() -> None:
    assert {row[0] for row in DOSE_TABLE} == set(load_catalog())


@pytest.mark.parametrize("rid,choices,expected", DOSE_TABLE)
def test_doses_to_the_mg(rid: str, choices: dict, expected: dict) -> None:
    d = course_doses(get_regimen(rid), 170, 70, dose_choices=choices)
    assert d.bsa_m2 == 1.82
    got = {ln.drug: ln.dose for ln in d.lines if ln.drug != "venetoclax"}
    assert got == expected
    assert d.choices_required == ()


def test_cpx351_components_and_totals() -> None:
    d = course_doses(get_regimen("004-4.1-CPX351"), 170, 70)
    (line,) = d.lines
    assert line.dose_unit == "U"
    assert line.components == {"daunorubicin": 80.0, "cytarabine": 182.0}
    assert line.course_total == 546.0


def test_q12h_course_total() -> None:
    d = course_doses(get_regimen("002-IDAC"), 170, 70, dose_choices={"cytarabine": 1000})
    (line,) = d.lines
    assert (line.per_day, line.dose, line.course_total) == (2, 1820.0, 1820.0 * 6)


def test_range_keeps_range_and_requires_choice() -> None:
    d = course_doses(get_regimen("004-4.2-IA-RI"), 170, 70)
    ida = d.lines[0]
    assert ida.choice_required and ida.dose is None and ida.course_total is None
    assert ida.dose_range == (15.0, 22.0)
    assert d.choices_required == ("idarubicin", "cytarabine")
    assert [n.code for n in d.notes] == ["dose_choice_required", "dose_choice_required"]
    assert all(n.sources == ("004 §4.2",) for n in d.notes)


@pytest.mark.parametrize(
    "rid,choices,field",
    [("004-4.2-IA-RI", {"idarubicin": 7.9}, "dose_choices.idarubicin"),
     ("004-4.2-IA-RI", {"idarubicin": 12.1}, "dose_choices.idarubicin"),
     ("004-4.1-IA12", {"idarubicin": 10}, "dose_choices.idarubicin"),
     ("004-4.1-IA12", {"daunorubicin": 60}, "dose_choices.daunorubicin"),
     ("002-IA", {"idarubicin": "10"}, "dose_choices.idarubicin")],
)  # fmt: skip
def test_bad_choices(rid: str, choices: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        course_doses(get_regimen(rid), 170, 70, dose_choices=choices)
    assert exc.value.field == field


@pytest.mark.parametrize("value", [8, 12])
def test_range_bounds_are_inclusive(value: float) -> None:
    d = course_doses(get_regimen("004-4.2-IA-RI"), 170, 70, dose_choices={"idarubicin": value})
    assert d.lines[0].chosen_unit_dose == value


def test_second_patient_and_dubois() -> None:
    r = get_regimen("004-4.1-DA60")
    d = course_doses(r, 160, 50, dose_choices={"cytarabine": 100})
    assert (d.bsa_m2, d.lines[0].dose, d.lines[1].dose) == (1.49, 89.0, 149.0)
    d2 = course_doses(
        r, 160, 50, dose_choices={"cytarabine": 100}, options=DoseOptions(bsa_method="dubois")
    )
    assert (d2.bsa_m2, d2.lines[0].dose) == (1.50, 90.0)


@pytest.mark.parametrize(
    "options,dauno",
    [(DoseOptions(rounding_step=5), 110.0),
     (DoseOptions(rounding_step=5, rounding_mode="down"), 105.0),
     (DoseOptions(rounding_step=0.1, bsa_decimals=None), 109.1),
     (DoseOptions(bsa_cap_m2=1.5), 90.0)],
)  # fmt: skip
def test_rounding_and_cap(options: DoseOptions, dauno: float) -> None:
    d = course_doses(
        get_regimen("004-4.1-DA60"), 170, 70, dose_choices={"cytarabine": 100}, options=options
    )
    assert d.lines[0].dose == dauno


def test_cap_is_noted_only_when_applied() -> None:
    r = get_regimen("004-4.1-DA60")
    capped = course_doses(r, 190, 110, options=DoseOptions(bsa_cap_m2=2.0))
    assert capped.bsa_m2 == 2.0 and "bsa_capped" in [n.code for n in capped.notes]
    uncapped = course_doses(r, 160, 50, options=DoseOptions(bsa_cap_m2=2.0))
    assert "bsa_capped" not in [n.code for n in uncapped.notes]
    assert course_doses(r, 190, 110).bsa_m2 == 2.41  # no cap by default


def test_mg_per_kg_and_flat_units() -> None:
    doc = copy.deepcopy(load_yaml("regimens.yaml"))
    doc["regimens"] = [doc["regimens"][0]]
    doc["regimens"][0]["items"] = [
        {
            "drug": "cytarabine",
            "dose": 3.3,
            "unit": "mg/kg",
            "route": "IV",
            "per_day": 1,
            "days": "1-2",
        },
        {
            "drug": "daunorubicin",
            "dose": 50,
            "unit": "mg",
            "route": "IV",
            "per_day": 1,
            "days": "1",
        },
    ]
    r = validate_catalog(doc)["004-4.1-DA60"]
    d = course_doses(r, 170, 70)
    assert [ln.dose for ln in d.lines] == [231.0, 50.0]


VEN_ADJUST = [
    ("posaconazole", [(("1", 10.0),), (("2", 20.0),), (("3", 50.0), ("4-28", 70.0))]),
    ("voriconazole", [(("1", 10.0),), (("2", 20.0),), (("3", 50.0), ("4-28", 100.0))]),
]


@pytest.mark.parametrize("azole,adjusted", VEN_ADJUST)
def test_venetoclax_with_strong_inhibitor(azole: str, adjusted: list) -> None:
    d = course_doses(get_regimen("004-4.2-VEN-AZA"), 170, 70, cyp3a_inhibitors=[azole])
    ven = [ln for ln in d.lines if ln.drug == "venetoclax"]
    assert [ln.dose for ln in ven] == [100.0, 200.0, 400.0]
    assert [ln.adjusted for ln in ven] == adjusted
    (note,) = [n for n in d.notes if n.code == "venetoclax_cyp3a"]
    assert note.level == "warning" and note.sources[0] == "004 §4.2"
    assert "VENCLEXTA" in note.sources[1]


def test_posaconazole_wins_over_voriconazole() -> None:
    d = course_doses(
        get_regimen("004-4.2-VEN-AZA"), 170, 70, cyp3a_inhibitors=["Voriconazole", "posaconazole"]
    )
    assert d.lines[2].adjusted == (("3", 50.0), ("4-28", 70.0))


# VENCLEXTA label §2.4 (AML): "moderate CYP3A inhibitors or P-gp inhibitors: reduce the
# VENCLEXTA dose by at least 50%" — the reduced dose is on every dosing day, not only in a note.
@pytest.mark.parametrize("name", ["fluconazole", "Diflucan", "amiodarone", " Erythromycin "])
def test_venetoclax_moderate_or_pgp_inhibitor_halves_every_day_label_2_4(name: str) -> None:
    r = get_regimen("004-4.1-VEN-DEC")
    mod = course_doses(r, 170, 70, cyp3a_inhibitors=[name])
    ven = [ln for ln in mod.lines if ln.drug == "venetoclax"]
    assert [ln.adjusted for ln in ven] == [(("1", 50.0),), (("2", 100.0),), (("3-28", 200.0),)]
    assert [ln.course_total for ln in ven] == [50.0, 100.0, 5200.0]
    assert any("at least 50%" in n.message for n in mod.notes)
    cal = course_calendar(r, dt.date(2026, 12, 1), doses=mod)
    for day in cal.days:
        texts = [e.text for e in day.entries if e.text.startswith("venetoclax")]
        if 1 <= day.day <= 28:
            want = {1: 50, 2: 100}.get(day.day, 200)
            assert texts == [
                f"venetoclax {want} mg PO — CYP3A/P-gp inhibitor label-adjusted dose "
                f"(standard {2 * want} mg)"
            ]
    assert course_doses(r, 170, 70).notes == ()


# Unknown means refuse: a misspelt or unlisted name must not silently give 400 mg.
@pytest.mark.parametrize(
    "name,generic",
    [("Noxafil", "posaconazole"), ("posaconazole ", "posaconazole"),
     ("  POSACONAZOLE", "posaconazole"),
     ("Vfend®", "voriconazole"), ("ritonavir", "ritonavir"), ("Paxlovid", "nirmatrelvir/ritonavir"),
     ("clarithromycin", "clarithromycin"), ("Cresemba", "isavuconazole")],
)  # fmt: skip
def test_inhibitor_names_are_normalised(name: str, generic: str) -> None:
    assert normalise_inhibitor(name) == generic
    d = course_doses(get_regimen("004-4.2-VEN-AZA"), 170, 70, cyp3a_inhibitors=[name])
    assert d.lines[2].adjusted is not None


@pytest.mark.parametrize("name", ["posaconazol", "amoxicillin", "noxafill", "", "azole"])
def test_unknown_inhibitor_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(ValidationError) as exc:
        course_doses(
            get_regimen("004-4.2-VEN-AZA"), 170, 70, cyp3a_inhibitors=["fluconazole", name]
        )
    assert exc.value.field == "cyp3a_inhibitors[1]"


def test_strong_inhibitor_ramp_in_calendar_and_total() -> None:
    r = get_regimen("004-4.2-VEN-AZA")
    d = course_doses(r, 170, 70, cyp3a_inhibitors=["Noxafil"])
    assert d.lines[2].course_total == 50.0 + 25 * 70.0
    cal = course_calendar(r, dt.date(2026, 12, 1), doses=d)
    day4 = next(x for x in cal.days if x.day == 4)
    assert day4.entries[0].text.startswith("venetoclax 70 mg PO")


def test_azole_without_venetoclax_is_silent() -> None:
    d = course_doses(get_regimen("002-IA"), 170, 70, cyp3a_inhibitors=["posaconazole"])
    assert not [n for n in d.notes if n.code == "venetoclax_cyp3a"]


@pytest.mark.parametrize("value,step,mode,expected", [
    (136.5, 1, "nearest", 137.0), (136.49, 1, "nearest", 136.0), (136.5, 1, "down", 136.0),
    (112.5, 5, "nearest", 115.0), (112.4, 5, "nearest", 110.0), (0.25, 0.5, "nearest", 0.5),
])  # fmt: skip
def test_round_dose(value: float, step: float, mode: str, expected: float) -> None:
    assert round_dose(value, step, mode) == expected


def test_days_text() -> None:
    assert days_text([1, 2, 3, 4, 5, 8, 9]) == "1-5,8-9"
    assert days_text([1, 3, 5]) == "1,3,5"


@settings(deadline=None, derandomize=True)
@given(st.floats(100, 230), st.floats(25, 250), st.floats(0.1, 50))
def test_bsa_monotone(h: float, w: float, dw: float) -> None:
    for method in ("mosteller", "dubois"):
        assert bsa(h, w + dw, method) > bsa(h, w, method)
        assert bsa(h + dw, w, method) > bsa(h, w, method)


@settings(deadline=None, derandomize=True)
@given(st.floats(150, 195), st.floats(45, 110))
def test_bsa_methods_agree_for_usual_adults(h: float, w: float) -> None:
    assert abs(bsa(h, w, "dubois") / bsa(h, w) - 1) < 0.08


@settings(deadline=None, derandomize=True)
@given(st.floats(0, 5000), st.sampled_from([0.1, 0.5, 1.0, 2.5, 5.0]))
def test_round_dose_invariants(value: float, step: float) -> None:
    r = round_dose(value, step)
    assert abs(r - value) <= step / 2 + 1e-9
    assert abs(r / step - round(r / step)) < 1e-9
    assert round_dose(value, step, "down") <= value + 1e-9


# VENCLEXTA prescribing information (Examples of CYP3A inhibitors, as reproduced on the
# manufacturer's HCP site): "Other strong CYP3A inhibitor: clarithromycin, conivaptan, diltiazem,
# indinavir, itraconazole, ketoconazole, lopinavir, ritonavir, telaprevir, voriconazole" — strong,
# so 100 mg from day 4, not the 50 % of a moderate inhibitor (200 mg). Grapefruit juice is a strong
# CYP3A inhibitor in the FDA table of examples the label refers to ("avoid grapefruit products").
@pytest.mark.parametrize("name", ["diltiazem", "Cardizem", "conivaptan", "grapefruit juice"])
def test_venetoclax_label_strong_inhibitor_examples_give_100_mg(name: str) -> None:
    d = course_doses(get_regimen("004-4.2-VEN-AZA"), 170, 70, cyp3a_inhibitors=[name])
    assert d.lines[2].adjusted == (("3", 50.0), ("4-28", 100.0))


# Moderate CYP3A inhibitors named in the same examples (cimetidine) and common in AML/HSCT care
# (letermovir) are recognised, not refused as unknown: reduce by at least 50 %.
@pytest.mark.parametrize("name", ["cimetidine", "Tagamet", "letermovir", "Prevymis"])
def test_venetoclax_moderate_inhibitor_examples_halve(name: str) -> None:
    d = course_doses(get_regimen("004-4.2-VEN-AZA"), 170, 70, cyp3a_inhibitors=[name])
    assert d.lines[2].adjusted == (("3-28", 200.0),)
