"""FHIR R4 export of a cohort as a ``collection`` Bundle.

Resources are built as JSON and validated with the ``fhir.resources.R4B`` models
(fhir.resources 8.x ships R5 at top level and R4B — wire-compatible with R4 for the
resources used here — as a sub-package):

* ``Patient`` (gender, birth date unless de-identified, ``deceasedDateTime``);
* ``Condition`` (the diagnosis, SNOMED CT coded, onset = diagnosis date);
* ``Observation`` per laboratory result (donor chimerism included; local analyte code
  system, canonical units of ``src/mst/data/analytes.yaml``);
* ``Procedure`` per GPBSC infusion (cell doses as notes, donor id as a note);
* ``MedicationAdministration`` per chemotherapy drug administration (date = course start
  + day − 1, dose and route).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

import yaml

from mst.domain import Cohort, PatientRecord
from mst.errors import ValidationError

ANALYTE_SYSTEM = "https://github.com/mst-project/mst/fhir/CodeSystem/analyte"
DRUG_SYSTEM = "https://github.com/mst-project/mst/fhir/CodeSystem/drug"
EVENT_SYSTEM = "https://github.com/mst-project/mst/fhir/CodeSystem/clinical-event"
CAUSE_SYSTEM = "https://github.com/mst-project/mst/fhir/CodeSystem/cause-of-death"
_CODES = yaml.safe_load(
    resources.files("mst.data").joinpath("interop/fhir_codes.yaml").read_text(encoding="utf-8")
)
SNOMED: str = _CODES["diagnosis"]["system"]
#: SNOMED CT concepts of the diagnoses (from ``mst/data/interop/fhir_codes.yaml``).
DIAGNOSIS_CODES: dict[str, tuple[str, str]] = {
    k: (v["code"], v["display"]) for k, v in _CODES["diagnosis"]["codes"].items()
}
_GENDER = {"M": "male", "F": "female"}
_ROUTES: dict[str, str] = dict(_CODES["route"]["labels"])


ICD10: str = _CODES["diagnosis_icd10"]["system"]
ICD10_CODES: dict[str, dict[str, str]] = _CODES["diagnosis_icd10"]["codes"]
LOINC: str = _CODES["lab"]["system"]
UCUM: str = _CODES["lab"]["unit_system"]
_NS = uuid.UUID("6f1c8a5e-3d0b-5b7e-9a43-5a1e7c0d2f10")  # namespace of the mst bundles


def _uuid(*parts: object) -> str:
    """A stable UUID (version 5) of a resource: the same record gives the same id."""
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def record_resources(rec: PatientRecord, include_birth_date: bool = True,
                     tz: dt.tzinfo | None = None) -> list[dict[str, Any]]:
    """FHIR resources (JSON dicts) of one patient record; ids are UUIDs and every reference
    is the ``urn:uuid:`` of a resource in the same bundle. ``tz`` is the center's time zone
    of naive local date-times (required when the record has any)."""
    p = rec.patient
    pid = _uuid("Patient", p.id)
    ref = {"reference": f"urn:uuid:{pid}"}
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": "urn:mst:patient", "value": p.id}],
        "gender": _GENDER[p.sex.value],
        "managingOrganization": {"display": p.center_id},
    }
    if include_birth_date and p.birth_date is not None:
        patient["birthDate"] = p.birth_date.isoformat()
    death = rec.death
    if death is not None:
        patient["deceasedDateTime"] = death.date.isoformat()
    out = [patient]
    code, display = DIAGNOSIS_CODES.get(p.diagnosis.value, (None, p.diagnosis.value))
    cond: dict[str, Any] = {
        "resourceType": "Condition",
        "id": _uuid("Condition", p.id, "dx"),
        "subject": ref,
        "code": {"text": display},
        "onsetDateTime": p.diagnosis_date.isoformat(),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
    }
    if code is not None:
        cond["code"]["coding"] = [{"system": SNOMED, "code": code, "display": display}]
    icd = ICD10_CODES.get(p.diagnosis.value)
    if icd is not None:
        cond["code"].setdefault("coding", []).append(
            {"system": ICD10, "code": icd["code"], "display": icd["display"]})
    out.append(cond)
    donor_ref: dict[str, dict[str, str]] = {}
    for d in rec.donors:
        rp: dict[str, Any] = {"resourceType": "RelatedPerson", "id": _uuid("Donor", d.id),
                              "patient": ref, "gender": _GENDER[d.sex.value],
                              "identifier": [{"system": "urn:mst:donor", "value": d.id}]}
        rel = _CODES["relationship"]["codes"].get(d.relationship.value)
        rp["relationship"] = [{"coding": [{"system": _CODES["relationship"]["system"],
                                           **rel}]} if rel else {"text": "unrelated donor"}]
        out.append(rp)
        donor_ref[d.id] = {"reference": f"urn:uuid:{rp['id']}"}
    for k, lab in enumerate(rec.labs):
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": _uuid("Observation", p.id, "lab", k + 1),
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [{"system": ANALYTE_SYSTEM, "code": lab.analyte}],
                "text": lab.analyte,
            },
            "subject": ref,
            "effectiveDateTime": lab.date.isoformat(),
            "valueQuantity": {"value": float(lab.value), "unit": lab.unit},
        }
        loinc = _CODES["lab"]["codes"].get(lab.analyte)
        if loinc is not None:
            obs["code"]["coding"].insert(0, {"system": LOINC, "code": loinc["code"],
                                             "display": loinc["display"]})
        ucum = _CODES["lab"]["ucum"].get(lab.unit)
        if ucum is not None:
            obs["valueQuantity"].update(system=UCUM, code=ucum)
        if lab.donor_id is not None:
            obs["note"] = [{"text": f"donor {lab.donor_id}"}]
            if lab.donor_id in donor_ref:
                obs["focus"] = [donor_ref[lab.donor_id]]
        out.append(obs)
    for k, inf in enumerate(rec.infusions):
        doses = [f"MNC {inf.mnc_1e8_per_kg} x10^8/kg"]
        if inf.cd34_1e6_per_kg is not None:
            doses.append(f"CD34+ {inf.cd34_1e6_per_kg} x10^6/kg")
        if inf.cd3_1e8_per_kg is not None:
            doses.append(f"CD3+ {inf.cd3_1e8_per_kg} x10^8/kg")
        out.append(
            {
                "resourceType": "Procedure",
                "id": _uuid("Procedure", p.id, "inf", k + 1),
                "status": "completed",
                "code": {
                    "text": f"G-CSF-mobilized PBSC infusion ({inf.product.value}), "
                    f"course {inf.course_number}"
                },
                "subject": ref,
                "performedDateTime": _datetime(inf.infused_at, tz, p.center_id),
                **({"performer": [{"actor": donor_ref[inf.donor_id]}]}
                   if inf.donor_id in donor_ref else {}),
                "note": [{"text": "; ".join(doses)}, {"text": f"donor {inf.donor_id}"}],
            }
        )
    for c in rec.courses:
        for k, a in enumerate(c.administrations):
            when = c.start_date + dt.timedelta(days=a.day - 1)
            ma: dict[str, Any] = {
                "resourceType": "MedicationAdministration",
                "id": _uuid("MedicationAdministration", p.id, "c", c.number, "d", k + 1),
                "status": "completed",
                "medicationCodeableConcept": {
                    "coding": [{"system": DRUG_SYSTEM, "code": a.drug}],
                    "text": a.drug,
                },
                "subject": ref,
                "effectiveDateTime": when.isoformat(),
                "dosage": {
                    "dose": {"value": float(a.dose), "unit": a.unit.value},
                    "text": f"course {c.number} ({c.kind.value}, {c.regimen_id}), day {a.day}",
                },
            }
            atc = _CODES["drug"]["codes"].get(a.drug)
            if atc is not None:
                ma["medicationCodeableConcept"]["coding"].insert(
                    0, {"system": _CODES["drug"]["system"], **atc})
            if a.route is not None:
                ma["dosage"]["route"] = {"text": _ROUTES.get(a.route, a.route)}
            out.append(ma)
    out.extend(_responses_and_events(rec, ref))
    return out


def _responses_and_events(rec: PatientRecord, ref: dict[str, str]) -> list[dict[str, Any]]:
    """Responses as mCODE CancerDiseaseStatus observations; GVHD and CRS as Conditions with
    their grade; the cause of death as an observation."""
    rc = _CODES["response"]
    trend = {cat: k for k, cats in rc["categories"].items() for cat in cats}
    out: list[dict[str, Any]] = []
    p = rec.patient
    for k, r in enumerate(rec.responses):
        key = trend.get(r.category.value)
        value: dict[str, Any] = {"text": r.category.value}
        if key is not None:
            value["coding"] = [{"system": SNOMED, **rc["values"][key]}]
        out.append({
            "resourceType": "Observation", "id": _uuid("Observation", p.id, "resp", k + 1),
            "meta": {"profile": [rc["profile"]]}, "status": "final",
            "code": {"coding": [rc["code"]]}, "subject": ref,
            "effectiveDateTime": r.date.isoformat(), "valueCodeableConcept": value,
        })
    for k, ev in enumerate(rec.events):
        if ev.kind.value in ("gvhd", "crs"):
            text = ("Acute graft-versus-host disease" if ev.kind.value == "gvhd"
                    else "Cytokine release syndrome")
            cond: dict[str, Any] = {
                "resourceType": "Condition", "id": _uuid("Condition", p.id, "ev", k + 1),
                "subject": ref, "code": {"coding": [{"system": EVENT_SYSTEM,
                                                     "code": ev.kind.value}], "text": text},
                "onsetDateTime": ev.date.isoformat(),
            }
            if ev.grade is not None:
                cond["severity"] = {"text": f"grade {ev.grade}"}
            out.append(cond)
        elif ev.kind.value == "death" and ev.cause is not None:
            out.append({
                "resourceType": "Observation", "id": _uuid("Observation", p.id, "cod"),
                "status": "final", "code": {"coding": [_CODES["cause_of_death"]["code"]]},
                "subject": ref, "effectiveDateTime": ev.date.isoformat(),
                "valueCodeableConcept": {"coding": [{"system": CAUSE_SYSTEM,
                                                     "code": ev.cause.value}],
                                         "text": ev.cause.value.replace("_", " ")},
            })
    return out


def _datetime(x: dt.datetime, tz: dt.tzinfo | None, center: str) -> str:
    """ISO date-time with its offset; a naive (local) time takes the center's time zone —
    never UTC by assumption."""
    if x.tzinfo is None:
        if tz is None:
            raise ValidationError(
                "timezone", center, f"the local time {x.isoformat()} of center {center} has "
                "no time zone: give the center's time zone (--timezone Europe/Berlin, or "
                f"{center}=Zone,...)")
        x = x.replace(tzinfo=tz)
    return x.isoformat()


def parse_timezones(spec: str | None) -> dict[str, dt.tzinfo]:
    """``"Europe/Berlin"`` (every center) or ``"C01=Europe/Berlin,C02=Asia/Shanghai"``;
    key ``*`` = every other center.

    Raises
    ------
    ValidationError
        An unknown time-zone name.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    out: dict[str, dt.tzinfo] = {}
    if not spec:
        return out
    for part in spec.split(","):
        center, sep, name = part.strip().rpartition("=")
        key = center.strip() if sep else "*"
        try:
            out[key] = ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError("--timezone", name.strip(), "is not a time-zone name "
                                  "(IANA, e.g. Europe/Berlin)") from None
    return out


