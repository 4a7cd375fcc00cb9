"""One-call planning: assessment, chosen regimen, doses, calendar, exposure, cells."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field

from mst.domain import CourseKind
from mst.errors import NotFoundError, ValidationError
from mst.protocol._data import rules
from mst.protocol.anthracycline import Exposure, course_anthracycline_mg_m2, cumulative_exposure
from mst.protocol.assessment import Assessment, assess, standard_dose
from mst.protocol.catalog import Phase, Regimen, catalog_version, get_regimen
from mst.protocol.cells import CollectionPlan, collection_plan
from mst.protocol.dosing import CourseDoses, DoseOptions, course_doses, normalise_inhibitors
from mst.protocol.inputs import PlanInput, read_plan_input
from mst.protocol.notes import Note
from mst.protocol.schedule import CourseCalendar, InfusionCheck, check_infusion, course_calendar


class ChosenRegimen(BaseModel):
    """The regimen the plan was computed for."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    source: str
    phase: str
    cycles_min: int
    cycles_max: int | None
    among_options: bool


class PlanResult(BaseModel):
    """Everything :func:`plan` computes."""

    model_config = ConfigDict(frozen=True)

    catalog_version: str
    assessment: Assessment
    regimen: ChosenRegimen | None
    course_kind: CourseKind | None
    course_number: int | None
    doses: CourseDoses | None
    calendar: CourseCalendar | None
    anthracycline: Exposure | None
    infusion_check: InfusionCheck | None
    collection: CollectionPlan | None
    notes: tuple[Note, ...]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def warnings(self) -> list[Note]:
        """Every warning or outside-consensus note of the plan and its parts."""
        parts: list[Note] = [*self.assessment.notes, *self.notes]
        for part in (self.doses, self.calendar, self.anthracycline, self.collection):
            if part is not None:
                parts.extend(part.notes)
        if self.infusion_check is not None:
            parts.append(self.infusion_check.note)
        return [n for n in parts if n.level in ("warning", "outside_consensus")]


def _course_end(regimen: Regimen, start: dt.date) -> dt.date:
    return start + dt.timedelta(days=regimen.length_days - 1)


def _start_checks(p: PlanInput, regimen: Regimen, kind: CourseKind, start: dt.date) -> list[Note]:
    notes: list[Note] = []
    if start < p.patient.diagnosis_date:
        raise ValidationError(
            "plan.start_date",
            start.isoformat(),
            f"is before the diagnosis date ({p.patient.diagnosis_date.isoformat()})",
        )
    if not p.courses:
        return notes
    last = p.courses[-1]
    last_r = get_regimen(last.regimen_id)
    last_end = _course_end(last_r, last.start_date)
    if start <= last_end:
        raise ValidationError(
            "plan.start_date",
            start.isoformat(),
            f"falls in a past course (course {len(p.courses)}, {last.regimen_id}, "
            f"{last.start_date.isoformat()} to {last_end.isoformat()})",
        )
    if kind is CourseKind.CONSOLIDATION:
        if last.kind is CourseKind.CONSOLIDATION:
            sp = last_r.spacing
            assert sp is not None
            lo = last.start_date + dt.timedelta(weeks=sp.weeks_min)
            hi = last.start_date + dt.timedelta(weeks=sp.weeks_max)
            rule_src, what = (
                sp.source,
                f"{sp.weeks_min}–{sp.weeks_max} weeks after the previous consolidation began",
            )
        else:
            fc = rules()["first_consolidation"]
            lo = last_end + dt.timedelta(weeks=fc["weeks_min"])
            hi = last_end + dt.timedelta(weeks=fc["weeks_max"])
            rule_src, what = (
                fc["source"],
                "about 4–6 weeks after induction ends (after count recovery)",
            )
        if start < lo:
            notes.append(
                Note(
                    level="warning",
                    code="course_early",
                    message=f"start {start.isoformat()} is before {lo.isoformat()}: {what}",
                    sources=(rule_src,),
                )
            )
        elif start > hi:
            notes.append(
                Note(
                    level="warning",
                    code="course_late",
                    message=f"start {start.isoformat()} is after {hi.isoformat()}: {what}",
                    sources=(rule_src,),
                )
            )
    return notes


