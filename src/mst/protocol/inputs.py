"""The plan input (PATIENT.json): patient, assessment inputs, course history, plan request.

See ``docs/protocol.md`` for the format and ``docs/examples/plan_*.json`` for examples.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mst.domain import CourseKind, Patient, ResponseCategory
from mst.domain.models import parse
from mst.protocol.fitness import FitnessCriteria


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlloHsct(_In):
    """Allo-HSCT eligibility (004 §5: priority after CR when feasible)."""

    eligible: bool | None = None
    donor_available: bool | None = None
    declined: bool = False


class PriorCourse(_In):
    """An MST course already given."""

    kind: CourseKind
    regimen_id: str = Field(min_length=1, max_length=60)
    start_date: dt.date
    dose_choices: dict[str, float] = Field(default_factory=dict)
    response: ResponseCategory | None = None


class PriorAnthracycline(_In):
    """Anthracycline given before (outside the recorded MST courses)."""

    drug: str
    mg_m2: float = Field(ge=0, le=5000)
    label: str = "prior therapy"


class Collection(_In):
    """A GPBSC collection to plan (totals in units of 10⁸ cells)."""

    mnc_total_1e8: float | None = Field(default=None, gt=0)
    cd3_total_1e8: float | None = Field(default=None, gt=0)
    courses: int = Field(default=1, ge=1, le=20)


class AssessmentInput(_In):
    """What the consensus needs beyond the core patient record."""

    apl: bool = False
    uninterrupted_immunosuppression: bool = False
    eln_lesions: list[str | dict[str, Any]] | None = None
    fitness_criteria: FitnessCriteria | None = None
    fitness_reassessed_after_cr: bool = False
    allo_hsct: AlloHsct = Field(default_factory=AlloHsct)
    cyp3a_inhibitors: list[str] = Field(default_factory=list)
    cardiac_risk_factors: bool = False
    prior_anthracyclines: list[PriorAnthracycline] = Field(default_factory=list)


class PlanRequest(_In):
    """What to plan: regimen (default: first recommended), start date, dose choices."""

    regimen_id: str | None = None
    start_date: dt.date | None = None
    dose_choices: dict[str, float] = Field(default_factory=dict)
    last_dose_time: dt.time | None = None
    infusion_at: dt.datetime | None = None


class PlanOptions(_In):
    """Configurable computation rules."""

    bsa_method: Literal["mosteller", "dubois"] = "mosteller"
    bsa_cap_m2: float | None = Field(default=None, gt=0)
    bsa_decimals: int | None = Field(default=2, ge=0, le=4)
    rounding_step: float = Field(default=1.0, gt=0)
    rounding_mode: Literal["nearest", "down"] = "nearest"
    anthracycline_factor_set: str | None = None
    anthracycline_thresholds: dict[str, float] = Field(default_factory=dict)
    fitness_local_criteria: list[str] = Field(default_factory=list)


class PlanInput(_In):
    """The whole plan input (the PATIENT.json of ``mst plan``)."""

    schema_version: Literal[1] = 1
    patient: Patient
    assessment: AssessmentInput = Field(default_factory=AssessmentInput)
    courses: list[PriorCourse] = Field(default_factory=list)
    collection: Collection | None = None
    plan: PlanRequest = Field(default_factory=PlanRequest)
    options: PlanOptions = Field(default_factory=PlanOptions)


def read_plan_input(data: dict[str, Any] | PlanInput) -> PlanInput:
    """Validate a plan input.

    Parameters
    ----------
    data : dict or PlanInput
        The parsed PATIENT.json.

    Returns
    -------
    PlanInput

    Raises
    ------
    mst.errors.ValidationError
        Naming the first failing field (e.g. ``planinput.patient.weight_kg``).
    """
    if isinstance(data, PlanInput):
        return data
    return parse(PlanInput, data)