def cohort_bundle(
    cohort: Cohort | Iterable[PatientRecord],
    include_birth_date: bool = True,
    progress: Callable[[int], None] | None = None,
    timezones: dict[str, dt.tzinfo] | None = None,
) -> dict[str, Any]:
    """A FHIR ``collection`` Bundle (JSON dict) of every patient record.

    Parameters
    ----------
    cohort : Cohort or iterable of PatientRecord
        The patients.
    include_birth_date : bool
        Put ``Patient.birthDate`` (False for de-identified exports).
    progress : callable, optional
        Called with 1 after each patient (for a progress bar).
    timezones : dict, optional
        Center id → time zone of its local date-times (key ``*``: every other center);
        see :func:`parse_timezones`.
    """
    records = cohort.records if isinstance(cohort, Cohort) else tuple(cohort)
    entries = []
    for rec in records:
        tzs = timezones or {}
        tz = tzs.get(rec.patient.center_id, tzs.get("*"))
        entries.extend(_entry(r) for r in record_resources(rec, include_birth_date, tz))
        if progress is not None:
            progress(1)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def validate_bundle(
    bundle: dict[str, Any], progress: Callable[[int], None] | None = None, chunk: int = 2000
) -> int:
    """Validate a bundle with the ``fhir.resources.R4B`` models; returns the entry count.

    Entries are validated in chunks of ``chunk`` (each chunk as a Bundle of the same type),
    so that ``progress`` can be called with the number of entries done after each chunk.

    Raises
    ------
    ValidationError
        Naming the first invalid resource (``bundle.entry.<i>.resource.<element>``) and the
        rule it breaks.
    """
    import pydantic
    from fhir.resources.R4B.bundle import Bundle

    entries = bundle.get("entry") or []
    head = {k: v for k, v in bundle.items() if k != "entry"}
    for start in range(0, max(len(entries), 1), chunk):
        part = entries[start : start + chunk]
        try:
            Bundle.model_validate({**head, **({"entry": part} if part else {})})
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            loc = [str(x) for x in err["loc"]]
            if len(loc) > 1 and loc[0] == "entry" and loc[1].isdigit():
                loc[1] = str(int(loc[1]) + start)
            raise ValidationError(f"bundle.{'.'.join(loc)}", err.get("input"), err["msg"]) from None
        if progress is not None:
            progress(len(part))
    return len(entries)
