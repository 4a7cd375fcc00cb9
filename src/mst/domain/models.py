"""Typed domain model of an MST program (pydantic v2, no database imports).

Every entity validates its own fields; :class:`PatientRecord` gathers one
patient's entities and checks the rules that span records
(:meth:`PatientRecord.check_consistency`). Units are part of the field names
(``weight_kg``, ``mnc_1e8_per_kg``) or, for laboratory values, explicit in
``unit`` and converted to the analyte's canonical unit on entry.
"""

from __future__ import annotations

import datetime as dt
import itertools
from enum import StrEnum
from typing import Annotated, Any, Self, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mst.domain.analytes import to_canonical
from mst.errors import ConsistencyError, ValidationError

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN)]


class Sex(StrEnum):
    """Sex recorded for a patient or a donor."""

    MALE = "M"
    FEMALE = "F"


class Diagnosis(StrEnum):
    """Disease treated with MST."""

    AML = "AML"
    MDS = "MDS"
    MYELOMA = "myeloma"
    OTHER = "other"


class ElnRisk(StrEnum):
    """ELN 2022 genetic risk group (Döhner et al., Blood 2022;140:1345)."""

    FAVORABLE = "favorable"
    INTERMEDIATE = "intermediate"
    ADVERSE = "adverse"


class Fitness(StrEnum):
    """Fitness group used by the consensus (seed 004 §3, §4.1–4.3)."""

    FIT = "fit"
    UNFIT = "unfit"
    FRAIL = "frail"


class Relationship(StrEnum):
    """Donor's relationship to the patient (seed 004 §2.1: related donors preferred)."""

    CHILD = "child"
    SIBLING = "sibling"
    PARENT = "parent"
    OTHER_RELATED = "other_related"
    UNRELATED = "unrelated"

    @property
    def related(self) -> bool:
        """True for family donors."""
        return self is not Relationship.UNRELATED


class CourseKind(StrEnum):
    """Kind of MST course (seed 004 §4 induction, §5 post-remission)."""

    INDUCTION = "induction"
    REINDUCTION = "reinduction"
    CONSOLIDATION = "consolidation"


class Product(StrEnum):
    """State of the infused GPBSC product (seed 002: fresh first, cryopreserved after)."""

    FRESH = "fresh"
    CRYOPRESERVED = "cryopreserved"


class EventKind(StrEnum):
    """Clinical events recorded after MST."""

    FEVER = "fever"
    RASH = "rash"
    DIARRHEA = "diarrhea"
    GVHD = "gvhd"
    CRS = "crs"
    INFECTION = "infection"
    SEPSIS = "sepsis"
    CARDIAC_FAILURE = "cardiac_failure"
    ARRHYTHMIA = "arrhythmia"
    HEPATOTOXICITY = "hepatotoxicity"
    NAUSEA = "nausea"  # 002 Supplementary Table 1 (gastrointestinal symptoms)
    VOMITING = "vomiting"  # 002 Supplementary Table 1 (gastrointestinal symptoms)
    RELAPSE = "relapse"
    DEATH = "death"
    LOST_TO_FOLLOWUP = "lost_to_followup"
    CYTOGENETICS = "cytogenetics"  # myeloma FISH finding (detail: data/myeloma/staging.yaml code)
    BONE_DISEASE = "bone_disease"  # myeloma bone disease (detail: lesion count, "advanced", "new")


GRADED_EVENTS: dict[EventKind, tuple[int, int]] = {
    EventKind.GVHD: (1, 4),  # MAGIC overall grade I–IV
    EventKind.CRS: (1, 4),  # ASTCT grade 1–4 (grade 5 is recorded as death)
}


class DeathCause(StrEnum):
    """Cause of death, as tabulated in seed 002 Table 2."""

    RELAPSE = "relapse"
    INFECTION = "infection"
    ORGAN_FAILURE = "organ_failure"
    GVHD = "gvhd"
    BLEEDING = "bleeding"
    OTHER = "other"


