"""Candidate assessment vignettes: age bands, fitness, exclusions, phases, allo-HSCT."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.domain import ElnRisk, Fitness
from mst.errors import ValidationError
from mst.protocol import assess
from mst.protocol.assessment import age_band
from mst.protocol.catalog import Phase, get_regimen


def patient(age: int = 68, fitness: str | None = "fit", **kw: Any) -> dict[str, Any]:
    p = {
        "id": "P1",
        "center_id": "C1",
        "sex": "F",
        "age_at_diagnosis": age,
        "diagnosis": "AML",
        "diagnosis_date": "2026-11-20",
        "height_cm": 160,
        "weight_kg": 60,
    }
    if fitness is not None:
        p["fitness"] = fitness
    p.update(kw)
    return p


def data(
    age: int = 68,
    fitness: str | None = "fit",
    assessment: dict | None = None,
    courses: list | None = None,
    **kw: Any,
) -> dict[str, Any]:
    return {
        "patient": patient(age, fitness, **kw),
        "assessment": assessment or {},
        "courses": courses or [],
    }


FIT_41 = [
    "004-4.1-DA60",
    "004-4.1-IA12",
    "004-4.1-MA12",
    "004-4.1-VEN-AZA",
    "004-4.1-VEN-DEC",
    "004-4.1-CPX351",
]
UNFIT_42 = ["004-4.2-VEN-AZA", "004-4.2-VEN-DEC", "004-4.2-DA-RI", "004-4.2-IA-RI", "004-4.2-MA-RI"]
UNFIT_42_ALT = ["004-4.2-VEN-AZA5", "004-4.2-DA-RI-A5", "004-4.2-IA-RI-A5", "004-4.2-MA-RI-A5"]
SEED = ["002-IA", "002-MA"]
TRIAL = "Clinical trial (venetoclax, decitabine or azacitidine)"
BSC = "Best supportive care"

# age, fitness -> band, {strength: [regimen ids or titles]} (004 §3, §4, §4.1-4.3)
INDUCTION_TABLE = [
    (59, "fit", "<60", {"consider": [*FIT_41, "004-4.1-VEN-AZA-5+2"]}),
    (60, "fit", "60-74", {"recommended": FIT_41, "alternative": ["004-4.1-VEN-AZA-5+2", *SEED]}),
    (74, "fit", "60-74", {"recommended": FIT_41, "alternative": ["004-4.1-VEN-AZA-5+2", *SEED]}),
    (75, "fit", ">=75", {"consider": [*UNFIT_42, *UNFIT_42_ALT, *SEED]}),
    (59, "unfit", "<60", {"consider": [*UNFIT_42, *UNFIT_42_ALT]}),
    (60, "unfit", "60-74", {"recommended": UNFIT_42, "alternative": [*UNFIT_42_ALT, *SEED]}),
    (74, "unfit", "60-74", {"recommended": UNFIT_42, "alternative": [*UNFIT_42_ALT, *SEED]}),
    (75, "unfit", ">=75", {"consider": [*UNFIT_42, *UNFIT_42_ALT, *SEED]}),
    (59, "frail", "<60", {"recommended": ["Clinical trial (venetoclax, decitabine or azacitidine)",
                                          "Best supportive care"]}),
    (74, "frail", "60-74", {"recommended": [TRIAL,
                                           "Best supportive care"]}),
    (75, "frail", ">=75", {"recommended": ["Clinical trial (venetoclax, decitabine or azacitidine)",
                                          BSC], "consider": ["Low-dose targeted therapy"]}),
]  # fmt: skip


@pytest.mark.parametrize("age,fitness,band,expected", INDUCTION_TABLE)
def test_induction_options(age: int, fitness: str, band: str, expected: dict) -> None:
    a = assess(data(age, fitness))
    # 004 §4.3: a frail patient gets clinical trials or best supportive care, no MST course
    assert a.age_band == band and a.phase == "induction" and a.candidate is (fitness != "frail")
    got: dict[str, list[str]] = {}
    for o in a.options:
        got.setdefault(o.strength, []).append(o.regimen_id or o.title)
        assert o.sources and o.reasons
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in expected.items()}
    # best first
    order = {"preferred": 0, "recommended": 1, "alternative": 2, "consider": 3}
    assert [order[o.strength] for o in a.options] == sorted(order[o.strength] for o in a.options)
    assert ("below_consensus_age" in [n.code for n in a.notes]) is (age < 60 and fitness != "frail")


@pytest.mark.parametrize(
    "age,band", [(0, "<60"), (59, "<60"), (60, "60-74"), (74, "60-74"), (75, ">=75"), (120, ">=75")]
)
def test_age_band_boundaries(age: int, band: str) -> None:
    assert age_band(age)["id"] == band


def test_frail_sources() -> None:
    a = assess(data(80, "frail"))
    assert [o.sources for o in a.options] == [("004 §4.3",), ("004 §4.3",), ("004 §4",)]
    assert all(o.regimen_id is None for o in a.options)


@pytest.mark.parametrize(
    "extra,code,source",
    [({"assessment": {"apl": True}}, "apl", "004 §4"),
     ({"assessment": {"uninterrupted_immunosuppression": True}}, "immunosuppression", "004 §2.4")],
)  # fmt: skip
def test_exclusions(extra: dict, code: str, source: str) -> None:
    a = assess(data(**extra))
    assert not a.candidate and a.options == () and a.phase == "not_candidate"
    note = next(n for n in a.notes if n.code == code)
    assert note.level == "outside_consensus" and source in note.sources


def test_not_aml() -> None:
    a = assess(data(diagnosis="MDS"))
    assert not a.candidate and "not_aml" in [n.code for n in a.notes]


def test_missing_fitness_is_an_error() -> None:
    with pytest.raises(ValidationError) as exc:
        assess(data(fitness=None))
    assert exc.value.field == "patient.fitness"


def test_fitness_derived_from_criteria() -> None:
    a = assess(data(fitness=None, assessment={"fitness_criteria": {"ecog": 3, "lvef_pct": 60}}))
    assert a.fitness is Fitness.UNFIT and a.fitness_basis == "derived"
    assert a.fitness_criteria_met == (
        "ECOG performance status > 2 (3 or 4) not related to leukemia",
    )
    assert a.options[0].regimen_id == "004-4.2-VEN-AZA"


def test_fitness_entered_wins_but_disagreement_is_flagged() -> None:
    a = assess(data(fitness="fit", assessment={"fitness_criteria": {"dlco_pct": 60}}))
    assert a.fitness is Fitness.FIT and a.fitness_basis == "entered"
    assert "fitness_disagrees" in [n.code for n in a.notes]


def test_eln_derived_and_disagreement() -> None:
    a = assess(data(assessment={"eln_lesions": ["ASXL1", "FLT3-ITD"]}))
    assert a.eln_risk is ElnRisk.ADVERSE and a.eln_basis == "derived"
    codes = [n.code for n in a.notes]
    assert "adverse_risk" in codes and "targetable" in codes
    b = assess(data(eln_risk="favorable", assessment={"eln_lesions": ["ASXL1"]}))
    assert b.eln_risk is ElnRisk.FAVORABLE and "eln_disagrees" in [n.code for n in b.notes]
    c = assess(data(eln_risk="adverse"))
    assert c.eln_risk is ElnRisk.ADVERSE and c.eln_basis == "entered"
    assert assess(data()).eln_basis == "missing"


def ia(start: str, response: str | None, kind: str = "induction", rid: str = "002-IA") -> dict:
    return {"kind": kind, "regimen_id": rid, "start_date": start, "response": response}


# course history -> phase, option ids/titles (two-induction rule 004 §4.3; post-remission 004 §5)
HISTORY_TABLE = [
    ([ia("2026-12-01", None)], "await_response", []),
    ([ia("2026-12-01", "PR")], "second_induction", ["002-IA"]),
    ([ia("2026-12-01", "PR"), ia("2027-01-10", None, "reinduction")], "await_response", []),
    ([ia("2026-12-01", "PR"), ia("2027-01-10", "refractory", "reinduction")], "treatment_failure",
     ["Other clinical trials or protocols"]),
    ([ia("2026-12-01", "PR"), ia("2027-01-10", "CRi", "reinduction")], "consolidation",
     ["002-IDAC", "004-5.1-IDAC", "004-5.1-DA60", "004-5.1-IA12", "004-5.1-MA12"]),
    ([ia("2026-12-01", "CR")], "consolidation",
     ["002-IDAC", "004-5.1-IDAC", "004-5.1-DA60", "004-5.1-IA12", "004-5.1-MA12"]),
    ([ia("2026-12-01", "CR"), ia("2027-01-10", None, "consolidation", "002-IDAC")], "consolidation",
     ["002-IDAC"]),
    ([ia("2026-12-01", "CR"), ia("2027-01-10", "relapse", "consolidation", "002-IDAC")],
     "not_candidate", []),
]  # fmt: skip


@pytest.mark.parametrize("courses,phase,options", HISTORY_TABLE)
def test_history_phase(courses: list, phase: str, options: list) -> None:
    a = assess(data(courses=courses))
    assert a.phase == phase
    assert sorted(o.regimen_id or o.title for o in a.options) == sorted(options)
    assert a.course_number == len(courses) + 1


def test_second_induction_cites_two_induction_rule() -> None:
    a = assess(data(courses=[ia("2026-12-01", "refractory")]))
    assert a.options[0].sources == ("004 §4.3",)
    assert a.options[0].strength == "recommended"


def test_second_induction_with_other_regimen_is_flagged() -> None:
    a = assess(
        data(courses=[ia("2026-12-01", "PR"), ia("2027-01-10", None, "reinduction", "002-MA")])
    )
    assert "second_induction_regimen" in [n.code for n in a.notes]


def test_unfit_consolidation_after_consensus_induction() -> None:
    a = assess(data(fitness="unfit", courses=[ia("2026-12-01", "CR", rid="004-4.2-VEN-AZA")]))
    ids = [o.regimen_id for o in a.options]
    assert ids[:4] == ["004-5.2-VEN-AZA", "004-5.2-VEN-DEC", "004-5.2-IDAC", "004-5.2-VEN-AZA-5+2"]
    assert ids[-1] == "002-IDAC"  # seed 002 consolidation is only an alternative here
    assert "reassess_fitness" in [n.code for n in a.notes]


def test_allo_hsct_has_priority_after_cr() -> None:
    a = assess(
        data(
            courses=[ia("2026-12-01", "CR")],
            assessment={
                "allo_hsct": {"eligible": True, "donor_available": False},
                "fitness_reassessed_after_cr": True,
            },
        )
    )
    first = a.options[0]
    assert (first.regimen_id, first.title, first.strength, first.sources) == (
        None,
        "Allogeneic HSCT",
        "preferred",
        ("004 §5",),
    )
    assert "reassess_fitness" not in [n.code for n in a.notes]
    declined = assess(
        data(
            courses=[ia("2026-12-01", "CR")],
            assessment={"allo_hsct": {"eligible": True, "declined": True}},
        )
    )
    assert declined.options[0].regimen_id is not None


@pytest.mark.parametrize(
    "allo,code", [({}, "assess_allo_hsct"), ({"eligible": True}, "allo_hsct_after_cr")]
)
def test_allo_hsct_notes_at_induction(allo: dict, code: str) -> None:
    a = assess(data(assessment={"allo_hsct": allo}))
    assert code in [n.code for n in a.notes]


@pytest.mark.parametrize(
    "courses,field",
    [([ia("2026-11-01", None)], "courses[0].start_date"),
     ([ia("2026-12-01", "PR"), ia("2026-12-05", None, "reinduction")], "courses[1].start_date"),
     ([ia("2026-12-01", None, rid="XX-1")], "courses[0].regimen_id"),
     ([ia("2026-12-01", None, kind="consolidation")], "courses[0].kind"),
     ([ia("2026-12-01", "PR"), ia("2027-01-10", None, "consolidation", "002-IDAC")], "courses"),
     ([ia("2026-12-01", "CR"), ia("2027-01-10", "CR", "consolidation", "002-IDAC"),
       ia("2027-04-10", None)], "courses[2].kind")],
)  # fmt: skip
def test_bad_history(courses: list, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        assess(data(courses=courses))
    assert exc.value.field == field


def test_age_from_birth_date() -> None:
    d = data()
    del d["patient"]["age_at_diagnosis"]
    d["patient"]["birth_date"] = "1951-11-21"  # 74 on 2026-11-20: one day short of 75
    assert assess(d).age_band == "60-74"
    d["patient"]["birth_date"] = "1951-11-20"
    assert assess(d).age_band == ">=75"


@settings(deadline=None, derandomize=True, max_examples=60)
@given(st.integers(18, 100), st.sampled_from(["fit", "unfit", "frail"]))
def test_assessment_invariants(age: int, fitness: str) -> None:
    a = assess(data(age, fitness))
    for o in a.options:
        assert o.sources and o.reasons
        if o.regimen_id is None:
            continue
        r = get_regimen(o.regimen_id)
        assert r.phase is Phase.INDUCTION
        # >= 75: never the standard-intensity §4.1 induction (004 §3, §4)
        assert not (age >= 75 and r.source == "004 §4.1")
        # seed 002 enrolled patients >= 60 only
        assert not (age < 60 and r.source == "002 Methods")
    assert (fitness == "frail") is all(o.regimen_id is None for o in a.options)


# 004 §3: "EAML patients, including the 75–85 years age group with good physical status, may
# benefit from MST" — the evidence stops at 85 completed years; 86 and older is outside it and
# the engine must say so on the assessment (85 inclusive, 86 warned).
@pytest.mark.parametrize(("age", "warned"), [(84, False), (85, False), (86, True), (95, True)])
def test_age_above_75_85_group_is_outside_consensus_evidence(age: int, warned: bool) -> None:
    a = assess(data(age, "fit"))
    codes = {n.code for n in a.notes}
    assert ("above_consensus_age" in codes) is warned
    assert all(o.strength == "consider" for o in a.options if o.regimen_id)
    if warned:
        note = next(n for n in a.notes if n.code == "above_consensus_age")
        assert note.level == "warning" and "75–85" in note.message
