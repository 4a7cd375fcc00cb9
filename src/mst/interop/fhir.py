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
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

import yaml

from mst.domain import Cohort, PatientRecord
from mst.errors import ValidationError

ANALYTE_SYSTEM = "https://github.com/mst-project/mst/fhir/CodeSystem/analyte"
DRUG_SYSTEM = "https://github.com/mst-project/mst/fhir/CodeSystem/drug"
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


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{resource['resourceType'].lower()}-{resource['id']}",
        "resource": resource,
    }


def _rid(*parts: object) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) from parts (underscores become '-')."""
    s = "-".join(str(p) for p in parts).replace("_", "-")
    return s[:64]


def record_resources(rec: PatientRecord, include_birth_date: bool = True) -> list[dict[str, Any]]:
    """FHIR resources (JSON dicts) of one patient record."""
    p = rec.patient
    pid = _rid(p.id)
    ref = {"reference": f"Patient/{pid}"}
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
        "id": _rid(p.id, "dx"),
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
    out.append(cond)
    for k, lab in enumerate(rec.labs):
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": _rid(p.id, "lab", k + 1),
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
        if lab.donor_id is not None:
            obs["note"] = [{"text": f"donor {lab.donor_id}"}]
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
                "id": _rid(p.id, "inf", k + 1),
                "status": "completed",
                "code": {
                    "text": f"G-CSF-mobilized PBSC infusion ({inf.product.value}), "
                    f"course {inf.course_number}"
                },
                "subject": ref,
                "performedDateTime": _datetime(inf.infused_at),
                "note": [{"text": "; ".join(doses)}, {"text": f"donor {inf.donor_id}"}],
            }
        )
    for c in rec.courses:
        for k, a in enumerate(c.administrations):
            when = c.start_date + dt.timedelta(days=a.day - 1)
            ma: dict[str, Any] = {
                "resourceType": "MedicationAdministration",
                "id": _rid(p.id, "c", c.number, "d", k + 1),
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
            if a.route is not None:
                ma["dosage"]["route"] = {"text": _ROUTES.get(a.route, a.route)}
            out.append(ma)
    return out


def _datetime(x: dt.datetime) -> str:
    if x.tzinfo is None:
        x = x.replace(tzinfo=dt.UTC)
    return x.isoformat()


def cohort_bundle(
    cohort: Cohort | Iterable[PatientRecord],
    include_birth_date: bool = True,
    progress: Callable[[int], None] | None = None,
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
    """
    records = cohort.records if isinstance(cohort, Cohort) else tuple(cohort)
    entries = []
    for rec in records:
        entries.extend(_entry(r) for r in record_resources(rec, include_birth_date))
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
