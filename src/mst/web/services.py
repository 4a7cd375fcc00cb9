"""View-model services of the web app: everything a page needs, computed from the
repository and the domain modules. Route handlers call these; no SQL here either."""

from __future__ import annotations

import dataclasses
import datetime as dt
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import pydantic

from mst.domain import (
    AntibodyResult,
    ClinicalEvent,
    Course,
    Donor,
    EventKind,
    Infusion,
    LabResult,
    Patient,
    PatientRecord,
    ResponseAssessment,
)
from mst.domain.analytes import analyte_table
from mst.errors import ConsistencyError, NotFoundError, ValidationError, plain
from mst.monitoring.alerts import Alert, evaluate
from mst.monitoring.recovery import CourseRecovery, record_recovery
from mst.registry.repository import AuditEntry, DeletedRecord, Repository
from mst.registry.users import User
from mst.web.charts import Marker, Series, time_chart

PATIENT_FIELDS = tuple(Patient.model_fields)
LIST_STATUSES = ("alive", "dead")


#: Rows per page of the patient list page.
PAGE_SIZE = 200


#: Rows per page of a JSON list when ``limit`` is not given, and the most a client may ask.
API_DEFAULT_LIMIT = 100
API_MAX_LIMIT = 500


@dataclass(frozen=True)
class PageRequest:
    """A validated page of a JSON list: ``limit`` rows after skipping ``offset``."""

    limit: int
    offset: int

    @classmethod
    def parse(cls, limit: str | None, offset: str | None) -> PageRequest:
        """Check the ``limit`` and ``offset`` query parameters (absent: first page).

        Raises
        ------
        mst.errors.ValidationError
            A value that is not a whole number, a ``limit`` outside 1 to
            :data:`API_MAX_LIMIT`, or a negative ``offset`` (answered 422).
        """

        def whole(name: str, value: str | None, default: int, rule: str) -> int:
            text = (value or "").strip()
            if not text:
                return default
            if not (text.isascii() and text.isdecimal()) or len(text) > 12:
                raise ValidationError(name, value, f"must be a whole number {rule}")
            return int(text)

        span = f"from 1 to {API_MAX_LIMIT}"
        n = whole("limit", limit, API_DEFAULT_LIMIT, span)
        if not 1 <= n <= API_MAX_LIMIT:
            raise ValidationError("limit", limit, f"must be {span}")
        return cls(limit=n, offset=whole("offset", offset, 0, "(0, 1, 2, …)"))

    def envelope(
        self, items: list[Any], total: int, path: str, params: dict[str, str]
    ) -> dict[str, Any]:
        """The JSON answer of a page: items, total, and links to the next and previous page.

        ``params`` are the request's other query parameters, repeated in the links.
        """

        def link(offset: int) -> str:
            query = {k: v for k, v in params.items() if v and k not in ("limit", "offset")}
            query.update(limit=str(self.limit), offset=str(offset))
            return f"{path}?{urllib.parse.urlencode(query)}"

        after = self.offset + self.limit
        return {
            "total": total,
            "limit": self.limit,
            "offset": self.offset,
            "next": link(after) if after < total else None,
            "previous": link(max(0, self.offset - self.limit)) if self.offset > 0 else None,
            "items": items,
        }


def patient_page(
    repo: Repository,
    page: PageRequest,
    q: str = "",
    center: str = "",
    diagnosis: str = "",
    status: str = "",
) -> tuple[list[Any], int]:
    """One page of the patient list (filters checked as :func:`patient_rows`) and its total."""
    check_list_filters(repo, center, diagnosis, status)
    return repo.patient_summary_page(
        page.limit, page.offset, q or None, center or None, diagnosis or None, status or None
    )


def check_list_filters(repo: Repository, center: str, diagnosis: str, status: str) -> None:
    """Refuse an unknown diagnosis, vital status or (visible) center of the patient list."""
    from mst.domain import Diagnosis

    if diagnosis and diagnosis not in {d.value for d in Diagnosis}:
        raise ValidationError(
            "diagnosis", diagnosis, f"must be one of {[d.value for d in Diagnosis]}"
        )
    if status and status not in LIST_STATUSES:
        raise ValidationError("status", status, "must be alive or dead")
    if center and center not in {c.id for c in repo.centers()}:
        raise ValidationError("center", center, "is not one of the centers you can see")


