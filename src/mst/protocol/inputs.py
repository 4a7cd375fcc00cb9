"""The plan input (PATIENT.json): patient, assessment inputs, course history, plan request.

See ``docs/protocol.md`` for the format and ``docs/examples/plan_*.json`` for examples.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from mst.domain import CourseKind, Patient, ResponseCategory
from mst.errors import ValidationError
from mst.protocol.fitness import FitnessCriteria

# Missing-value spellings read the same way as in every other input of the package (grading
# files, exchange files): blank, NA, N/A, NaN, null, None and "." mean "not given".
_MISSING = {"", "na", "n/a", "nan", "null", "none", "."}


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
        Naming the first failing field (e.g. ``patient.weight_kg``) and the rule
        in plain words. A string value that spells a missing value (blank,
        ``NA``, ``null`` …) is read as not given.
    """
    if isinstance(data, PlanInput):
        return data
    if not isinstance(data, dict):
        raise ValidationError("plan input", type(data).__name__, "must be a JSON object")
    try:
        return PlanInput.model_validate(_blank_to_none(data))
    except ValidationError:
        raise
    except pydantic.ValidationError as exc:
        raise _plain_error(exc) from None


def _blank_to_none(v: Any) -> Any:
    if isinstance(v, str) and v.strip().lower() in _MISSING:
        return None
    if isinstance(v, dict):
        return {k: _blank_to_none(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_blank_to_none(x) for x in v]
    return v


_UNITS = {"_cm": " cm", "_kg": " kg", "_m2": " m²", "mg_m2": " mg/m²", "_1e8": " × 10⁸ cells"}


def _plain_rule(err: dict[str, Any]) -> str:
    """The pydantic error of one field, said in plain words."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of the plan input (check the spelling; see docs/protocol.md)"
    if kind in bounds:
        word, key = bounds[kind]
        b = ctx.get(key)
        shown = f"{b:g}" if isinstance(b, int | float) else str(b)
        loc = str(err["loc"][-1]) if err.get("loc") else ""
        unit = next((u for suffix, u in _UNITS.items() if loc.endswith(suffix)), "")
        return f"must be {word} {shown}{unit}"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        return "must be a whole number" if kind.startswith("int") else "must be a number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind in ("string_type", "string_too_short", "string_too_long"):
        return "must be text" if kind == "string_type" else "has the wrong length"
    if kind in ("enum", "literal_error"):
        return f"must be one of {ctx.get('expected', '')}".rstrip()
    if kind.startswith("date"):
        return "must be an ISO date (YYYY-MM-DD)"
    if kind.startswith("datetime"):
        return "must be an ISO date and time (YYYY-MM-DDTHH:MM)"
    if kind.startswith("time"):
        return "must be a time of day HH:MM (00:00–23:59)"
    if kind in ("list_type", "dict_type", "model_type", "model_attributes_type"):
        return "has the wrong shape (see docs/protocol.md for the plan input format)"
    msg = str(err.get("msg", "is not valid"))
    return msg[len("Value error, ") :] if msg.startswith("Value error, ") else msg


def _plain_error(exc: pydantic.ValidationError) -> ValidationError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "plan input"
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, ValidationError):
        field = f"{loc}.{ctx_error.field}" if err["loc"] else ctx_error.field
        return ValidationError(field, ctx_error.value, ctx_error.rule)
    value = None if err.get("type") == "missing" else err.get("input")
    return ValidationError(loc, value, _plain_rule(err))
