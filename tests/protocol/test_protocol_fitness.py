"""Derived fitness from documented criteria (adapted from Ferrara et al., Leukemia 2013)."""

from __future__ import annotations

import pytest

from mst.domain import Fitness
from mst.domain.models import parse
from mst.errors import ValidationError
from mst.protocol.fitness import FitnessCriteria, derive_fitness

FIT, UNFIT, FRAIL = Fitness.FIT, Fitness.UNFIT, Fitness.FRAIL

FITNESS_TABLE = [
    ({}, FIT),
    ({"ecog": 2}, FIT), ({"ecog": 3}, UNFIT), ({"ecog": 4}, FRAIL),
    ({"lvef_pct": 51}, FIT), ({"lvef_pct": 50}, UNFIT),
    ({"congestive_heart_failure": True}, UNFIT), ({"congestive_heart_failure": False}, FIT),
    ({"refractory_heart_failure": True}, FRAIL),
    ({"dlco_pct": 66}, FIT), ({"dlco_pct": 65}, UNFIT),
    ({"fev1_pct": 66}, FIT), ({"fev1_pct": 65}, UNFIT),
    ({"dyspnea_at_rest_or_oxygen": True}, UNFIT),
    ({"dialysis": True}, UNFIT),
    ({"liver_cirrhosis_child_b_c": True}, UNFIT),
    ({"bilirubin_x_uln": 3.0}, FIT), ({"bilirubin_x_uln": 3.01}, UNFIT),
    ({"transaminases_x_uln": 3.0}, FIT), ({"transaminases_x_uln": 3.5}, UNFIT),
    ({"infection_resistant_to_therapy": True}, UNFIT),
    ({"cognitive_impairment": True}, UNFIT),
    ({"uncontrolled_mental_illness": True}, UNFIT),
    ({"other_comorbidity_precluding_intensive": True}, UNFIT),
    ({"acute_organ_failure": True}, FRAIL),
    ({"other_comorbidity_precluding_any_therapy": True}, FRAIL),
    ({"ecog": 3, "acute_organ_failure": True}, FRAIL),
]  # fmt: skip


@pytest.mark.parametrize("criteria,fitness", FITNESS_TABLE)
def test_derive_fitness(criteria: dict, fitness: Fitness) -> None:
    res = derive_fitness(FitnessCriteria(**criteria))
    assert res.fitness is fitness
    assert (res.met == ()) is (fitness is FIT)
    assert "Ferrara" in res.source
    assert res.documented == len(criteria)


@pytest.mark.parametrize("bad", [{"ecog": 5}, {"lvef_pct": 2}, {"unknown_score": 1}])
def test_bad_criteria(bad: dict) -> None:
    with pytest.raises(ValidationError):
        parse(FitnessCriteria, bad)
