"""Derived fitness from documented criteria (Ferrara et al., Leukemia 2013;27:997-999).

Each row cites the criterion's wording in ``fitness.yaml``; both sides of every threshold.
"""

from __future__ import annotations

import pytest

from mst.domain import Fitness
from mst.domain.models import parse
from mst.errors import ValidationError
from mst.protocol import assess
from mst.protocol._data import load_yaml
from mst.protocol.fitness import FitnessCriteria, derive_fitness, local_criteria

FIT, UNFIT, FRAIL = Fitness.FIT, Fitness.UNFIT, Fitness.FRAIL

# (criteria, age, group) — Ferrara: "severe" -> unfit to intensive chemotherapy (unfit),
# "very severe" -> unfit to non-intensive therapy (frail).
FERRARA_TABLE = [
    ({}, 70, FIT),
    ({}, 75, FIT), ({}, 76, UNFIT),  # "older than 75 years"
    ({"ecog": 2}, 70, FIT), ({"ecog": 3}, 70, UNFIT),  # "PS > 2 not related to leukemia"
    ({"ecog": 4}, 70, UNFIT),  # ECOG 4 is not a frailty criterion in Ferrara
    ({"lvef_pct": 51}, 70, FIT), ({"lvef_pct": 50}, 70, UNFIT),  # "EF <= 50%"
    ({"congestive_heart_failure": True}, 70, UNFIT), ({"congestive_heart_failure": False}, 70, FIT),
    ({"refractory_heart_failure": True}, 70, FRAIL),
    ({"dlco_pct": 66}, 70, FIT), ({"dlco_pct": 65}, 70, FRAIL),  # "DLCO <= 65%"
    ({"fev1_pct": 66}, 70, FIT), ({"fev1_pct": 65}, 70, FRAIL),  # "FEV1 <= 65%"
    ({"dyspnea_at_rest_or_oxygen": True}, 70, FRAIL),
    ({"pleural_or_uncontrolled_lung_neoplasm": True}, 70, FRAIL),
    # "On dialysis and age older than 60 years" is a criterion of unfitness to *intensive*
    # chemotherapy only: Ferrara's list of unfitness to non-intensive therapy has no renal row
    ({"dialysis": True}, 60, FIT), ({"dialysis": True}, 61, UNFIT),
    ({"uncontrolled_renal_carcinoma": True}, 70, FRAIL),
    ({"liver_cirrhosis_child_b_c": True}, 70, FRAIL),
    ({"acute_viral_hepatitis": True}, 70, FRAIL),
    ({"transaminases_x_uln": 3.0}, 70, FIT), ({"transaminases_x_uln": 3.01}, 70, UNFIT),  # "> 3x"
    ({"infection_resistant_to_therapy": True}, 70, FRAIL),
    ({"cognitive_impairment": True}, 70, FRAIL),
    ({"uncontrolled_mental_illness": True}, 70, FRAIL),
    ({"uncontrolled_neoplasia": True}, 70, FRAIL),
    ({"other_comorbidity_precluding_intensive": True}, 70, UNFIT),
    ({"ecog": 3, "dlco_pct": 60}, 70, FRAIL),
    # local criteria are off by default: documented, reported, not applied
    ({"bilirubin_x_uln": 3.5}, 70, FIT),
    ({"acute_organ_failure": True}, 70, FIT),
    ({"other_comorbidity_precluding_any_therapy": True}, 70, FIT),
]  # fmt: skip


@pytest.mark.parametrize("criteria,age,fitness", FERRARA_TABLE)
def test_ferrara_2013_criteria(criteria: dict, age: int, fitness: Fitness) -> None:
    res = derive_fitness(FitnessCriteria(**criteria), age=age)
    assert res.fitness is fitness
    assert (res.met == ()) is (fitness is FIT)
    assert res.source.startswith("Ferrara")
    assert res.documented == len(criteria)


def test_every_criterion_quotes_its_wording_and_local_ones_are_marked() -> None:
    doc = load_yaml("fitness.yaml")
    fields = set(FitnessCriteria.model_fields) | {"age"}
    for c in doc["criteria"]:
        assert c["field"] in fields and c["level"] in ("unfit", "frail") and c["wording"]
        verified = ("issue", "table", "list", "issue+list", "recalled")
        assert c.get("local") or c["verified"] in verified
    assert set(local_criteria()) == {
        "local_ecog_4_frail",
        "local_acute_organ_failure",
        "local_bilirubin_gt_3x",
        "local_other_comorbidity_any_therapy",
    }


@pytest.mark.parametrize(
    "criteria,enable,fitness",
    [({"ecog": 4}, ["local_ecog_4_frail"], FRAIL), ({"ecog": 3}, ["local_ecog_4_frail"], UNFIT),
     ({"bilirubin_x_uln": 3.01}, ["local_bilirubin_gt_3x"], UNFIT),
     ({"bilirubin_x_uln": 3.0}, ["local_bilirubin_gt_3x"], FIT),
     ({"acute_organ_failure": True}, ["local_acute_organ_failure"], FRAIL)],
)  # fmt: skip
def test_local_criteria_apply_only_when_switched_on(
    criteria: dict, enable: list, fitness: Fitness
) -> None:
    off = derive_fitness(FitnessCriteria(**criteria), age=70)
    on = derive_fitness(FitnessCriteria(**criteria), age=70, enable_local=enable)
    assert on.fitness is fitness
    assert off.fitness is (UNFIT if criteria.get("ecog") == 3 or criteria.get("ecog") == 4 else FIT)
    if fitness is not off.fitness:
        assert off.not_applied and "local criterion, off" in off.not_applied[0]


def test_dialysis_without_age_is_reported_not_applied() -> None:
    res = derive_fitness(FitnessCriteria(dialysis=True))
    assert res.fitness is FIT and "age unknown" in res.not_applied[0]


def test_unknown_local_criterion_is_refused() -> None:
    with pytest.raises(ValidationError, match="fitness_local_criteria"):
        derive_fitness(FitnessCriteria(), enable_local=["made_up"])


@pytest.mark.parametrize("bad", [{"ecog": 5}, {"lvef_pct": 2}, {"unknown_score": 1}])
def test_bad_criteria(bad: dict) -> None:
    with pytest.raises(ValidationError):
        parse(FitnessCriteria, bad)


def _plan(criteria: dict, age: int = 70, **options: object) -> dict:
    return {
        "patient": {
            "id": "F1", "center_id": "C1", "sex": "F", "age_at_diagnosis": age,
            "diagnosis": "AML", "diagnosis_date": "2026-11-20",
        },
        "assessment": {"fitness_criteria": criteria, "allo_hsct": {"eligible": False}},
        "options": options,
    }  # fmt: skip


def test_frail_by_ferrara_criteria_is_no_mst_candidate() -> None:
    a = assess(_plan({"dlco_pct": 60}))
    assert a.fitness is FRAIL and a.fitness_basis == "derived" and not a.candidate
    assert a.fitness_criteria_met == (
        "pulmonary comorbidity: documented pulmonary disease with DLCO <= 65%",
    )


def test_local_criterion_off_is_flagged_in_the_assessment() -> None:
    a = assess(_plan({"acute_organ_failure": True}))
    assert a.fitness is FIT
    assert "fitness_criteria_not_applied" in [n.code for n in a.notes]
    b = assess(
        _plan({"acute_organ_failure": True}, fitness_local_criteria=["local_acute_organ_failure"])
    )
    assert b.fitness is FRAIL