def patient_rows(
    repo: Repository,
    q: str = "",
    center: str = "",
    diagnosis: str = "",
    status: str = "",
    page: int | None = None,
) -> list[Any]:
    """The patient list with its filters checked: an unknown value is refused (422).

    With ``page`` (1-based), one page of :data:`PAGE_SIZE` rows plus one more (so the caller
    knows whether a next page exists) — still one query.
    """
    check_list_filters(repo, center, diagnosis, status)
    if page is None:
        return repo.patient_summaries(q or None, center or None, diagnosis or None, status or None)
    return repo.patient_summaries(
        q or None,
        center or None,
        diagnosis or None,
        status or None,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )


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


def _field_name(field: str) -> str:
    return field.rsplit(".", 1)[-1].split(": ")[-1]


def _clean(values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: v.strip() for k in fields if isinstance(v := values.get(k), str) and v.strip()}


def _plain_error(err: Any) -> tuple[str, str]:
    """One pydantic error as (field, rule in plain words) — no pydantic phrasing."""
    loc = [str(x) for x in err.get("loc", ()) if not isinstance(x, int)]
    field = loc[0] if loc else ""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, ValidationError):
        return field or _field_name(inner.field), inner.rule
    bound = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bound:
        words, key = bound[kind]
        return field, f"must be {words} {plain(ctx.get(key))}"
    if kind == "missing":
        return field, "is required"
    if kind in ("enum", "literal_error"):
        return field, f"must be one of {ctx.get('expected', 'the listed choices')}"
    if kind.startswith("datetime"):
        return field, "must be a date and time (YYYY-MM-DDTHH:MM)"
    if kind.startswith("date"):
        return field, "must be a date (YYYY-MM-DD)"
    if kind.startswith("int"):
        return field, "must be a whole number"
    if kind.startswith("float") or kind.startswith("decimal"):
        return field, "must be a number"
    if kind == "string_too_long":
        return field, f"must have at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return field, "must not be empty"
    if kind == "string_pattern_mismatch":
        return field, "contains characters that are not allowed"
    if kind == "extra_forbidden":
        return field, "is not a field of this form"
    msg = str(err.get("msg", "is not valid"))
    return field, msg[len("Value error, ") :] if msg.startswith("Value error, ") else msg


def parse_all(model: type[Any], data: dict[str, Any]) -> tuple[Any | None, dict[str, str]]:
    """Validate ``data`` as ``model`` and report every invalid field, not only the first.

    A rejected field is set aside and the rest validated again, so that a rule checked
    before the others (e.g. a lab's unit) does not hide further mistakes.

    Returns
    -------
    (item, errors)
        The validated item (``None`` if anything was rejected) and plain messages by field.
    """
    errors: dict[str, str] = {}
    work = dict(data)
    for _ in range(len(data) + 2):
        try:
            item = model.model_validate(work)
        except ValidationError as exc:
            found = [(_field_name(exc.field), exc.rule)]
        except pydantic.ValidationError as exc:
            found = [_plain_error(e) for e in exc.errors()]
        else:
            return (None if errors else item), errors
        new = [(f, m) for f, m in found if f not in errors]
        for f, m in new:
            errors[f or "general"] = m
            work.pop(f, None)
        if not new or all(f not in data for f, _ in new):
            break
    return None, errors


def _server_checks(kind: str, data: dict[str, Any], errors: dict[str, str]) -> None:
    """Rules the form cannot enforce: regimens from the catalog, HLA typing that parses."""
    if kind == "course" and data.get("regimen_id") and "regimen_id" not in errors:
        from mst.protocol.catalog import load_catalog

        if data["regimen_id"] not in load_catalog():
            errors["regimen_id"] = "is not a regimen of the catalog"
    if data.get("hla_typing") and "hla_typing" not in errors:
        try:
            _check_typing(str(data["hla_typing"]))
        except ValidationError as exc:
            errors["hla_typing"] = exc.rule