class ResponseCategory(StrEnum):
    """Response categories: AML by ELN 2022, myeloma by IMWG 2016."""

    CR = "CR"
    CR_MRD_NEG = "CR_MRD-"
    CRH = "CRh"
    CRI = "CRi"
    MLFS = "MLFS"
    PR = "PR"
    REFRACTORY = "refractory"
    RELAPSE = "relapse"
    MRD_RELAPSE = "MRD_relapse"
    SCR = "sCR"
    VGPR = "VGPR"
    SD = "SD"
    PD = "PD"

    @property
    def is_complete_remission(self) -> bool:
        """CR, CR MRD−, CRh or CRi — what the consensus counts as remission (004 §4.3)."""
        return self in (
            ResponseCategory.CR,
            ResponseCategory.CR_MRD_NEG,
            ResponseCategory.CRH,
            ResponseCategory.CRI,
            ResponseCategory.SCR,
        )


class DoseUnit(StrEnum):
    """Unit of an administered dose (absolute doses only)."""

    MG = "mg"
    G = "g"
    UG = "ug"
    UNITS = "U"


#: A date may lie at most this many days after today (time zones; entry just after midnight).
FUTURE_TOLERANCE_DAYS = 1
#: No registry date before this one is plausible (a diagnosis "in 1800" is a typing error).
EARLIEST_DATE = dt.date(1900, 1, 1)
_DATE_FIELDS = (
    "birth_date",
    "diagnosis_date",
    "last_followup_date",
    "start_date",
    "infused_at",
    "date",
)


