"""One-call plan vignettes and bad-input errors; the documented example inputs."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from mst.errors import ValidationError
from mst.protocol import plan

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def base(**plan_kw: Any) -> dict[str, Any]:
    return {
        "patient": {
            "id": "V1",
            "center_id": "C1",
            "sex": "M",
            "age_at_diagnosis": 68,
            "diagnosis": "AML",
            "diagnosis_date": "2026-11-20",
            "fitness": "fit",
            "height_cm": 172,
            "weight_kg": 70,
        },
        "assessment": {"allo_hsct": {"eligible": False}},
        "plan": {"start_date": "2026-12-01", "last_dose_time": "12:00", **plan_kw},
    }


def test_vignette_68_fit_seed_ia() -> None:
    r = plan(base(regimen_id="002-IA", dose_choices={"idarubicin": 10, "cytarabine": 100}))
    assert r.regimen is not None and r.regimen.id == "002-IA" and r.regimen.among_options
    assert r.course_kind is not None and r.course_kind.value == "induction" and r.course_number == 1
    assert r.doses is not None and r.doses.bsa_m2 == 1.83
    assert [(ln.drug, ln.dose, ln.course_total) for ln in r.doses.lines] == [
        ("idarubicin", 18.0, 54.0),
        ("cytarabine", 183.0, 1281.0),
    ]
    cal = r.calendar
    assert cal is not None
    assert cal.infusion.earliest == dt.datetime(2026, 12, 8, 12)
    assert cal.infusion.latest == dt.datetime(2026, 12, 11, 12)
    assert (cal.next_course.earliest, cal.next_course.latest) == (
        dt.date(2027, 1, 4),
        dt.date(2027, 1, 18),
    )
    assert r.anthracycline is not None and r.anthracycline.total_doxorubicin_eq_mg_m2 == 150.0
    assert r.warnings == []


def test_default_regimen_is_first_option_and_range_needs_choice() -> None:
    r = plan(base())
    assert r.regimen is not None and r.regimen.id == "004-4.1-DA60"
    assert r.doses is not None and r.doses.choices_required == ("cytarabine",)
    assert [ln.dose for ln in r.doses.lines] == [110.0, None]  # 60 × 1.83 = 109.8
    # the anthracycline projection does not depend on the unchosen cytarabine dose
    assert r.anthracycline is not None and r.anthracycline.total_doxorubicin_eq_mg_m2 == 108.0


def test_arguments_override_the_file() -> None:
    r = plan(
        base(regimen_id="002-IA"),
        start=dt.date(2026, 12, 3),
        regimen_id="002-MA",
        dose_choices={"mitoxantrone": 8},
    )
    assert r.regimen is not None and r.regimen.id == "002-MA"
    assert r.calendar is not None and r.calendar.start_date == dt.date(2026, 12, 3)
    assert r.doses is not None and r.doses.lines[0].dose == 15.0  # 8 × 1.83 = 14.64


def test_regimen_outside_options_is_flagged() -> None:
    d = base(regimen_id="004-4.2-IA-RI")
    r = plan(d)
    assert r.regimen is not None and not r.regimen.among_options
    assert [n.code for n in r.warnings] == ["regimen_not_recommended"]


def test_frail_patient_gets_no_course() -> None:
    d = base()
    d["patient"]["fitness"] = "frail"
    r = plan(d)
    assert r.regimen is None and r.doses is None and r.calendar is None
    assert r.assessment.options[0].title.startswith("Clinical trial")
    assert not r.assessment.candidate  # 004 §4.3: trials or best supportive care, no MST
    d["plan"]["regimen_id"] = "002-IA"  # an MST course cannot be forced on a frail patient
    with pytest.raises(ValidationError, match=r"no MST course is due.*frail.*004 §4\.3"):
        plan(d)
    d["patient"]["diagnosis"] = "MDS"  # not a candidate at all: no course can be planned
    with pytest.raises(ValidationError, match="no MST course is due"):
        plan(d)


def _with_history(courses: list[dict], **plan_kw: Any) -> dict[str, Any]:
    d = base(**plan_kw)
    d["courses"] = courses
    return d


IND = {
    "kind": "induction",
    "regimen_id": "002-IA",
    "start_date": "2026-12-01",
    "dose_choices": {"idarubicin": 10},
    "response": "CR",
}


# first consolidation 4-6 weeks after the induction ends (2026-12-07): 2027-01-04 .. 2027-01-18
@pytest.mark.parametrize(
    "start,code",
    [("2027-01-03", "course_early"), ("2027-01-04", None), ("2027-01-18", None),
     ("2027-01-19", "course_late")],
)  # fmt: skip
def test_first_consolidation_window(start: str, code: str | None) -> None:
    r = plan(
        _with_history(
            [IND], regimen_id="002-IDAC", start_date=start, dose_choices={"cytarabine": 1000}
        )
    )
    assert (
        r.course_kind is not None
        and r.course_kind.value == "consolidation"
        and r.course_number == 2
    )
    assert [n.code for n in r.warnings] == ([code] if code else [])
    if code:
        assert r.warnings[0].sources == ("004 §5",)


# next consolidation 12-14 weeks after 2027-01-10 (002 Methods): 2027-04-04 .. 2027-04-18
@pytest.mark.parametrize(
    "start,code",
    [("2027-04-03", "course_early"), ("2027-04-04", None), ("2027-04-18", None),
     ("2027-04-19", "course_late")],
)  # fmt: skip
def test_next_consolidation_spacing(start: str, code: str | None) -> None:
    cons = {
        "kind": "consolidation",
        "regimen_id": "002-IDAC",
        "start_date": "2027-01-10",
        "dose_choices": {"cytarabine": 1000},
    }
    r = plan(_with_history([IND, cons], start_date=start, dose_choices={"cytarabine": 1000}))
    assert (
        r.regimen is not None and r.regimen.id == "002-IDAC"
    )  # continue the current consolidation
    assert [n.code for n in r.warnings] == ([code] if code else [])


def test_venetoclax_consolidation_spacing_and_cycle_limit() -> None:
    ind = {
        "kind": "induction",
        "regimen_id": "004-4.2-VEN-AZA",
        "start_date": "2026-12-01",
        "response": "CRi",
    }
    courses = [ind]
    day = dt.date(2027, 1, 26)
    for _ in range(12):
        courses.append(
            {
                "kind": "consolidation",
                "regimen_id": "004-5.2-VEN-AZA",
                "start_date": day.isoformat(),
            }
        )
        day += dt.timedelta(weeks=5)
    d = _with_history(courses[:-1], start_date=courses[-1]["start_date"])
    d["patient"]["fitness"] = "unfit"
    r = plan(d)
    assert r.regimen is not None and r.regimen.id == "004-5.2-VEN-AZA" and r.warnings == []
    d13 = _with_history(courses, start_date=day.isoformat(), regimen_id="004-5.2-VEN-AZA")
    d13["patient"]["fitness"] = "unfit"
    r13 = plan(d13)
    assert "cycles_exceeded" in [n.code for n in r13.warnings]


def test_second_induction_is_reinduction_course() -> None:
    first = {**IND, "response": "PR"}
    r = plan(
        _with_history(
            [first], start_date="2027-01-05", dose_choices={"idarubicin": 10, "cytarabine": 100}
        )
    )
    assert r.regimen is not None and r.regimen.id == "002-IA"
    assert (
        r.course_kind is not None and r.course_kind.value == "reinduction" and r.course_number == 2
    )
    # cumulative idarubicin: two courses at 10 mg/m² × 3 days = 60 mg/m² -> 300 dox-eq
    assert r.anthracycline is not None and r.anthracycline.total_doxorubicin_eq_mg_m2 == 300.0
    assert "anthracycline_high_risk_baseline" in [n.code for n in r.anthracycline.notes]


def test_treatment_failure_has_no_course() -> None:
    courses = [
        {**IND, "response": "PR"},
        {**IND, "kind": "reinduction", "start_date": "2027-01-05", "response": "refractory"},
    ]
    r = plan(_with_history(courses, start_date="2027-02-10"))
    assert r.assessment.phase == "treatment_failure" and r.regimen is None


def test_infusion_check_in_plan() -> None:
    r = plan(
        base(
            regimen_id="002-IA",
            dose_choices={"idarubicin": 10, "cytarabine": 100},
            infusion_at="2026-12-10T13:00:00",
        )
    )
    assert r.infusion_check is not None and r.infusion_check.status == "delayed"
    assert r.infusion_check.hours_after_last_dose == 73.0
    assert [n.code for n in r.warnings] == ["infusion_delayed"]


def test_prior_anthracycline_and_risk_factors() -> None:
    d = base(regimen_id="002-IA", dose_choices={"idarubicin": 10})
    d["assessment"]["prior_anthracyclines"] = [
        {"drug": "doxorubicin", "mg_m2": 260, "label": "R-CHOP"}
    ]
    d["assessment"]["cardiac_risk_factors"] = True
    r = plan(d)
    assert r.anthracycline is not None and r.anthracycline.total_doxorubicin_eq_mg_m2 == 410.0
    assert "anthracycline_with_risk_factors" in [n.code for n in r.warnings]
    d["options"] = {"anthracycline_thresholds": {"with_risk_factors": 450}}
    assert "anthracycline_with_risk_factors" not in [n.code for n in plan(d).warnings]


def test_collection_in_plan() -> None:
    d = base(regimen_id="002-IA")
    d["collection"] = {"mnc_total_1e8": 350, "courses": 3}
    r = plan(d)
    assert r.collection is not None and r.collection.courses_covered == 2  # 175 per course at 70 kg
    assert r.collection.second_donor_needed


def _set(d: dict, path: str, value: Any) -> dict:
    d = copy.deepcopy(d)
    *head, last = path.split(".")
    cur = d
    for k in head:
        cur = cur[k]
    if value is _DEL:
        del cur[last]
    else:
        cur[last] = value
    return d


_DEL = object()
IA = base(regimen_id="002-IA")

# bad input -> field named in the error
BAD_INPUT = [
    (_set(IA, "patient.height_cm", _DEL), "patient.height_cm"),
    (_set(IA, "patient.weight_kg", _DEL), "patient.weight_kg"),
    (_set(IA, "patient.weight_kg", 0), "patient.weight_kg"),
    (_set(IA, "plan.regimen_id", "IA-99"), "plan.regimen_id"),
    (_set(IA, "plan.regimen_id", "002-IDAC"), "plan.regimen_id"),
    (_set(IA, "plan.start_date", _DEL), "plan.start_date"),
    (_set(IA, "plan.start_date", "2026-11-19"), "plan.start_date"),
    (_set(IA, "plan.dose_choices", {"idarubicin": 12}), "dose_choices.idarubicin"),
    (_set(IA, "patient.sex", "X"), "patient.sex"),
    (_set(IA, "surprise", 1), "surprise"),
    (_set(_with_history([IND], regimen_id="002-IDAC"), "plan.start_date", "2026-12-07"),
     "plan.start_date"),
]  # fmt: skip


@pytest.mark.parametrize("d,field", BAD_INPUT)
def test_bad_input(d: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        plan(d)
    assert exc.value.field == field


def test_start_in_past_course_message() -> None:
    d = _set(_with_history([IND], regimen_id="002-IDAC"), "plan.start_date", "2026-12-05")
    with pytest.raises(ValidationError, match=r"falls in a past course \(course 1, 002-IA"):
        plan(d)
    ok = _set(_with_history([IND], regimen_id="002-IDAC"), "plan.start_date", "2026-12-08")
    assert plan(ok).course_number == 2  # the day after the last dose is not in the past course


@pytest.mark.parametrize("name", ["plan_new_fit_68.json", "plan_consolidation_after_cr.json"])
def test_examples_plan(name: str) -> None:
    r = plan(json.loads((EXAMPLES / name).read_text(encoding="utf-8")))
    assert r.regimen is not None and r.calendar is not None


def test_example_files_exist() -> None:
    assert len(list(EXAMPLES.glob("plan_*.json"))) >= 3


def test_plan_refuses_an_unknown_cyp3a_inhibitor_naming_the_field() -> None:
    d = base(regimen_id="002-IA")
    d["assessment"]["cyp3a_inhibitors"] = ["posaconazole", "posaconazol"]
    with pytest.raises(ValidationError) as exc:
        plan(d)
    assert exc.value.field == "assessment.cyp3a_inhibitors[1]"


# 004 §4.3 "GPBSCs should be infused within 24–48 h after completion of chemotherapy agents"; the
# clock starts at the last dose. Without its time the window is computed from an assumed 12:00
# and every window line says so, with the window of a 24-h infusion ending at midnight.
def test_window_without_last_dose_time_says_it_was_assumed() -> None:
    d = base(regimen_id="002-IA", dose_choices={"idarubicin": 10, "cytarabine": 100})
    del d["plan"]["last_dose_time"]
    r = plan(d)
    w = r.calendar.infusion
    assert w.last_dose_time_assumed and w.earliest == dt.datetime(2026, 12, 8, 12)
    assert w.if_midnight_end is not None
    assert w.if_midnight_end.earliest == dt.datetime(2026, 12, 9, 0)
    assert w.if_midnight_end.latest == dt.datetime(2026, 12, 12, 0)
    assert "ASSUMED" in w.line() and "2026-12-12 00:00" in w.line()
    texts = [e.text for day in r.calendar.days for e in day.entries if e.kind == "infusion"]
    assert all("ASSUMED" in t for t in texts if "12:00" in t)
    assert "last_dose_time_assumed" in [n.code for n in r.warnings]


@pytest.mark.parametrize(
    "infusion_at,status,alt",
    [("2026-12-11T12:00:00", "delayed", "84 h (delayed)"),
     ("2026-12-12T12:01:00", "outside_consensus", "outside_consensus")],
)  # fmt: skip
def test_infusion_check_with_assumed_time_gives_the_midnight_reading(
    infusion_at: str, status: str, alt: str
) -> None:
    d = base(regimen_id="002-IA", dose_choices={"idarubicin": 10, "cytarabine": 100})
    del d["plan"]["last_dose_time"]
    d["plan"]["infusion_at"] = infusion_at
    r = plan(d)
    assert r.infusion_check.status == status
    assert "ASSUMED 12:00" in r.infusion_check.note.message and alt in r.infusion_check.note.message
