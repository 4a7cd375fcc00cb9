"""View-model services of the web app: everything a page needs, computed from the
repository and the domain modules. Route handlers call these; no SQL here either."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from mst.domain import (
    AntibodyResult,
    ClinicalEvent,
    Course,
    Donor,
    Infusion,
    LabResult,
    Patient,
    PatientRecord,
    ResponseAssessment,
    parse,
)
from mst.errors import ConsistencyError, NotFoundError, ValidationError
from mst.monitoring.alerts import Alert, evaluate
from mst.monitoring.recovery import CourseRecovery, record_recovery
from mst.registry.repository import AuditEntry, Repository
from mst.registry.users import User
from mst.web.charts import Marker, Series, time_chart

PATIENT_FIELDS = tuple(Patient.model_fields)


@dataclass
class FormResult:
    """Outcome of a submitted form: the saved object or field errors."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    general: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return not self.errors and self.general is None


def _field_name(exc: ValidationError) -> str:
    return exc.field.rsplit(".", 1)[-1].split(": ")[-1]


def _clean(values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: v.strip() for k in fields if isinstance(v := values.get(k), str) and v.strip()}


def save_patient(
    repo: Repository, user: User, values: dict[str, str], existing_id: str | None
) -> FormResult:
    """Validate a patient form and write it (new patient, or edit of ``existing_id``).

    Center-bound users can only create patients in their own center.
    """
    result = FormResult(values=dict(values))
    data = _clean(values, PATIENT_FIELDS)
    if user.role.center_bound:
        data["center_id"] = user.center_id or ""
    if existing_id is not None:
        data["id"] = existing_id
    try:
        patient = parse(Patient, data)
    except ValidationError as exc:
        result.errors[_field_name(exc)] = f"{exc.rule} (got {exc.value!r})"
        return result
    try:
        if existing_id is None:
            if patient.id in repo.patient_ids():
                result.errors["id"] = "a patient with this id already exists"
                return result
            repo.save_record(PatientRecord(patient=patient))
        else:
            record = repo.get_record(existing_id)
            repo.save_record(record.model_copy(update={"patient": patient}))
    except ConsistencyError as exc:
        result.general = str(exc)
    return result


CHILD_FORMS: dict[str, tuple[type[Any], str, tuple[str, ...]]] = {
    "lab": (LabResult, "labs", ("date", "analyte", "value", "unit", "donor_id")),
    "event": (ClinicalEvent, "events", ("date", "kind", "grade", "cause", "detail")),
    "response": (ResponseAssessment, "responses", ("date", "category")),
    "course": (Course, "courses", ("number", "kind", "regimen_id", "start_date")),
    "donor": (Donor, "donors", ("id", "relationship", "sex", "age", "hla_typing", "kir_genotype")),
    "antibody": (AntibodyResult, "antibodies", ("date", "specificity", "mfi")),
    "infusion": (
        Infusion,
        "infusions",
        (
            "course_number",
            "donor_id",
            "infused_at",
            "mnc_1e8_per_kg",
            "cd34_1e6_per_kg",
            "cd3_1e8_per_kg",
            "product",
        ),
    ),
}


def add_child(repo: Repository, patient_id: str, kind: str, values: dict[str, str]) -> FormResult:
    """Validate and add one record of ``kind`` (lab, event, response, course, infusion).

    The whole patient record is re-checked (cross-record rules) before it is saved.
    """
    model, attr, fields = CHILD_FORMS[kind]
    result = FormResult(values=dict(values))
    data = {**_clean(values, fields), "patient_id": patient_id}
    record = repo.get_record(patient_id)
    try:
        item = parse(model, data)
        if isinstance(item, Donor) and item.hla_typing:
            _check_typing(item.hla_typing)
        repo.save_record(record.model_copy(update={attr: (*getattr(record, attr), item)}))
    except ValidationError as exc:
        result.errors[_field_name(exc)] = f"{exc.rule} (got {exc.value!r})"
    except ConsistencyError as exc:
        result.general = exc.rule
    return result


@dataclass(frozen=True)
class TimelineItem:
    """One dated line of the patient timeline."""

    date: dt.date
    kind: str
    text: str


