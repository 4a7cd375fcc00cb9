"""Who is an MST candidate, and the age logic on every course (004 §3, §4, §4.3, §5)."""

from __future__ import annotations

from typing import Any

import pytest

from mst.protocol import assess, plan
from mst.protocol.catalog import get_regimen


def _data(age: int, fitness: str, courses: list[dict] | None = None) -> dict[str, Any]:
    return {
        "patient": {
            "id": "P1",
            "center_id": "C1",
            "sex": "F",
            "age_at_diagnosis": age,
            "diagnosis": "AML",
            "diagnosis_date": "2026-11-20",
            "fitness": fitness,
            "height_cm": 160,
            "weight_kg": 60,
        },
        "assessment": {"allo_hsct": {"eligible": False}, "fitness_reassessed_after_cr": True},
        "courses": courses or [],
    }


def _course(start: str, response: str | None, kind: str = "induction", rid: str = "002-IA"):
    return {"kind": kind, "regimen_id": rid, "start_date": start, "response": response}


IN_CR = [_course("2026-12-01", "CR")]


# 004 §4.3 "'Frail' patients: Clinical trials (venetoclax, decitabine or azacitidine) or best
# supportive care." — the frail side of the unfit/frail boundary is not an MST candidate.
@pytest.mark.parametrize("courses", [[], IN_CR], ids=["induction", "consolidation"])
@pytest.mark.parametrize("fitness,candidate", [("unfit", True), ("frail", False)])
def test_frail_is_not_an_mst_candidate_004_4_3(
    courses: list, fitness: str, candidate: bool
) -> None:
    a = assess(_data(70, fitness, courses))
    assert a.candidate is candidate
    assert ("frail_no_mst" in [n.code for n in a.notes]) is not candidate
    if not candidate:
        assert all(o.regimen_id is None for o in a.options)


# 004 §4.3 "Patients who do not achieve CR or CRi after either of the two induction
# chemotherapies are considered treatment failure and may be suitable for other clinical trials"
@pytest.mark.parametrize(
    "second,phase,candidate",
    [("CRi", "consolidation", True), ("PR", "treatment_failure", False)],
)
def test_two_failed_inductions_end_mst_004_4_3(second: str, phase: str, candidate: bool) -> None:
    courses = [
        _course("2026-12-01", "PR"),
        _course("2027-01-10", second, "reinduction"),
    ]
    a = assess(_data(70, "fit", courses))
    assert (a.phase, a.candidate) == (phase, candidate)
    if not candidate:
        assert [o.title for o in a.options] == ["Other clinical trials or protocols"]


STANDARD_51 = {"004-5.1-DA60", "004-5.1-IA12", "004-5.1-MA12", "004-5.1-IDAC"}


# 004 §3: "the 75–85 years age group with good physical status ... the application of MST based
# on adjusting chemotherapy doses" — the standard-dose §5.1 regimens are for fit patients < 75.
@pytest.mark.parametrize("age,standard", [(74, True), (75, False)])
def test_consolidation_age_75_gets_adjusted_doses_004_3(age: int, standard: bool) -> None:
    a = assess(_data(age, "fit", IN_CR))
    ids = {o.regimen_id for o in a.options}
    recommended = {o.regimen_id for o in a.options if o.strength == "recommended"}
    assert (recommended >= STANDARD_51) is standard
    if not standard:
        assert not ids & STANDARD_51
        assert all(o.strength == "consider" for o in a.options)
        assert {"004-5.2-VEN-AZA", "004-5.2-IDAC"} <= ids
        assert "adjust_doses_age" in [n.code for n in a.notes]


# 004 §1/§3: the consensus addresses EAML (>= 60); below 60 nothing is "recommended".
@pytest.mark.parametrize("age,strength", [(59, "consider"), (60, "recommended")])
def test_consolidation_below_60_only_considered_004_3(age: int, strength: str) -> None:
    a = assess(_data(age, "fit", IN_CR))
    opts = {o.regimen_id: o.strength for o in a.options}
    assert opts["004-5.1-IDAC"] == strength
    assert ("002-IDAC" in opts) is (age >= 60)  # seed 002 enrolled patients >= 60


# the same age logic on a second induction and on a continued consolidation (004 §3)
@pytest.mark.parametrize("age,strength", [(74, "recommended"), (75, "consider")])
def test_every_course_follows_the_age_rule_004_3(age: int, strength: str) -> None:
    second = assess(_data(age, "fit", [_course("2026-12-01", "PR", rid="004-4.1-DA60")]))
    assert [(o.regimen_id, o.strength) for o in second.options] == [("004-4.1-DA60", strength)]
    cont = assess(
        _data(
            age,
            "fit",
            [*IN_CR, _course("2027-01-10", None, "consolidation", "004-5.1-DA60")],
        )
    )
    assert [(o.regimen_id, o.strength) for o in cont.options] == [("004-5.1-DA60", strength)]
    if strength == "consider":
        assert "004 §3" in cont.options[0].sources


def test_plan_for_fit_79_in_cr_never_defaults_to_standard_dose_004_3() -> None:
    d = _data(79, "fit", IN_CR)
    d["plan"] = {"start_date": "2027-01-05"}
    r = plan(d)
    assert r.regimen is not None
    assert get_regimen(r.regimen.id).source != "004 §5.1"
    assert "adjust_doses_age" in [n.code for n in r.assessment.notes]


# 004 §4 "excluding acute promyelocytic leukemia": the APL lesion itself routes to the exclusion
@pytest.mark.parametrize(
    "lesion", ["t(15;17)", "PML::RARA", " pml::rara ", {"code": "t(15;17)(q24.1;q21.2)"}]
)
def test_apl_lesion_routes_to_the_apl_exclusion_004_4(lesion: object) -> None:
    d = _data(70, "fit")
    d["assessment"]["eln_lesions"] = ["NPM1", lesion]
    a = assess(d)
    assert not a.candidate and a.phase == "not_candidate" and a.options == ()
    (note,) = [n for n in a.notes if n.code == "apl"]
    assert note.level == "outside_consensus" and "004 §4" in note.sources


def test_non_apl_lesions_keep_the_candidate() -> None:
    d = _data(70, "fit")
    d["assessment"]["eln_lesions"] = ["NPM1"]
    assert assess(d).candidate


# 004 §3: a standard-dose regimen planned at >= 75 (e.g. a second induction with the same DA60)
# carries a warning; at 74 it does not.
@pytest.mark.parametrize("age,warned", [(74, False), (75, True)])
def test_standard_dose_planned_at_75_is_warned_004_3(age: int, warned: bool) -> None:
    d = _data(age, "fit", [_course("2026-12-01", "PR", rid="004-4.1-DA60")])
    d["plan"] = {"start_date": "2027-01-10", "last_dose_time": "18:00"}
    r = plan(d)
    assert r.regimen is not None and r.regimen.id == "004-4.1-DA60"
    assert ("standard_dose_age_75" in [n.code for n in r.warnings]) is warned