def save_patient(
    repo: Repository, user: User, values: dict[str, str], existing_id: str | None
) -> FormResult:
    """Validate a patient form and write it (new patient, or edit of ``existing_id``).

    Every invalid field is reported at once. Center-bound users can only create patients
    in their own center.
    """
    result = FormResult(values=dict(values))
    data = _clean(values, PATIENT_FIELDS)
    if user.role.center_bound:
        data["center_id"] = user.center_id or ""
    if existing_id is not None:
        data["id"] = existing_id
    patient, result.errors = parse_all(Patient, data)
    _server_checks("patient", data, result.errors)
    new_id = data.get("id") if existing_id is None and "id" not in result.errors else None
    if new_id and repo.patient_id_taken(new_id):
        result.errors["id"] = "this id is already in use; patient ids are unique in the registry"
    if result.errors or patient is None:
        return result
    try:
        if existing_id is None:
            repo.save_record(PatientRecord(patient=patient))
        else:
            record = repo.get_record(existing_id)
            repo.save_record(record.model_copy(update={"patient": patient}))
    except ConsistencyError as exc:
        result.general = exc.rule
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


def _child_data(kind: str, values: dict[str, str], base: dict[str, Any]) -> dict[str, Any]:
    """Form values over ``base`` (the stored item when correcting); blank fields are unset."""
    _model, _attr, fields = CHILD_FORMS[kind]
    data = dict(base)
    for f in fields:
        if kind == "donor" and f == "id":
            continue  # donor ids are assigned by the server
        v = values.get(f)
        v = v.strip() if isinstance(v, str) else ""
        if v:
            data[f] = v
        else:
            data.pop(f, None)
    if kind == "lab" and data.get("analyte") and "unit" not in data:
        table = analyte_table()
        if data["analyte"] in table:  # unit left blank: the analyte's canonical unit
            data["unit"] = table[data["analyte"]].unit
    return data


def next_donor_id(repo: Repository, record: PatientRecord) -> str:
    """A new donor id for the patient: ``<patient id>-D<n>``, unique in the whole registry.

    Donor ids are assigned, never typed, so that one center cannot collide with (or probe
    for) another center's donor ids.
    """
    taken = set(repo.donor_ids_with_prefix(f"{record.patient.id}-D"))
    taken |= {d.id for d in record.donors}
    n = 1
    while f"{record.patient.id}-D{n}" in taken:
        n += 1
    return f"{record.patient.id}-D{n}"


def add_child(repo: Repository, patient_id: str, kind: str, values: dict[str, str]) -> FormResult:
    """Validate and add one record of ``kind`` (lab, event, response, course, infusion, donor,
    antibody), reporting every invalid field at once.

    The whole patient record is re-checked (cross-record rules) before it is saved.
    """
    model, attr, _fields = CHILD_FORMS[kind]
    result = FormResult(values=dict(values))
    record = repo.get_record(patient_id)
    data = _child_data(kind, values, {"patient_id": patient_id})
    if kind == "donor":
        data["id"] = next_donor_id(repo, record)
    item, result.errors = parse_all(model, data)
    _server_checks(kind, data, result.errors)
    if result.errors or item is None:
        return result
    try:
        repo.save_record(record.model_copy(update={attr: (*getattr(record, attr), item)}))
    except ConsistencyError as exc:
        result.general = exc.rule
    return result


def correct_child(
    repo: Repository,
    patient_id: str,
    kind: str,
    index: int,
    values: dict[str, str],
    delete: bool,
) -> FormResult:
    """Correct (or soft-delete) one child record, with the required reason (audited).

    ``values`` holds the form: the corrected fields, ``reason`` and ``version`` (the record
    version the form was built from; a record changed since is refused).
    """
    model, attr, _fields = CHILD_FORMS[kind]
    result = FormResult(values=dict(values))
    record = repo.get_record(patient_id)
    items = getattr(record, attr)
    if not 0 <= index < len(items):
        raise NotFoundError(f"{kind} {index + 1} of patient {patient_id} not found")
    old = items[index]
    reason = (values.get("reason") or "").strip()
    if not reason:
        result.errors["reason"] = "a reason for the change is required"
    version_text = (values.get("version") or "").strip()
    version = int(version_text) if version_text.isascii() and version_text.isdecimal() else -1
    if delete:
        new_items = items[:index] + items[index + 1 :]
        deleted = [(kind, describe_child(kind, old), old.model_dump(mode="json"))]
    else:
        base = old.model_dump(mode="json")
        if kind == "course":
            base.pop("administrations", None)
        data = _child_data(kind, values, base)
        if kind == "course":
            data["administrations"] = old.model_dump(mode="json")["administrations"]
        item, errors = parse_all(model, data)
        result.errors.update(errors)
        _server_checks(kind, data, result.errors)
        new_items = items[:index] + (item,) + items[index + 1 :]
        deleted = []
    if result.errors:
        return result
    try:
        repo.correct_record(
            record.model_copy(update={attr: new_items}), reason, version, deleted=deleted
        )
    except ConsistencyError as exc:
        result.general = exc.rule
    return result