def _exposure(p: PlanInput, regimen: Regimen, choices: dict[str, float], number: int) -> Exposure:
    items: list[tuple[str, str, float]] = [
        (a.label, a.drug, a.mg_m2) for a in p.assessment.prior_anthracyclines
    ]
    for i, c in enumerate(p.courses, 1):
        r = get_regimen(c.regimen_id)
        for drug, mg in course_anthracycline_mg_m2(r, c.dose_choices).items():
            items.append((f"course {i} ({r.id})", drug, mg))
    for drug, mg in course_anthracycline_mg_m2(regimen, choices).items():
        items.append((f"course {number} ({regimen.id}, planned)", drug, mg))
    return cumulative_exposure(
        items,
        factor_set=p.options.anthracycline_factor_set,
        cardiac_risk_factors=p.assessment.cardiac_risk_factors,
        thresholds=p.options.anthracycline_thresholds or None,
    )


def plan(
    data: dict[str, Any] | PlanInput,
    *,
    start: dt.date | None = None,
    regimen_id: str | None = None,
    dose_choices: dict[str, float] | None = None,
) -> PlanResult:
    """Assess a patient and plan the next MST course.

    Parameters
    ----------
    data : dict or PlanInput
        The plan input (PATIENT.json; see ``docs/protocol.md``).
    start : datetime.date, optional
        Day 1 of the course (overrides ``plan.start_date``).
    regimen_id : str, optional
        Regimen to plan (overrides ``plan.regimen_id``; default: the first
        option of the assessment that is a regimen).
    dose_choices : dict, optional
        Chosen unit doses for range items (merged over ``plan.dose_choices``).

    Returns
    -------
    PlanResult
        The assessment; and, when a course is due, the regimen, doses, calendar,
        cumulative anthracycline exposure, infusion check (if ``plan.infusion_at``)
        and collection plan (if ``collection``) — each with cited notes.

    Raises
    ------
    mst.errors.ValidationError
        Invalid input; unknown regimen; no start date; start before diagnosis or
        inside a past course; regimen phase not matching the course due; dose
        choice outside its range; missing height or weight.
    """
    p = read_plan_input(data)
    inhibitors = normalise_inhibitors(p.assessment.cyp3a_inhibitors, "assessment.cyp3a_inhibitors")
    a = assess(p)
    notes: list[Note] = []
    rid = regimen_id or p.plan.regimen_id
    if rid is None:
        rid = next((o.regimen_id for o in a.options if o.regimen_id is not None), None)
    collection = None
    if p.collection is not None:
        if p.patient.weight_kg is None:
            raise ValidationError("patient.weight_kg", None, "is required for the collection plan")
        collection = collection_plan(
            p.patient.weight_kg,
            mnc_total_1e8=p.collection.mnc_total_1e8,
            cd3_total_1e8=p.collection.cd3_total_1e8,
            courses=p.collection.courses,
        )
    due = a.phase in ("induction", "second_induction", "consolidation") and a.candidate
    if rid is None or not due:
        if regimen_id or p.plan.regimen_id:
            why = next(
                (
                    f"{n.message} ({'; '.join(n.sources)})"
                    for n in (*a.notes,)
                    if n.level == "outside_consensus" or n.code == "treatment_failure"
                ),
                None,
            )
            raise ValidationError(
                "plan.regimen_id",
                rid,
                f"no MST course is due (phase: {a.phase})" + (f": {why}" if why else ""),
            )
        return PlanResult(
            catalog_version=catalog_version(),
            assessment=a,
            regimen=None,
            course_kind=None,
            course_number=None,
            doses=None,
            calendar=None,
            anthracycline=None,
            infusion_check=None,
            collection=collection,
            notes=tuple(notes),
        )
    try:
        regimen = get_regimen(rid)
    except NotFoundError as exc:
        raise ValidationError("plan.regimen_id", rid, str(exc)) from None
    if a.phase == "consolidation":
        kind = CourseKind.CONSOLIDATION
    elif a.phase == "second_induction":
        kind = CourseKind.REINDUCTION
    else:
        kind = CourseKind.INDUCTION
    wants_induction = kind is not CourseKind.CONSOLIDATION
    if wants_induction != (regimen.phase is Phase.INDUCTION):
        raise ValidationError(
            "plan.regimen_id",
            rid,
            f"is a {regimen.phase.value} regimen but the course due is {kind.value}",
        )
    if a.age_band == ">=75" and standard_dose(regimen):
        notes.append(
            Note(
                level="warning",
                code="standard_dose_age_75",
                message=(
                    f"{regimen.id} is a standard-dose regimen (for fit patients under 75); at "
                    f"{a.age} the consensus advises MST with adjusted (reduced) doses"
                ),
                sources=("004 §3", regimen.source),
            )
        )
    among = any(o.regimen_id == rid for o in a.options)
    if not among:
        notes.append(
            Note(
                level="outside_consensus",
                code="regimen_not_recommended",
                message=f"{rid} is not among the options for this patient",
                sources=(regimen.source, "004 §4"),
            )
        )
    day1 = start or p.plan.start_date
    if day1 is None:
        raise ValidationError(
            "plan.start_date", None, "is required: pass --start or set plan.start_date"
        )
    number = len(p.courses) + 1
    notes.extend(_start_checks(p, regimen, kind, day1))
    file_choices = dict(p.plan.dose_choices)
    if regimen_id is not None and regimen_id != p.plan.regimen_id:
        dropped = sorted(set(file_choices) - set(regimen.drugs))
        if dropped:
            notes.append(
                Note(
                    level="info",
                    code="dose_choices_ignored",
                    message=(
                        f"dose choices for {', '.join(dropped)} in the input were for another "
                        f"regimen than {regimen.id} and were ignored"
                    ),
                    sources=(regimen.source,),
                )
            )
        file_choices = {k: v for k, v in file_choices.items() if k not in dropped}
    choices = {**file_choices, **(dose_choices or {})}
    o = p.options
    if p.patient.height_cm is None:
        raise ValidationError(
            "patient.height_cm", None, "is required to compute the body-surface area"
        )
    if p.patient.weight_kg is None:
        raise ValidationError("patient.weight_kg", None, "is required to compute the doses")
    doses = course_doses(
        regimen,
        p.patient.height_cm,
        p.patient.weight_kg,
        dose_choices=choices,
        cyp3a_inhibitors=inhibitors,
        options=DoseOptions(
            bsa_method=o.bsa_method,
            bsa_cap_m2=o.bsa_cap_m2,
            bsa_decimals=o.bsa_decimals,
            rounding_step=o.rounding_step,
            rounding_mode=o.rounding_mode,
        ),
    )
    cal = course_calendar(
        regimen,
        day1,
        kind=kind,
        course_number=number,
        doses=doses,
        last_dose_time=p.plan.last_dose_time,
    )
    consolidations_done = sum(c.kind is CourseKind.CONSOLIDATION for c in p.courses)
    if (
        kind is CourseKind.CONSOLIDATION
        and regimen.cycles.max is not None
        and consolidations_done + 1 > regimen.cycles.max
    ):
        notes.append(
            Note(
                level="warning",
                code="cycles_exceeded",
                message=(
                    f"course {consolidations_done + 1} exceeds the "
                    f"{regimen.cycles.max} cycles given"
                ),
                sources=(regimen.source,),
            )
        )
    check = (
        check_infusion(cal.infusion.last_dose_at, p.plan.infusion_at)
        if p.plan.infusion_at
        else None
    )
    if check is not None and cal.infusion.last_dose_time_assumed:
        m = cal.infusion.if_midnight_end
        assert m is not None
        alt = (
            check_infusion(m.last_dose_at, p.plan.infusion_at)
            if p.plan.infusion_at > (m.last_dose_at)
            else None
        )
        note = check.note.model_copy(
            update={
                "message": check.note.message
                + " — counted from an ASSUMED 12:00 last dose"
                + (
                    f"; from a 24-h infusion ending at midnight it would be "
                    f"{alt.hours_after_last_dose:g} h ({alt.status})"
                    if alt is not None
                    else "; before the end of a 24-h infusion ending at midnight"
                )
            }
        )
        check = check.model_copy(update={"note": note})
    return PlanResult(
        catalog_version=catalog_version(),
        assessment=a,
        regimen=ChosenRegimen(
            id=regimen.id,
            name=regimen.name,
            source=regimen.source,
            phase=regimen.phase.value,
            cycles_min=regimen.cycles.min,
            cycles_max=regimen.cycles.max,
            among_options=among,
        ),
        course_kind=kind,
        course_number=number,
        doses=doses,
        calendar=cal,
        anthracycline=_exposure(p, regimen, choices, number),
        infusion_check=check,
        collection=collection,
        notes=tuple(notes),
    )