def date_rule_broken(value: dt.date, today: dt.date | None = None) -> str | None:
    """Why a recorded date is impossible (before 1900, or after today + the tolerance), if it is.

    Parameters
    ----------
    value : datetime.date or datetime.datetime
        The date (a date-time is judged by its date).
    today : datetime.date, optional
        Reference day (default: today on this machine).

    Returns
    -------
    str or None
        The rule broken, in words, or ``None`` when the date is plausible.
    """
    day = value.date() if isinstance(value, dt.datetime) else value
    today = today or dt.date.today()
    if day < EARLIEST_DATE:
        return f"must not be before {EARLIEST_DATE.isoformat()}"
    if day > today + dt.timedelta(days=FUTURE_TOLERANCE_DAYS):
        return (
            f"must not be in the future (today is {today.isoformat()}; "
            f"{FUTURE_TOLERANCE_DAYS} day of tolerance)"
        )
    return None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator(*_DATE_FIELDS, mode="after", check_fields=False)
    @classmethod
    def _plausible_date(cls, value: Any) -> Any:
        if isinstance(value, dt.date):
            broken = date_rule_broken(value)
            if broken:
                raise ValueError(broken)
        return value


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict[str, Any], where: str = "") -> M:
    """Validate ``data`` as ``model``, turning pydantic errors into ours.

    Parameters
    ----------
    model : type
        A model class of this module.
    data : dict
        Field values.
    where : str, optional
        Prefix for the field name in the error (``"row 12"``).

    Returns
    -------
    BaseModel
        The validated instance.

    Raises
    ------
    mst.errors.ValidationError
        Naming the first failing field, its value and the rule.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        prefix = f"{where}: " if where else ""
        raise ValidationError(prefix + exc.field, exc.value, exc.rule) from None
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or model.__name__
        msg = err["msg"]
        ctx_error = (err.get("ctx") or {}).get("error")
        value = err.get("input")
        if isinstance(ctx_error, ValidationError):
            loc = f"{loc}.{ctx_error.field}" if err["loc"] else ctx_error.field
            msg = ctx_error.rule
            value = ctx_error.value
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        prefix = f"{where}: " if where else ""
        raise ValidationError(prefix + f"{model.__name__.lower()}.{loc}", value, msg) from None


class Center(_Model):
    """A treating center of the consortium."""

    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    country: str | None = Field(default=None, max_length=100)


class Patient(_Model):
    """A patient, identified by a pseudonymous id (no direct identifiers).

    Either ``birth_date`` or ``age_at_diagnosis`` is required; when both are
    given they must agree (completed years at the diagnosis date).
    """

    id: Identifier
    center_id: Identifier
    sex: Sex
    birth_date: dt.date | None = None
    age_at_diagnosis: int | None = Field(default=None, ge=0, le=120)
    diagnosis: Diagnosis
    diagnosis_date: dt.date
    eln_risk: ElnRisk | None = None
    fitness: Fitness | None = None
    height_cm: float | None = Field(default=None, ge=100, le=230)
    weight_kg: float | None = Field(default=None, ge=25, le=250)
    last_followup_date: dt.date | None = None
    hla_typing: str | None = Field(
        default=None, max_length=4000, description="Recipient HLA typing as a GL string."
    )

    @model_validator(mode="after")
    def _age(self) -> Self:
        if self.birth_date is None and self.age_at_diagnosis is None:
            raise ValidationError(
                "age_at_diagnosis", None, "either birth_date or age_at_diagnosis is required"
            )
        if self.birth_date is not None:
            if self.birth_date > self.diagnosis_date:
                raise ValidationError(
                    "birth_date", self.birth_date, "must not be after diagnosis_date"
                )
            derived = completed_years(self.birth_date, self.diagnosis_date)
            if derived > 120:
                raise ValidationError(
                    "birth_date",
                    self.birth_date,
                    f"gives an age at diagnosis of {derived} years (more than 120)",
                )
            if self.age_at_diagnosis is not None and self.age_at_diagnosis != derived:
                raise ValidationError(
                    "age_at_diagnosis",
                    self.age_at_diagnosis,
                    f"must equal completed years from birth_date to diagnosis_date ({derived})",
                )
            object.__setattr__(self, "age_at_diagnosis", derived)
        if self.eln_risk is not None and self.diagnosis not in (Diagnosis.AML, Diagnosis.MDS):
            raise ValidationError("eln_risk", self.eln_risk, "applies to AML and MDS only")
        if self.last_followup_date is not None and self.last_followup_date < self.diagnosis_date:
            raise ValidationError(
                "last_followup_date", self.last_followup_date, "must not be before diagnosis_date"
            )
        return self

    @property
    def age(self) -> int:
        """Age at diagnosis in completed years."""
        assert self.age_at_diagnosis is not None
        return self.age_at_diagnosis


def completed_years(start: dt.date, end: dt.date) -> int:
    """Completed years between two dates (age as clinicians count it).

    Parameters
    ----------
    start, end : datetime.date
        Birth date and reference date.

    Returns
    -------
    int
        Whole years; a birthday on ``end`` counts. 29 February birthdays count
        on 1 March in common years.
    """
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return years


class Donor(_Model):
    """A GPBSC donor of one patient (seed 004 §2.1).

    Eligibility (age 18–55, DSA, homozygosity) is judged by :mod:`mst.donors`,
    not here: an ineligible candidate can still be recorded.
    """

    id: Identifier
    patient_id: Identifier
    relationship: Relationship
    sex: Sex
    age: int = Field(ge=0, le=100)
    hla_typing: str | None = Field(default=None, max_length=4000)
    kir_genotype: str | None = Field(
        default=None,
        max_length=500,
        description="KIR gene content, comma separated (e.g. 'KIR2DL1,KIR2DS4,KIR3DL1').",
    )


class DrugAdministration(_Model):
    """One administered dose of one drug on one day of a course."""

    drug: str = Field(min_length=2, max_length=60, pattern=r"^[a-z0-9_\-]+$")
    dose: float = Field(gt=0, le=100000)
    unit: DoseUnit
    day: int = Field(ge=1, le=60)
    route: str | None = Field(default=None, pattern=r"^(IV|PO|SC|IT|IM)$")


class Course(_Model):
    """One MST course: chemotherapy (day 1 = ``start_date``) followed by GPBSC infusion."""

    patient_id: Identifier
    number: int = Field(ge=1, le=50)
    kind: CourseKind
    regimen_id: str = Field(min_length=1, max_length=60)
    start_date: dt.date
    administrations: tuple[DrugAdministration, ...] = ()

    @property
    def last_chemo_date(self) -> dt.date:
        """Date of the last administered dose (``start_date`` if none recorded)."""
        last_day = max((a.day for a in self.administrations), default=1)
        return self.start_date + dt.timedelta(days=last_day - 1)


class Infusion(_Model):
    """A GPBSC infusion (seed 004 §2.2: target MNC 2.5 and CD3⁺ 1 × 10⁸/kg)."""

    patient_id: Identifier
    course_number: int = Field(ge=1, le=50)
    donor_id: Identifier
    infused_at: dt.datetime = Field(
        description="local wall-clock time of the center, without a UTC offset"
    )
    mnc_1e8_per_kg: float = Field(gt=0, le=50, description="MNC × 10⁸/kg")
    cd34_1e6_per_kg: float | None = Field(default=None, ge=0, le=100, description="CD34⁺ × 10⁶/kg")
    cd3_1e8_per_kg: float | None = Field(default=None, ge=0, le=20, description="CD3⁺ × 10⁸/kg")
    product: Product


    @model_validator(mode="after")
    def _local_time(self) -> Self:
        # Both backends store a naive DateTime: an offset would be dropped by SQLite and
        # converted by PostgreSQL, so the same file would give two registries.
        if self.infused_at.tzinfo is not None:
            raise ValidationError(
                "infused_at",
                self.infused_at.isoformat(),
                "a time with a UTC offset or zone is not accepted: give the center's local "
                "wall-clock time without an offset (e.g. 2018-02-15T21:00:00)",
            )
        return self


class LabResult(_Model):
    """A laboratory value; stored in the analyte's canonical unit.

    The constructor accepts any unit listed for the analyte in
    ``mst/data/analytes.yaml`` and converts it; other units and values outside
    the physiological range are rejected.
    """

    patient_id: Identifier
    date: dt.date
    analyte: str
    value: float
    unit: str
    donor_id: Identifier | None = None

    @model_validator(mode="before")
    @classmethod
    def _canonical(cls, data: Any) -> Any:
        if isinstance(data, dict) and {"analyte", "value", "unit"} <= set(data):
            from mst.domain.analytes import analyte_table

            try:
                value = float(data["value"])
            except (TypeError, ValueError):
                raise ValidationError("value", data["value"], "must be a number") from None
            canonical = to_canonical(str(data["analyte"]), value, str(data["unit"]))
            data = {**data, "value": canonical, "unit": analyte_table()[data["analyte"]].unit}
        return data


class ClinicalEvent(_Model):
    """A dated clinical event (adverse event, GVHD, CRS, relapse, death …)."""

    patient_id: Identifier
    date: dt.date
    kind: EventKind
    grade: int | None = None
    cause: DeathCause | None = None
    detail: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _grade_and_cause(self) -> Self:
        bounds = GRADED_EVENTS.get(self.kind)
        if bounds is not None:
            if self.grade is None:
                raise ValidationError("grade", None, f"is required for {self.kind.value}")
            lo, hi = bounds
            if not lo <= self.grade <= hi:
                raise ValidationError(
                    "grade", self.grade, f"{self.kind.value} grade must be {lo}–{hi}"
                )
        elif self.grade is not None:
            raise ValidationError("grade", self.grade, f"{self.kind.value} takes no grade")
        if self.kind is EventKind.DEATH and self.cause is None:
            raise ValidationError("cause", None, "is required for death")
        if self.kind is not EventKind.DEATH and self.cause is not None:
            raise ValidationError("cause", self.cause, "applies to death events only")
        if self.kind in (EventKind.CYTOGENETICS, EventKind.BONE_DISEASE):
            from mst.domain.analytes import check_myeloma_event_detail

            check_myeloma_event_detail(self.kind.value, self.detail)
        return self


class AntibodyResult(_Model):
    """An anti-HLA antibody of the recipient (single-antigen bead): specificity and MFI.

    Used for the donor-specific antibody virtual crossmatch (004 §2.1).
    """

    patient_id: Identifier
    date: dt.date
    specificity: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9*:\-]+$")
    mfi: float = Field(ge=0, le=100000)


class ResponseAssessment(_Model):
    """A response assessment (AML: ELN 2022; myeloma: IMWG)."""

    patient_id: Identifier
    date: dt.date
    category: ResponseCategory


AML_CATEGORIES = frozenset(
    {
        ResponseCategory.CR,
        ResponseCategory.CR_MRD_NEG,
        ResponseCategory.CRH,
        ResponseCategory.CRI,
        ResponseCategory.MLFS,
        ResponseCategory.PR,
        ResponseCategory.REFRACTORY,
        ResponseCategory.RELAPSE,
        ResponseCategory.MRD_RELAPSE,
    }
)
MYELOMA_CATEGORIES = frozenset(
    {
        ResponseCategory.SCR,
        ResponseCategory.CR,
        ResponseCategory.VGPR,
        ResponseCategory.PR,
        ResponseCategory.SD,
        ResponseCategory.PD,
    }
)


class PatientRecord(_Model):
    """Everything recorded for one patient; the unit of import, export and simulation."""

    patient: Patient
    donors: tuple[Donor, ...] = ()
    courses: tuple[Course, ...] = ()
    infusions: tuple[Infusion, ...] = ()
    labs: tuple[LabResult, ...] = ()
    events: tuple[ClinicalEvent, ...] = ()
    responses: tuple[ResponseAssessment, ...] = ()
    antibodies: tuple[AntibodyResult, ...] = ()

    @property
    def death(self) -> ClinicalEvent | None:
        """The death event, if any."""
        return next((e for e in self.events if e.kind is EventKind.DEATH), None)

    def check_consistency(self) -> None:
        """Check the rules that span records.

        Rules
        -----
        * every child record belongs to this patient;
        * course numbers are unique and courses start in number order,
          not before diagnosis;
        * an infusion names an existing course and donor and is not before its
          course starts;
        * no dated record before diagnosis (labs may precede it by 30 days:
          the diagnostic work-up);
        * at most one death; death not before diagnosis; nothing dated after death;
        * last follow-up not before any dated record, and equal to the death
          date when the patient died;
        * response categories belong to the disease (ELN 2022 for AML/MDS,
          IMWG for myeloma).

        Raises
        ------
        mst.errors.ConsistencyError
            Naming the record and the rule.
        """
        p = self.patient
        pid = p.id
        for kind, items in (
            ("donor", self.donors),
            ("course", self.courses),
            ("infusion", self.infusions),
            ("lab", self.labs),
            ("event", self.events),
            ("response", self.responses),
            ("antibody", self.antibodies),
        ):
            for i, item in enumerate(items, 1):
                if item.patient_id != pid:
                    raise ConsistencyError(
                        f"patient {pid} / {kind} {i}",
                        f"belongs to patient {item.patient_id}, not {pid}",
                    )
        donor_ids = [d.id for d in self.donors]
        if len(set(donor_ids)) != len(donor_ids):
            raise ConsistencyError(f"patient {pid}", "donor ids must be unique")
        numbers = [c.number for c in self.courses]
        if len(set(numbers)) != len(numbers):
            raise ConsistencyError(f"patient {pid}", "course numbers must be unique")
        ordered = sorted(self.courses, key=lambda c: c.number)
        for prev, nxt in itertools.pairwise(ordered):
            if nxt.start_date <= prev.last_chemo_date:
                raise ConsistencyError(
                    f"patient {pid} / course {nxt.number}",
                    f"starts {nxt.start_date} before course {prev.number} has finished "
                    f"({prev.last_chemo_date})",
                )
        courses = {c.number: c for c in self.courses}
        for c in self.courses:
            if c.start_date < p.diagnosis_date:
                raise ConsistencyError(
                    f"patient {pid} / course {c.number}",
                    f"starts {c.start_date}, before diagnosis ({p.diagnosis_date})",
                )
        for i, inf in enumerate(self.infusions, 1):
            where = f"patient {pid} / infusion {i}"
            course = courses.get(inf.course_number)
            if course is None:
                raise ConsistencyError(
                    where, f"names course {inf.course_number}, which is not recorded"
                )
            if inf.donor_id not in donor_ids:
                raise ConsistencyError(where, f"names donor {inf.donor_id}, who is not recorded")
            if inf.infused_at.date() < course.start_date:
                raise ConsistencyError(
                    where,
                    f"infused {inf.infused_at.date()}, "
                    f"before its course starts ({course.start_date})",
                )
        if p.birth_date is not None:  # the work-up window must not reach before birth
            for kind, items in (("lab", self.labs), ("antibody", self.antibodies)):
                for i, item in enumerate(items, 1):
                    if item.date < p.birth_date:
                        raise ConsistencyError(
                            f"patient {pid} / {kind} {i}",
                            f"dated {item.date}, before birth ({p.birth_date})",
                        )
        for i, lab in enumerate(self.labs, 1):
            if lab.donor_id is not None and lab.donor_id not in donor_ids:
                raise ConsistencyError(
                    f"patient {pid} / lab {i}", f"names donor {lab.donor_id}, who is not recorded"
                )
        disease_categories = (
            MYELOMA_CATEGORIES if p.diagnosis is Diagnosis.MYELOMA else AML_CATEGORIES
        )
        for i, r in enumerate(self.responses, 1):
            if r.category not in disease_categories:
                raise ConsistencyError(
                    f"patient {pid} / response {i}",
                    f"{r.category.value} is not a response category for {p.diagnosis.value}",
                )
        deaths = [e for e in self.events if e.kind is EventKind.DEATH]
        if len(deaths) > 1:
            raise ConsistencyError(f"patient {pid}", "more than one death recorded")
        death_date = deaths[0].date if deaths else None
        for label, when in self._dated():
            earliest = (
                p.diagnosis_date - dt.timedelta(days=30)
                if label.startswith(("lab", "antibody"))
                else p.diagnosis_date
            )
            if when < earliest:
                raise ConsistencyError(
                    f"patient {pid} / {label}",
                    f"dated {when}, before diagnosis ({p.diagnosis_date})",
                )
            if death_date is not None and when > death_date:
                raise ConsistencyError(
                    f"patient {pid} / {label}", f"dated {when}, after death ({death_date})"
                )
            if p.last_followup_date is not None and when > p.last_followup_date:
                raise ConsistencyError(
                    f"patient {pid} / {label}",
                    f"dated {when}, after the last follow-up ({p.last_followup_date})",
                )
        if (
            death_date is not None
            and p.last_followup_date is not None
            and p.last_followup_date != death_date
        ):
            raise ConsistencyError(
                f"patient {pid}",
                f"last follow-up ({p.last_followup_date}) must equal the death date ({death_date})",
            )

    def _dated(self) -> list[tuple[str, dt.date]]:
        out: list[tuple[str, dt.date]] = []
        out += [(f"course {c.number}", c.start_date) for c in self.courses]
        out += [(f"course {c.number} chemotherapy", c.last_chemo_date) for c in self.courses]
        out += [(f"infusion {i}", x.infused_at.date()) for i, x in enumerate(self.infusions, 1)]
        out += [(f"lab {i}", x.date) for i, x in enumerate(self.labs, 1)]
        out += [(f"event {i} ({x.kind.value})", x.date) for i, x in enumerate(self.events, 1)]
        out += [(f"response {i}", x.date) for i, x in enumerate(self.responses, 1)]
        out += [(f"antibody {i}", x.date) for i, x in enumerate(self.antibodies, 1)]
        return out


class Cohort(_Model):
    """Centers and patient records: what the simulator produces and files exchange."""

    centers: tuple[Center, ...] = ()
    records: tuple[PatientRecord, ...] = ()

    def check_consistency(self) -> None:
        """Check every record, unique patient ids, and that every center is known.

        Raises
        ------
        mst.errors.ConsistencyError
            Naming the record and the rule.
        """
        center_ids = {c.id for c in self.centers}
        if len(center_ids) != len(self.centers):
            raise ConsistencyError("cohort", "center ids must be unique")
        seen: set[str] = set()
        donors: dict[str, str] = {}
        for rec in self.records:
            pid = rec.patient.id
            if pid in seen:
                raise ConsistencyError(f"patient {pid}", "patient ids must be unique")
            seen.add(pid)
            for d in rec.donors:
                if d.id in donors and donors[d.id] != pid:
                    raise ConsistencyError(
                        f"patient {pid} / donor {d.id}",
                        f"donor id already used for patient {donors[d.id]}: donor ids must be "
                        "unique in a cohort",
                    )
                donors[d.id] = pid
            if rec.patient.center_id not in center_ids:
                raise ConsistencyError(
                    f"patient {pid}", f"center {rec.patient.center_id} is not recorded"
                )
            rec.check_consistency()