def describe_child(kind: str, item: Any) -> str:
    """A short human description of one child record (lists, audit of deletions)."""
    if kind == "lab":
        return f"{item.date} {item.analyte} {item.value:g} {item.unit}"
    if kind == "event":
        return f"{item.date} {item.kind.value}" + (f" grade {item.grade}" if item.grade else "")
    if kind == "response":
        return f"{item.date} {item.category.value}"
    if kind == "course":
        return f"course {item.number} ({item.kind.value}, {item.regimen_id}) from {item.start_date}"
    if kind == "infusion":
        return f"infusion {item.infused_at:%Y-%m-%d %H:%M}, course {item.course_number}"
    if kind == "donor":
        return f"donor {item.id} ({item.relationship.value}, {item.sex.value}, {item.age} y)"
    if kind == "antibody":
        return f"{item.date} {item.specificity} {item.mfi:g} MFI"
    return kind


def child_form_values(kind: str, item: Any) -> dict[str, str]:
    """The stored values of a child record as form values."""
    _model, _attr, fields = CHILD_FORMS[kind]
    data = item.model_dump(mode="json")
    out = {f: "" if data.get(f) is None else str(data[f]) for f in fields}
    if kind == "infusion" and out.get("infused_at"):
        out["infused_at"] = out["infused_at"][:16]
    return out


@dataclass(frozen=True)
class LabFilter:
    """Filter of the patient page's lab table: analyte and date range (all optional)."""

    analyte: str = ""
    start: dt.date | None = None
    end: dt.date | None = None

    @classmethod
    def parse(cls, analyte: str, start: str, end: str) -> LabFilter:
        """Checked filter values (an unknown analyte or malformed date is refused)."""
        analyte = analyte.strip()
        if analyte and analyte not in analyte_table():
            raise ValidationError("lab_analyte", analyte, "is not a known analyte")

        def day(name: str, v: str) -> dt.date | None:
            v = v.strip()
            if not v:
                return None
            try:
                return dt.date.fromisoformat(v)
            except ValueError:
                raise ValidationError(name, v, "must be a date (YYYY-MM-DD)") from None

        return cls(analyte, day("lab_from", start), day("lab_to", end))


def lab_rows(record: PatientRecord, f: LabFilter) -> list[tuple[int, LabResult]]:
    """(1-based position in the record, lab) of the labs passing the filter, by date."""
    rows = [
        (i, lab)
        for i, lab in enumerate(record.labs, 1)
        if (not f.analyte or lab.analyte == f.analyte)
        and (f.start is None or lab.date >= f.start)
        and (f.end is None or lab.date <= f.end)
    ]
    return sorted(rows, key=lambda r: (r[1].date, r[1].analyte))


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


def deleted_entries(repo: Repository, patient_id: str, user: User) -> list[DeletedRecord]:
    """Soft-deleted records of the patient, with the record's field-level scope."""
    return [
        dataclasses.replace(d, content=_scoped(d.content, user) or {})
        for d in repo.deleted_records(patient_id)
    ]


def patient_view(record: PatientRecord, user: User) -> dict[str, Any]:
    """Patient dictionary for display; analysts do not see the birth date."""
    data = _scoped(record.patient.model_dump(mode="json"), user)
    assert data is not None
    return data


#: What a patient's audit trail records: the record's entity types and the actions on them.
AUDIT_ENTITIES = ("patient", "donor", "antibody", "course", "infusion", "lab", "event")
AUDIT_ENTITIES += ("response", "alert")
AUDIT_ACTIONS = ("insert", "update", "delete", "ack")