def timeline(record: PatientRecord) -> list[TimelineItem]:
    """Diagnosis, courses, infusions, responses and events in date order."""
    p = record.patient
    items = [TimelineItem(p.diagnosis_date, "diagnosis", f"Diagnosis: {p.diagnosis.value}")]
    for c in record.courses:
        items.append(
            TimelineItem(
                c.start_date, "course", f"Course {c.number} ({c.kind.value}, {c.regimen_id}) starts"
            )
        )
    for inf in record.infusions:
        items.append(
            TimelineItem(
                inf.infused_at.date(),
                "infusion",
                f"GPBSC infusion (course {inf.course_number}, donor {inf.donor_id}, "
                f"{inf.product.value}): "
                f"MNC {inf.mnc_1e8_per_kg:g} × 10⁸/kg"
                + (
                    f", CD3⁺ {inf.cd3_1e8_per_kg:g} × 10⁸/kg"
                    if inf.cd3_1e8_per_kg is not None
                    else ""
                ),
            )
        )
    for r in record.responses:
        items.append(TimelineItem(r.date, "response", f"Response: {r.category.value}"))
    for e in record.events:
        text = e.kind.value.replace("_", " ").capitalize()
        if e.grade is not None:
            text += f" grade {e.grade}"
        if e.cause is not None:
            text += f" (cause: {e.cause.value.replace('_', ' ')})"
        items.append(TimelineItem(e.date, "event", text))
    order = {"diagnosis": 0, "course": 1, "infusion": 2, "response": 3, "event": 4}
    return sorted(items, key=lambda i: (i.date, order[i.kind]))


#: Fields a pseudonymized role (analyst) never sees, in records and in the audit trail.
HIDDEN_FROM_PSEUDONYMIZED = frozenset({"birth_date"})


def _scoped(data: dict[str, Any] | None, user: User) -> dict[str, Any] | None:
    if data is None or not user.role.pseudonymized:
        return data
    return {k: v for k, v in data.items() if k not in HIDDEN_FROM_PSEUDONYMIZED}


def patient_view(record: PatientRecord, user: User) -> dict[str, Any]:
    """Patient dictionary for display; analysts do not see the birth date."""
    data = _scoped(record.patient.model_dump(mode="json"), user)
    assert data is not None
    return data


def audit_entries(repo: Repository, patient_id: str, user: User) -> list[AuditEntry]:
    """The patient's audit trail with the same field-level scope as the record.

    Analysts see every change but never a birth date, also not in the before/after content.
    Raises :class:`~mst.errors.NotFoundError` for patients outside the user's scope.
    """
    repo.record_version(patient_id)  # 404 for unknown or invisible patients
    return [
        dataclasses.replace(e, before=_scoped(e.before, user), after=_scoped(e.after, user))
        for e in repo.audit_log(patient_id=patient_id)
    ]


def _lab_series(
    record: PatientRecord, analyte: str, start: dt.date, end: dt.date
) -> list[tuple[dt.date, float]]:
    return [
        (lab.date, lab.value)
        for lab in record.labs
        if lab.analyte == analyte and start <= lab.date <= end
    ]


def patient_page_content(record: PatientRecord) -> dict[str, Any]:
    """What the patient page derives from the record (cached per record version)."""
    recovery = record_recovery(record)
    return {
        "timeline": timeline(record),
        "count_charts": count_charts(record, recovery),
        "recovery": recovery_rows(record, recovery),
        "alerts": patient_alerts(record),
        "chimerism_svg": chimerism_chart(record),
    }


def recovery_rows(
    record: PatientRecord, recovery: dict[int, CourseRecovery] | None = None
) -> list[dict[str, Any]]:
    """Per-course count recovery by the 3-consecutive-days rule (002 Study endpoints).

    ``recovery`` is :func:`mst.monitoring.recovery.record_recovery` of the record, when the
    caller has it already.
    """
    rows = []
    recovery = record_recovery(record) if recovery is None else recovery
    for number, rec in sorted(recovery.items()):
        if rec.aplasia_start is None:
            note = "no aplasia window (3 days ANC < 2 and PLT < 100) recorded"
        elif rec.recovery_date is None:
            note = "not yet recovered"
        else:
            note = f"from chemotherapy start: {rec.recovery_days_from_chemo_start} days"
        if rec.gaps:
            note += f"; {len(rec.gaps)} gap(s) in daily counts"
        rows.append(
            {
                "course": number,
                "start": rec.aplasia_start,
                "end": rec.recovery_date,
                "days": rec.recovery_days_from_aplasia,
                "note": note,
                "source": rec.source,
            }
        )
    return rows


def patient_alerts(record: PatientRecord) -> list[Alert]:
    """Monitoring alerts of the record (004 §2.3, 002), newest first."""
    return sorted(evaluate(record), key=lambda a: a.date, reverse=True)


def count_charts(
    record: PatientRecord, recovery: dict[int, CourseRecovery] | None = None
) -> list[dict[str, Any]]:
    """One blood-count chart (ANC and platelets, log scale) per course, recovery day marked."""
    recovery = record_recovery(record) if recovery is None else recovery
    charts = []
    courses = sorted(record.courses, key=lambda c: c.number)
    for i, c in enumerate(courses):
        end = (
            courses[i + 1].start_date - dt.timedelta(days=1)
            if i + 1 < len(courses)
            else dt.date.max
        )
        anc = _lab_series(record, "anc", c.start_date, end)
        plt = _lab_series(record, "platelets", c.start_date, end)
        if not anc and not plt:
            continue
        markers = [Marker(c.last_chemo_date, "last chemo", "#999")]
        markers += [
            Marker(inf.infused_at.date(), "GPBSC", "#2a7")
            for inf in record.infusions
            if inf.course_number == c.number
        ]
        rec = recovery.get(c.number)
        if rec is not None and rec.recovery_date is not None:
            markers.append(Marker(rec.recovery_date, "recovery", "#1f5fbf"))
        charts.append(
            {
                "course": c,
                "svg": time_chart(
                    [Series("ANC", "#1f5fbf", anc), Series("Platelets", "#c0392b", plt)],
                    title=f"Course {c.number}: blood counts",
                    unit="×10⁹/L",
                    markers=markers,
                    thresholds=[(0.5, "ANC 0.5"), (30.0, "PLT 30")],
                    log=True,
                ),
            }
        )
    return charts


