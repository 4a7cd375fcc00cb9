"""Patient pages: list, detail (timeline, charts, alerts), forms and audit log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from mst.domain import (
    DeathCause,
    Diagnosis,
    ElnRisk,
    EventKind,
    Fitness,
    Relationship,
    ResponseCategory,
    Sex,
)
from mst.domain.analytes import analyte_table
from mst.errors import ConsistencyError, NotFoundError, ValidationError
from mst.protocol.catalog import load_catalog
from mst.registry.repository import Repository
from mst.registry.users import Role
from mst.web import services
from mst.web.deps import Csrf, CurrentUser, Repo, SessionDep, State, Writer
from mst.web.rendering import CSRF_SLOT, cached_page, framed, render_content

router = APIRouter()

CHOICES = {
    "sex": [s.value for s in Sex],
    "diagnosis": [d.value for d in Diagnosis],
    "eln_risk": [""] + [r.value for r in ElnRisk],
    "fitness": [""] + [f.value for f in Fitness],
    "kind": [k.value for k in EventKind],
    "cause": [""] + [c.value for c in DeathCause],
    "category": [c.value for c in ResponseCategory],
}


def _ctx(user: Any, session: Any, **extra: Any) -> dict[str, Any]:
    return {"user": user, "csrf": session.csrf if session else "", "choices": CHOICES, **extra}


@router.get("/", include_in_schema=False)
def home() -> Response:
    """Go to the patient list."""
    return RedirectResponse("/patients", status_code=303)


@router.get("/patients", include_in_schema=False)
async def patient_list(
    request: Request,
    state: State,
    user: CurrentUser,
    session: SessionDep,
    repo: Repo,
    q: str = "",
    center: str = "",
    diagnosis: str = "",
    status: str = "",
    page: str = "1",
) -> Response:
    """Patients visible to the user, with search and filters, 200 per page.

    The content is rendered once per center scope, filters, page and registry version: a
    request costs one query (the registry version) when it is cached, two when not.
    """
    if not (page.isascii() and page.isdecimal() and len(page) < 10 and int(page) >= 1):
        raise ValidationError("page", page, "must be a page number (1, 2, …)")
    n = int(page)
    version = repo.registry_version()  # filters are checked when the content is built

    def build() -> str:
        rows = services.patient_rows(repo, q, center, diagnosis, status, page=n)
        context = {
            "rows": rows[: services.PAGE_SIZE],
            "has_next": len(rows) > services.PAGE_SIZE,
            "centers": state.centers.get(repo.center_scope, repo.centers),
            "filters": {"q": q, "center": center, "diagnosis": diagnosis, "status": status},
            "page": n,
            "first_row": (n - 1) * services.PAGE_SIZE,
            "choices": CHOICES,
        }
        return render_content(state, "_patients_body.html", context)

    key = ("patients-body", repo.center_scope, q, center, diagnosis, status, n)
    csrf = session.csrf if session else ""
    return cached_page(request, state, user, csrf, "Patients", key, version, build)


def _patient_form(
    request: Request,
    state: State,
    user: Any,
    session: Any,
    repo: Repository,
    form: services.FormResult,
    existing: str | None,
) -> Response:
    """The patient form (new patient, or edit of ``existing``); 422 when it has errors."""
    return state.templates.TemplateResponse(
        request,
        "patient_form.html",
        _ctx(user, session, form=form, centers=repo.centers(), existing=existing),
        status_code=422 if form.errors or form.general else 200,
    )


async def _submitted(
    request: Request,
    save: Callable[[dict[str, str]], services.FormResult],
    done: Callable[[dict[str, str]], str],
    failed: Callable[[services.FormResult], Response],
) -> Response:
    """The one body of every form submission: read the form, ``save`` it (the service
    validates every field and writes in one audited transaction), then go to ``done`` —
    or show ``failed``, the form again with the typed values and a message per field."""
    values = {k: str(v) for k, v in (await request.form()).items()}
    result = save(values)
    if result.ok:
        return RedirectResponse(done(values), status_code=303)
    return failed(result)


@router.get("/patients/new", include_in_schema=False)
def new_patient_form(
    request: Request, state: State, user: Writer, session: SessionDep, repo: Repo
) -> Response:
    """Empty patient form."""
    form = services.FormResult(values={})
    return _patient_form(request, state, user, session, repo, form, None)


@router.post("/patients/new", include_in_schema=False, dependencies=[Csrf])
async def create_patient(
    request: Request, state: State, user: Writer, session: SessionDep, repo: Repo
) -> Response:
    """Create a patient; re-show the form with messages next to the fields on error."""
    return await _submitted(
        request,
        lambda values: services.save_patient(repo, user, values, None),
        lambda values: f"/patients/{values.get('id', '').strip()}",
        lambda result: _patient_form(request, state, user, session, repo, result, None),
    )


@dataclass(frozen=True)
class _RoleOnly:
    """What cached page content may know of the user: the role (part of the cache key)."""

    role: Role


def _patient_page(
    request: Request,
    state: State,
    user: Any,
    session: Any,
    repo: Repository,
    patient_id: str,
    failed: tuple[str, services.FormResult] | None = None,
    lab_filter: services.LabFilter | None = None,
) -> Response:
    derived = state.pages.get(repo, patient_id, services.patient_page_content)
    lab_filter = lab_filter or services.LabFilter()
    record = derived["record"]

    def build() -> str:
        forms = {kind: services.FormResult(values={}) for kind in services.CHILD_FORMS}
        if failed is not None:
            forms[failed[0]] = failed[1]
        context = {
            **_ctx(_RoleOnly(user.role), None, **derived),
            "csrf": CSRF_SLOT,  # the session's token is put in per request
            "patient": services.patient_view(record, user),
            "analytes": analyte_table(),
            "regimens": sorted(load_catalog()),
            "forms": forms,
            "lab_filter": lab_filter,
            "lab_rows": services.lab_rows(record, lab_filter),
            "acks": repo.alert_acks(patient_id) if derived["alerts"] else {},
            "describe": services.describe_child,
        }
        return render_content(state, "_patient_body.html", context)

    # The content depends on the record version (acknowledgements included), the role and
    # the lab filter only: rendered once for each, the session's CSRF token put in after.
    csrf = session.csrf if session else ""
    title = f"{patient_id}"
    if failed is not None:  # a form with the typed values and its errors: not cached
        return framed(request, state, user, csrf, title, build(), status_code=422)
    key = ("patient-body", patient_id, user.role, lab_filter)
    return cached_page(request, state, user, csrf, title, key, derived["version"], build)


@router.get("/patients/{patient_id}", include_in_schema=False)
async def patient_page(
    request: Request,
    state: State,
    user: CurrentUser,
    session: SessionDep,
    repo: Repo,
    patient_id: str,
    lab_analyte: str = "",
    lab_from: str = "",
    lab_to: str = "",
) -> Response:
    """Timeline, blood-count charts and recovery per course, chimerism, alerts, the records
    (labs as a table filterable by analyte and date) with their corrections, and forms."""
    lab_filter = services.LabFilter.parse(lab_analyte, lab_from, lab_to)
    return _patient_page(request, state, user, session, repo, patient_id, lab_filter=lab_filter)


@router.get("/patients/{patient_id}/edit", include_in_schema=False)
def edit_patient_form(
    request: Request, state: State, user: Writer, session: SessionDep, repo: Repo, patient_id: str
) -> Response:
    """Patient form filled with the stored values."""
    record = repo.get_record(patient_id)
    values = {
        k: "" if v is None else str(v) for k, v in record.patient.model_dump(mode="json").items()
    }
    form = services.FormResult(values=values)
    return _patient_form(request, state, user, session, repo, form, patient_id)


@router.post("/patients/{patient_id}/edit", include_in_schema=False, dependencies=[Csrf])
async def edit_patient(
    request: Request, state: State, user: Writer, session: SessionDep, repo: Repo, patient_id: str
) -> Response:
    """Save the edited patient (audited)."""
    repo.get_record(patient_id)  # 404 before anything else for invisible patients
    return await _submitted(
        request,
        lambda values: services.save_patient(repo, user, values, patient_id),
        lambda _values: f"/patients/{patient_id}",
        lambda result: _patient_form(request, state, user, session, repo, result, patient_id),
    )


#: Child records entered on the donors page rather than the patient page.
DONOR_PAGE_KINDS = frozenset({"donor", "antibody"})


@router.post("/patients/{patient_id}/add/{kind}", include_in_schema=False, dependencies=[Csrf])
async def add_record(
    request: Request,
    state: State,
    user: Writer,
    session: SessionDep,
    repo: Repo,
    patient_id: str,
    kind: str,
) -> Response:
    """Add a lab result, event, response, course, infusion, donor or antibody.

    The whole record is re-checked before it is saved; on failure the form comes back with
    the message next to the field.
    """
    record_kind = _record_kind(kind)
    return await _submitted(
        request,
        lambda values: services.add_child(repo, patient_id, kind, values),
        lambda _values: record_kind.added_url(patient_id),
        lambda result: record_kind.entry_page(
            request, state, user, session, repo, patient_id, result
        ),
    )


@router.get("/patients/{patient_id}/audit", include_in_schema=False)
async def audit_page(
    request: Request,
    state: State,
    user: CurrentUser,
    session: SessionDep,
    repo: Repo,
    patient_id: str,
    limit: str = "",
    offset: str = "",
    entity: str = "",
    action: str = "",
) -> Response:
    """The audited changes of the patient's records, one page at a time, with the paging
    rules of the audit API (``limit``/``offset``, total, previous/next links that keep the
    ``entity`` and ``action`` filters) and the record's field-level scope.

    Each page reads one page of the trail (one query, the total a window count); its
    content is cached per record version, field scope, page and filters.
    """
    page = services.PageRequest.parse(limit, offset)
    where = services.AuditFilter.parse(entity, action)
    version = repo.record_version(patient_id)  # 404 for unknown or invisible patients

    def build() -> str:
        entries, total = services.audit_page(repo, patient_id, user, page, where)
        path = f"/patients/{patient_id}/audit"
        context = {
            "patient_id": patient_id,
            "paged": page.envelope(entries, total, path, where.params()),
            "filters": where,
            "entities": services.AUDIT_ENTITIES,
            "actions": services.AUDIT_ACTIONS,
            "deleted": services.deleted_entries(repo, patient_id, user),
        }
        return render_content(state, "_audit_body.html", context)

    key = ("audit-body", patient_id, user.role.pseudonymized, page, where)
    csrf = session.csrf if session else ""
    return cached_page(request, state, user, csrf, f"Audit {patient_id}", key, version, build)


@router.get("/patients/{patient_id}/plan", include_in_schema=False)
async def plan_page(
    request: Request,
    state: State,
    user: CurrentUser,
    session: SessionDep,
    repo: Repo,
    patient_id: str,
) -> Response:
    """Consensus assessment, regimen options with citations, doses and the course calendar.

    Cached per record version and form values (the engine is deterministic).
    """
    values = {
        k: v
        for k, v in request.query_params.items()
        if k in services.PLAN_FIELDS + services.PLAN_FLAGS
    }
    version = repo.record_version(patient_id)

    def build() -> tuple[Any, Any, Any, str | None]:
        record = repo.get_record(patient_id)
        result, error = services.make_plan(record, values) if values.get("start") else (None, None)
        assessment = None
        if result is None and error is None:
            from mst.protocol import assess

            try:
                assessment = assess(services.plan_input(record, values))
            except (ValidationError, ConsistencyError, NotFoundError) as exc:
                error = str(exc)
        return record, result, assessment, error

    key = ("plan", patient_id, tuple(sorted(values.items())))
    record, result, assessment, error = state.outcomes.get(key, version, build)
    return state.templates.TemplateResponse(
        request,
        "plan.html",
        _ctx(
            user,
            session,
            patient=services.patient_view(record, user),
            values=values,
            result=result,
            assessment=result.assessment if result else assessment,
            error=error,
        ),
    )


def _donor_page(
    request: Request,
    state: State,
    user: Any,
    session: Any,
    repo: Repository,
    patient_id: str,
    failed: tuple[str, services.FormResult] | None = None,
) -> Response:
    forms = {kind: services.FormResult(values={}) for kind in DONOR_PAGE_KINDS}
    if failed is not None:
        forms[failed[0]] = failed[1]
    # The ranking is cached per record version (it only depends on the record).
    derived = state.donor_pages.get(repo, patient_id, services.donor_page_content)
    record, (ranking, why) = derived["record"], derived["ranking"]
    return state.templates.TemplateResponse(
        request,
        "donors.html",
        _ctx(
            user,
            session,
            record=record,
            patient=services.patient_view(record, user),
            ranking=ranking,
            why=why,
            forms=forms,
            relationships=[r.value for r in Relationship],
            describe=services.describe_child,
        ),
        status_code=422 if failed else 200,
    )


@router.get("/patients/{patient_id}/donors", include_in_schema=False)
async def donors_page(
    request: Request,
    state: State,
    user: CurrentUser,
    session: SessionDep,
    repo: Repo,
    patient_id: str,
) -> Response:
    """Candidate donors, antibodies and the explained ranking (004 §2.1)."""
    return _donor_page(request, state, user, session, repo, patient_id)


#: Form fields of each child record kind: (name, label, input type, choices key or None).
FIELD_SPECS: dict[str, tuple[tuple[str, str, str, str | None], ...]] = {
    "lab": (
        ("date", "Date", "date", None),
        ("analyte", "Analyte", "text", "analyte"),
        ("value", "Value", "number", None),
        ("unit", "Unit", "text", None),
        ("donor_id", "Donor (chimerism)", "text", "donor"),
    ),
    "event": (
        ("date", "Date", "date", None),
        ("kind", "Event", "text", "kind"),
        ("grade", "Grade (GVHD/CRS)", "number", None),
        ("cause", "Cause (death)", "text", "cause"),
        ("detail", "Detail", "text", None),
    ),
    "response": (("date", "Date", "date", None), ("category", "Category", "text", "category")),
    "course": (
        ("number", "Course number", "number", None),
        ("kind", "Kind", "text", "course_kind"),
        ("regimen_id", "Regimen", "text", "regimen"),
        ("start_date", "Day 1", "date", None),
    ),
    "infusion": (
        ("course_number", "Course number", "number", None),
        ("donor_id", "Donor", "text", "donor"),
        ("infused_at", "Infused at", "datetime-local", None),
        ("mnc_1e8_per_kg", "MNC ×10⁸/kg", "number", None),
        ("cd34_1e6_per_kg", "CD34⁺ ×10⁶/kg", "number", None),
        ("cd3_1e8_per_kg", "CD3⁺ ×10⁸/kg", "number", None),
        ("product", "Product", "text", "product"),
    ),
    "donor": (
        ("relationship", "Relationship", "text", "relationship"),
        ("sex", "Sex", "text", "sex"),
        ("age", "Age", "number", None),
        ("hla_typing", "HLA typing (GL string)", "text", None),
        ("kir_genotype", "KIR genes (comma separated)", "text", None),
    ),
    "antibody": (
        ("date", "Date", "date", None),
        ("specificity", "Specificity", "text", None),
        ("mfi", "MFI", "number", None),
    ),
}


@dataclass(frozen=True)
class RecordKind:
    """What the routes need of one kind of child record (lab, event, …): the fields of its
    correction form and the page its entry form is on (the patient page, or the donors
    page for donors and antibodies). Every add, correction and deletion of any kind goes
    through the same handlers, keyed by this."""

    name: str
    fields: tuple[tuple[str, str, str, str | None], ...]
    on_donor_page: bool

    def added_url(self, patient_id: str) -> str:
        """Where a saved new record sends the user: its list on its page."""
        if self.on_donor_page:
            return f"/patients/{patient_id}/donors"
        return f"/patients/{patient_id}#{self.name}"

    def corrected_url(self, patient_id: str) -> str:
        """Where a saved correction or deletion sends the user."""
        if self.on_donor_page:
            return f"/patients/{patient_id}/donors"
        return f"/patients/{patient_id}#records"

    def entry_page(
        self,
        request: Request,
        state: Any,
        user: Any,
        session: Any,
        repo: Repository,
        patient_id: str,
        failed: services.FormResult,
    ) -> Response:
        """The page of the entry form, showing the rejected form with its messages (422)."""
        page = _donor_page if self.on_donor_page else _patient_page
        return page(request, state, user, session, repo, patient_id, (self.name, failed))


#: Every child record kind the app adds, corrects and deletes.
RECORD_KINDS = {
    name: RecordKind(name, specs, name in DONOR_PAGE_KINDS) for name, specs in FIELD_SPECS.items()
}


def _record_kind(name: str) -> RecordKind:
    """The record kind of a URL; an unknown one is 404."""
    kind = RECORD_KINDS.get(name)
    if kind is None:
        raise NotFoundError(f"no such record kind: {name}")
    return kind


def _correction_choices(record: Any) -> dict[str, list[str]]:
    return {
        **CHOICES,
        "analyte": list(analyte_table()),
        "donor": [""] + [d.id for d in record.donors],
        "course_kind": ["induction", "reinduction", "consolidation"],
        "regimen": sorted(load_catalog()),
        "product": ["fresh", "cryopreserved"],
        "relationship": [r.value for r in Relationship],
    }


def _correction_page(
    request: Request,
    state: State,
    user: Any,
    session: Any,
    repo: Repository,
    patient_id: str,
    kind: str,
    index: int,
    form: services.FormResult | None = None,
) -> Response:
    record_kind = _record_kind(kind)
    record = repo.get_record(patient_id)
    items = getattr(record, services.CHILD_FORMS[kind][1])
    if not 1 <= index <= len(items):
        raise NotFoundError(f"{kind} {index} of patient {patient_id} not found")
    item = items[index - 1]
    if form is None:
        values = services.child_form_values(kind, item)
        values["version"] = str(repo.record_version(patient_id))
        form = services.FormResult(values=values)
    else:  # keep what was typed; a failed deletion shows the stored values
        form.values = {**services.child_form_values(kind, item), **form.values}
    return state.templates.TemplateResponse(
        request,
        "correct.html",
        {
            **_ctx(user, session),
            "choices": _correction_choices(record),
            "patient": services.patient_view(record, user),
            "kind": kind,
            "index": index,
            "specs": record_kind.fields,
            "description": services.describe_child(kind, item),
            "form": form,
        },
        status_code=422 if form.errors or form.general else 200,
    )


@router.get("/patients/{patient_id}/records/{kind}/{index}", include_in_schema=False)
def correction_form(
    request: Request,
    state: State,
    user: Writer,
    session: SessionDep,
    repo: Repo,
    patient_id: str,
    kind: str,
    index: int,
) -> Response:
    """Correct or delete one lab, event, response, course, infusion, donor or antibody."""
    return _correction_page(request, state, user, session, repo, patient_id, kind, index)


@router.post(
    "/patients/{patient_id}/records/{kind}/{index}", include_in_schema=False, dependencies=[Csrf]
)
async def correct_record(
    request: Request,
    state: State,
    user: Writer,
    session: SessionDep,
    repo: Repo,
    patient_id: str,
    kind: str,
    index: int,
) -> Response:
    """Save the correction (or soft deletion) with its reason, or show every invalid field."""
    record_kind = _record_kind(kind)
    return await _submitted(
        request,
        lambda values: services.correct_child(
            repo, patient_id, kind, index - 1, values, values.get("action") == "delete"
        ),
        lambda _values: record_kind.corrected_url(patient_id),
        lambda result: _correction_page(
            request, state, user, session, repo, patient_id, kind, index, form=result
        ),
    )


@router.post("/patients/{patient_id}/alerts/ack", include_in_schema=False, dependencies=[Csrf])
async def acknowledge_alert(
    request: Request, user: Writer, repo: Repo, patient_id: str
) -> Response:
    """Acknowledge one alert of the patient (who and when are recorded and audited)."""
    form = await request.form()
    key, note = str(form.get("alert_key", "")).strip(), str(form.get("note", "")).strip()
    services.acknowledge_alert(repo, patient_id, key, note)
    return RedirectResponse(f"/patients/{patient_id}#alerts", status_code=303)