@dataclass(frozen=True)
class AuditFilter:
    """The filters of a patient's audit trail (blank: every entry)."""

    entity: str = ""
    action: str = ""

    @classmethod
    def parse(cls, entity: str | None, action: str | None) -> AuditFilter:
        """Check the ``entity`` and ``action`` query parameters.

        Raises
        ------
        mst.errors.ValidationError
            A value that is not one of :data:`AUDIT_ENTITIES` / :data:`AUDIT_ACTIONS` (422).
        """
        entity, action = (entity or "").strip(), (action or "").strip()
        if entity and entity not in AUDIT_ENTITIES:
            raise ValidationError("entity", entity, f"must be one of {list(AUDIT_ENTITIES)}")
        if action and action not in AUDIT_ACTIONS:
            raise ValidationError("action", action, f"must be one of {list(AUDIT_ACTIONS)}")
        return cls(entity, action)

    def params(self) -> dict[str, str]:
        """The filters as query parameters (repeated in page links)."""
        return {"entity": self.entity, "action": self.action}


def audit_page(
    repo: Repository,
    patient_id: str,
    user: User,
    page: PageRequest,
    where: AuditFilter | None = None,
) -> tuple[list[AuditEntry], int]:
    """One page of the patient's audit trail (oldest first) with the record's field scope,
    and the number of entries passing the filters (one query).

    The caller has checked the patient's visibility (``repo.record_version``).
    """
    where = where or AuditFilter()
    entries, total = repo.audit_page(
        patient_id, page.limit, page.offset, where.entity or None, where.action or None
    )
    return [_scoped_entry(e, user) for e in entries], total


def _scoped_entry(e: AuditEntry, user: User) -> AuditEntry:
    return dataclasses.replace(e, before=_scoped(e.before, user), after=_scoped(e.after, user))


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
    from mst.web.myeloma_view import myeloma_panel

    recovery = record_recovery(record)
    return {
        "timeline": timeline(record),
        "count_charts": count_charts(record, recovery),
        "recovery": recovery_rows(record, recovery),
        "alerts": patient_alerts(record),
        "alerts_closed": alerts_closed(record),
        "chimerism_svg": chimerism_chart(record),
        "myeloma": myeloma_panel(record),  # issue 18: None unless myeloma
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


def alert_key(alert: Alert) -> str:
    """The key an acknowledgement is stored under: rule and date."""
    return f"{alert.rule}/{alert.date.isoformat()}"


def _alerts_end(record: PatientRecord) -> tuple[dt.date, str] | None:
    """When the patient's monitoring ended (death or loss to follow-up), and why."""
    ends = [
        (e.date, e.kind.value.replace("_", " "))
        for e in record.events
        if e.kind in (EventKind.DEATH, EventKind.LOST_TO_FOLLOWUP)
    ]
    return min(ends) if ends else None


def alerts_closed(record: PatientRecord) -> str | None:
    """Why the patient's alerts are closed (no longer actionable), if they are."""
    end = _alerts_end(record)
    return f"monitoring ended on {end[0]} ({end[1]})" if end else None


def patient_alerts(record: PatientRecord) -> list[Alert]:
    """Monitoring alerts of the record (004 §2.3, 002), newest first.

    Nothing is raised after the patient's death or loss to follow-up: the rules are
    evaluated on what was known on that day (:func:`alerts_closed` says so on the page).
    """
    end = _alerts_end(record)
    alerts = evaluate(record, as_of=end[0] if end else None)
    return sorted(alerts, key=lambda a: a.date, reverse=True)


def acknowledge_alert(repo: Repository, patient_id: str, key: str, note: str) -> None:
    """Acknowledge a current alert of the patient (an unknown alert key is refused)."""
    record = repo.get_record(patient_id)
    if key not in {alert_key(a) for a in patient_alerts(record)}:
        raise ValidationError("alert_key", key, "is not a current alert of this patient")
    closed = alerts_closed(record)
    if closed:
        raise ValidationError("alert_key", key, f"the patient's alerts are closed: {closed}")
    if len(note) > 500:
        raise ValidationError("note", "…", "must have at most 500 characters")
    repo.acknowledge_alert(patient_id, key, note or None)


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


def donor_page_content(record: PatientRecord) -> dict[str, Any]:
    """What the donors page derives from a record (cached per record version)."""
    return {"ranking": donor_ranking(record)}


def _check_typing(typing: str) -> None:
    """Reject a typing the HLA parser cannot read (names checked against IPD-IMGT/HLA)."""
    from mst.donors.nomenclature import parse_gl

    try:
        parse_gl(typing)
    except ValidationError as exc:
        raise ValidationError("hla_typing", exc.value, exc.rule) from None