def chimerism_chart(record: PatientRecord) -> str | None:
    """Donor chimerism over time, with infusion markers (None without results)."""
    pts = [(lab.date, lab.value) for lab in record.labs if lab.analyte == "donor_chimerism"]
    if not pts:
        return None
    markers = [
        Marker(inf.infused_at.date(), f"C{inf.course_number}", "#2a7") for inf in record.infusions
    ]
    return time_chart(
        [Series("donor %", "#8e44ad", pts)],
        title="Donor chimerism",
        unit="%",
        markers=markers,
        thresholds=[(1.0, "1 %")],
    )


PLAN_FIELDS = ("start", "regimen", "eln_lesions", "cyp3a_inhibitors", "allo_eligible")
PLAN_FLAGS = ("apl", "uninterrupted_immunosuppression", "cardiac_risk_factors")


def plan_input(record: PatientRecord, values: dict[str, str]) -> dict[str, Any]:
    """The protocol engine's plan input built from a registry record and the plan form.

    Prior courses are taken from the record, each with the first response assessed
    after its start and before the next course (004 §4.3: the two-induction rule).
    """
    courses = sorted(record.courses, key=lambda c: c.number)
    prior = []
    for i, c in enumerate(courses):
        nxt = courses[i + 1].start_date if i + 1 < len(courses) else dt.date.max
        resp = next(
            (
                r
                for r in sorted(record.responses, key=lambda r: r.date)
                if c.start_date <= r.date < nxt
            ),
            None,
        )
        prior.append(
            {
                "kind": c.kind.value,
                "regimen_id": c.regimen_id,
                "start_date": c.start_date,
                "response": resp.category.value if resp else None,
            }
        )

    def items(name: str) -> list[str]:
        return [x.strip() for x in values.get(name, "").split(",") if x.strip()]

    allo = values.get("allo_eligible", "")
    return {
        "patient": record.patient.model_dump(),
        "assessment": {
            **{flag: values.get(flag) == "on" for flag in PLAN_FLAGS},
            "eln_lesions": items("eln_lesions") or None,
            "cyp3a_inhibitors": items("cyp3a_inhibitors"),
            "allo_hsct": {"eligible": {"yes": True, "no": False}.get(allo)},
        },
        "courses": prior,
        "plan": {
            "regimen_id": values.get("regimen") or None,
            "start_date": values.get("start") or None,
        },
    }


def make_plan(record: PatientRecord, values: dict[str, str]) -> tuple[Any | None, str | None]:
    """Run the protocol engine; returns (plan result, error message)."""
    from mst.protocol import plan

    try:
        return plan(plan_input(record, values)), None
    except (ValidationError, ConsistencyError) as exc:
        return None, str(exc)
    except NotFoundError as exc:
        return None, str(exc)


def donor_case(record: PatientRecord) -> dict[str, Any]:
    """The donor-selection case of a patient (004 §2.1): typing, antibodies, candidates."""
    p = record.patient
    return {
        "patient": {
            "id": p.id,
            "sex": p.sex.value,
            "hla_typing": p.hla_typing,
            "antibodies": [{"specificity": a.specificity, "mfi": a.mfi} for a in record.antibodies],
        },
        "donors": [
            {
                k: v
                for k, v in d.model_dump(mode="json").items()
                if k != "patient_id" and v is not None
            }
            for d in record.donors
        ],
    }


def donor_ranking(record: PatientRecord) -> tuple[dict[str, Any] | None, str | None]:
    """Ranked donors with reasons, or why no ranking can be made yet."""
    from mst.donors.case import load_case
    from mst.donors.ranking import rank_case

    if not record.patient.hla_typing:
        return None, "Enter the patient's HLA typing (Edit) to rank the donors."
    if not record.donors:
        return None, "No candidate donors recorded yet."
    try:
        return rank_case(load_case(donor_case(record))).to_dict(detail=False), None
    except ValidationError as exc:
        return None, str(exc)


def _check_typing(typing: str) -> None:
    """Reject a typing the HLA parser cannot read (names checked against IPD-IMGT/HLA)."""
    from mst.donors.nomenclature import parse_gl

    try:
        parse_gl(typing)
    except ValidationError as exc:
        raise ValidationError("hla_typing", exc.value, exc.rule) from None
