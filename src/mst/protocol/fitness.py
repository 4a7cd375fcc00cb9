"""Fitness group derived from documented criteria when it is not entered.

The consensus defers fitness scoring to NCCN/ELN (004 §3). The criteria in
``mst/data/protocol/fitness.yaml`` are adapted from Ferrara et al., Leukemia
2013;27:997 (age alone is not used; see the file header).
"""

from __future__ import annotations

import operator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mst.domain import Fitness
from mst.protocol._data import load_yaml

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "is": operator.eq}


class FitnessCriteria(BaseModel):
    """Documented findings used to derive the fitness group (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ecog: int | None = Field(default=None, ge=0, le=4)
    lvef_pct: float | None = Field(default=None, ge=5, le=90)
    congestive_heart_failure: bool | None = None
    refractory_heart_failure: bool | None = None
    dlco_pct: float | None = Field(default=None, ge=5, le=200)
    fev1_pct: float | None = Field(default=None, ge=5, le=200)
    dyspnea_at_rest_or_oxygen: bool | None = None
    dialysis: bool | None = None
    liver_cirrhosis_child_b_c: bool | None = None
    bilirubin_x_uln: float | None = Field(default=None, ge=0, le=50)
    transaminases_x_uln: float | None = Field(default=None, ge=0, le=100)
    infection_resistant_to_therapy: bool | None = None
    cognitive_impairment: bool | None = None
    uncontrolled_mental_illness: bool | None = None
    acute_organ_failure: bool | None = None
    other_comorbidity_precluding_intensive: bool | None = None
    other_comorbidity_precluding_any_therapy: bool | None = None


class FitnessResult(BaseModel):
    """Derived group and the criteria met."""

    model_config = ConfigDict(frozen=True)

    fitness: Fitness
    met: tuple[str, ...]
    source: str
    documented: int


def _met(rules: list[dict[str, Any]], c: FitnessCriteria) -> list[str]:
    out = []
    for r in rules:
        v = getattr(c, r["field"])
        if v is not None and _OPS[r["op"]](v, r["value"]):
            out.append(r["text"])
    return out


def derive_fitness(criteria: FitnessCriteria) -> FitnessResult:
    """Derive fit / unfit / frail.

    Parameters
    ----------
    criteria : FitnessCriteria
        Documented findings; missing ones count as not met.

    Returns
    -------
    FitnessResult
        ``frail`` if any frailty criterion is met, else ``unfit`` if any
        criterion for unfitness to intensive chemotherapy is met, else ``fit``.
    """
    doc = load_yaml("fitness.yaml")
    documented = sum(v is not None for v in criteria.model_dump().values())
    frail = _met(doc["frail"], criteria)
    if frail:
        return FitnessResult(
            fitness=Fitness.FRAIL, met=tuple(frail), source=doc["source"], documented=documented
        )
    unfit = _met(doc["unfit_intensive"], criteria)
    if unfit:
        return FitnessResult(
            fitness=Fitness.UNFIT, met=tuple(unfit), source=doc["source"], documented=documented
        )
    return FitnessResult(fitness=Fitness.FIT, met=(), source=doc["source"], documented=documented)
