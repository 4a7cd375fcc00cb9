"""Fitness group derived from documented criteria when it is not entered.

The consensus defers fitness scoring to NCCN/ELN (004 §3). The criteria in
``mst/data/protocol/fitness.yaml`` are those of Ferrara et al., Leukemia
2013;27:997: a "severe" comorbidity makes a patient unfit to intensive
chemotherapy (``unfit``), a "very severe" one unfit to non-intensive therapy
too (``frail``). Criteria that are not Ferrara's are marked ``local`` and are
applied only when switched on; a local criterion that is documented as met but
switched off is reported, never silently dropped.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mst.domain import Fitness
from mst.errors import ValidationError
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
    pleural_or_uncontrolled_lung_neoplasm: bool | None = None
    dialysis: bool | None = None
    uncontrolled_renal_carcinoma: bool | None = None
    liver_cirrhosis_child_b_c: bool | None = None
    acute_viral_hepatitis: bool | None = None
    transaminases_x_uln: float | None = Field(default=None, ge=0, le=100)
    infection_resistant_to_therapy: bool | None = None
    cognitive_impairment: bool | None = None
    uncontrolled_mental_illness: bool | None = None
    uncontrolled_neoplasia: bool | None = None
    other_comorbidity_precluding_intensive: bool | None = None
    # fields read only by local criteria (not in Ferrara; off by default)
    bilirubin_x_uln: float | None = Field(default=None, ge=0, le=50)
    acute_organ_failure: bool | None = None
    other_comorbidity_precluding_any_therapy: bool | None = None


class FitnessResult(BaseModel):
    """Derived group, the criteria met, and local criteria met but switched off."""

    model_config = ConfigDict(frozen=True)

    fitness: Fitness
    met: tuple[str, ...]
    source: str
    documented: int
    not_applied: tuple[str, ...] = ()


@functools.cache
def _criteria() -> tuple[dict[str, Any], ...]:
    doc = load_yaml("fitness.yaml")
    return tuple(doc["criteria"])


def local_criteria() -> tuple[str, ...]:
    """Ids of the local (non-Ferrara) criteria that :func:`derive_fitness` can switch on."""
    return tuple(c["id"] for c in _criteria() if c.get("local"))


def _hit(c: dict[str, Any], crit: FitnessCriteria, age: int | None) -> bool | None:
    """True/False when decidable, None when the finding (or the age it needs) is missing."""
    if c["field"] == "age":
        v: Any = age
    else:
        v = getattr(crit, c["field"])
    if v is None:
        return None
    if not _OPS[c["op"]](v, c["value"]):
        return False
    if "and_age_gt" in c:
        if age is None:
            return None
        return age > c["and_age_gt"]
    return True


def derive_fitness(
    criteria: FitnessCriteria,
    *,
    age: int | None = None,
    enable_local: tuple[str, ...] | list[str] = (),
) -> FitnessResult:
    """Derive fit / unfit / frail (Ferrara et al., Leukemia 2013).

    Parameters
    ----------
    criteria : FitnessCriteria
        Documented findings; missing ones count as not met.
    age : int, optional
        The patient's age (Ferrara: age > 75 → unfit to intensive chemotherapy;
        dialysis counts only with age > 60). Without it those two criteria
        cannot be met; a documented dialysis without an age is reported in
        ``not_applied``.
    enable_local : sequence of str
        Ids of local criteria (see :func:`local_criteria`) to apply.

    Returns
    -------
    FitnessResult
        ``frail`` if any criterion of unfitness to non-intensive therapy is met,
        else ``unfit`` if any criterion of unfitness to intensive chemotherapy
        is met, else ``fit``. ``met`` quotes the wording of each criterion met.

    Raises
    ------
    mst.errors.ValidationError
        For an unknown local criterion id.
    """
    doc = load_yaml("fitness.yaml")
    known_local = set(local_criteria())
    for i, cid in enumerate(enable_local):
        if cid not in known_local:
            raise ValidationError(
                f"options.fitness_local_criteria[{i}]",
                cid,
                "must be one of " + ", ".join(sorted(known_local)),
            )
    documented = sum(v is not None for v in criteria.model_dump().values())
    met: dict[str, list[str]] = {"frail": [], "unfit": []}
    not_applied: list[str] = []
    for c in _criteria():
        hit = _hit(c, criteria, age)
        if hit is None and c.get("and_age_gt") is not None and getattr(criteria, c["field"]):
            not_applied.append(f"{c['wording']} (age unknown)")
            continue
        if not hit:
            continue
        if c.get("local") and c["id"] not in enable_local:
            not_applied.append(f"{c['wording']} (local criterion, off)")
            continue
        met[c["level"]].append(c["wording"])
    if met["frail"]:
        group, used = Fitness.FRAIL, met["frail"] + met["unfit"]
    elif met["unfit"]:
        group, used = Fitness.UNFIT, met["unfit"]
    else:
        group, used = Fitness.FIT, []
    return FitnessResult(
        fitness=group,
        met=tuple(used),
        source=doc["source"],
        documented=documented,
        not_applied=tuple(not_applied),
    )
