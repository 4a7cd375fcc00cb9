"""De-identified cohort: secret-key pseudonyms and date shifts, top-coded ages, no HLA/KIR.

What is removed or changed (docs/interop.md, "De-identification"):

* a **secret random key** (32 bytes from :mod:`secrets`) is drawn for every export unless
  the data custodian passes one; nothing is derived from a default seed. Patient ids become
  ``P000001``… in an order drawn from the key (the original ids are not kept); donor ids
  ``<pseudonym>-D1``…;
* every date of a patient is shifted by **one offset** (uniform in ``±max_shift_days``,
  never 0) computed as HMAC-SHA256(key, original id): without the key it cannot be derived
  from the patient count, the row order or another patient;
* the **last follow-up of a patient alive at the end** is moved earlier by a further random
  1…``censor_jitter_days`` days (never before the patient's last recorded date), so a
  published data cut-off (a common anchor of every survivor) does not give the offset away:
  cut-off minus the shifted last follow-up leaves the offset uncertain over that window;
* ``birth_date`` is removed; ``age_at_diagnosis`` is kept, ages ≥ 90 become 90 ("90 or
  older", HIPAA Safe Harbor);
* HLA typing (patient, donors), KIR genotypes and anti-HLA antibody specificities are
  dropped by default (unique per patient: they link a row back to a person); the HLA
  mismatch counts (x/10, x/12) computed before dropping are returned for the flat table;
* free text of clinical events (``detail``) is dropped; center names are replaced by ids.

The result also reports the k-anonymity of the quasi-identifiers that remain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mst.domain import Center, Cohort, EventKind, PatientRecord
from mst.errors import ValidationError

#: Ages at or above this are reported as this value (HIPAA Safe Harbor: "90 or older").
TOP_AGE = 90
#: Quasi-identifiers kept in the output, over which k-anonymity is reported.
QUASI_IDENTIFIERS = ("center_id", "sex", "age_at_diagnosis", "diagnosis", "diagnosis_year")


@dataclass
class Deidentified:
    """A de-identified cohort and what the custodian needs to know about it."""

    cohort: Cohort
    shifts: dict[str, int]
    key_hex: str
    hla_mismatches: dict[str, dict[str, int | None]] = field(default_factory=dict)
    k_anonymity: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def _age(birth: dt.date, at: dt.date) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def _unit(key: bytes, label: str, pid: str) -> float:
    """A uniform number in [0, 1) from HMAC-SHA256(key, label:pid)."""
    mac = hmac.new(key, f"{label}:{pid}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") / 2.0**64


def patient_shift(key: bytes, pid: str, max_shift_days: int) -> int:
    """The date offset of one patient: uniform in ``±max_shift_days``, never 0."""
    u = _unit(key, "shift", pid)
    k = int(u * 2 * max_shift_days)  # 0 … 2·max-1
    return k - max_shift_days if k < max_shift_days else k - max_shift_days + 1


def _last_recorded(rec: PatientRecord) -> dt.date:
    dates = [rec.patient.diagnosis_date]
    dates += [c.start_date for c in rec.courses]
    dates += [x.infused_at.date() if isinstance(x.infused_at, dt.datetime) else x.infused_at
              for x in rec.infusions]
    dates += [x.date for x in rec.labs] + [x.date for x in rec.events]
    dates += [x.date for x in rec.responses] + [x.date for x in rec.antibodies]
    return max(dates)


def _shift_record(rec: PatientRecord, days: int, new_id: str, censor_back: int,
                  keep_hla: bool) -> PatientRecord:
    d = dt.timedelta(days=days)
    p = rec.patient
    donor_ids = {don.id: f"{new_id}-D{k + 1}" for k, don in enumerate(rec.donors)}

    def sd(x: dt.date | None) -> dt.date | None:
        return None if x is None else x + d

    age = p.age_at_diagnosis
    if age is None and p.birth_date is not None:
        age = _age(p.birth_date, p.diagnosis_date)
    if age is not None and age >= TOP_AGE:
        age = TOP_AGE
    lfu = p.last_followup_date
    alive = not any(ev.kind is EventKind.DEATH for ev in rec.events)
    if lfu is not None and alive and censor_back > 0:
        lfu = max(lfu - dt.timedelta(days=censor_back), _last_recorded(rec))
    patient = p.model_copy(
        update={
            "id": new_id,
            "birth_date": None,
            "age_at_diagnosis": age,
            "diagnosis_date": p.diagnosis_date + d,
            "last_followup_date": sd(lfu),
            "hla_typing": p.hla_typing if keep_hla else None,
        }
    )
    upd: dict[str, Any] = {"patient": patient}
    hla: dict[str, Any] = {} if keep_hla else {"hla_typing": None, "kir_genotype": None}
    upd["donors"] = tuple(
        x.model_copy(update={"id": donor_ids[x.id], "patient_id": new_id, **hla})
        for x in rec.donors
    )
    upd["courses"] = tuple(
        x.model_copy(update={"patient_id": new_id, "start_date": x.start_date + d})
        for x in rec.courses
    )
    upd["infusions"] = tuple(
        x.model_copy(update={"patient_id": new_id, "infused_at": x.infused_at + d,
                             "donor_id": donor_ids.get(x.donor_id, x.donor_id)})
        for x in rec.infusions
    )
    upd["labs"] = tuple(
        x.model_copy(update={
            "patient_id": new_id, "date": x.date + d,
            "donor_id": None if x.donor_id is None else donor_ids.get(x.donor_id, x.donor_id)})
        for x in rec.labs
    )
    upd["events"] = tuple(
        x.model_copy(update={"patient_id": new_id, "date": x.date + d, "detail": None})
        for x in rec.events
    )
    upd["responses"] = tuple(
        x.model_copy(update={"patient_id": new_id, "date": x.date + d}) for x in rec.responses
    )
    upd["antibodies"] = (tuple(x.model_copy(update={"patient_id": new_id, "date": x.date + d})
                               for x in rec.antibodies) if keep_hla else ())
    return rec.model_copy(update=upd)


def k_anonymity(cohort: Cohort, quasi: tuple[str, ...] = QUASI_IDENTIFIERS) -> dict[str, Any]:
    """k-anonymity of the quasi-identifiers of a (de-identified) cohort.

    Returns
    -------
    dict
        ``quasi_identifiers``, ``k`` (size of the smallest class of patients sharing all of
        them), ``classes``, ``patients_in_classes_below_5`` and the same for the coarser
        (center, sex, 5-year age band) key.
    """
    def key(rec: PatientRecord, coarse: bool) -> tuple[Any, ...]:
        p = rec.patient
        vals = {"center_id": p.center_id, "sex": p.sex.value,
                "age_at_diagnosis": p.age_at_diagnosis, "diagnosis": p.diagnosis.value,
                "diagnosis_year": p.diagnosis_date.year}
        if coarse:
            return (p.center_id, p.sex.value, (p.age_at_diagnosis or 0) // 5 * 5)
        return tuple(vals[q] for q in quasi)

    out: dict[str, Any] = {"quasi_identifiers": list(quasi)}
    for name, coarse in (("exact", False), ("center_sex_age5", True)):
        counts = Counter(key(r, coarse) for r in cohort.records)
        sizes = list(counts.values())
        out[name] = {
            "k": min(sizes) if sizes else 0,
            "classes": len(sizes),
            "patients_in_classes_below_5": int(sum(s for s in sizes if s < 5)),
        }
    out["k"] = out["exact"]["k"]
    return out


def _mismatches(cohort: Cohort) -> list[dict[str, int | None]]:
    """HLA mismatch counts of every record against its first-course donor (the flat table's)."""
    import pandas as pd

    from mst.cohort.flat_table import hla_mismatches
    from mst.io.frames import frames_from_cohort

    mm = hla_mismatches(frames_from_cohort(cohort))
    return [{c: None if v is None or v is pd.NA else int(v) for c, v in row.items()}
            for row in mm.to_dict("records")]


def deidentify_cohort(
    cohort: Cohort,
    key: bytes | None = None,
    max_shift_days: int = 365,
    censor_jitter_days: int = 90,
    keep_hla: bool = False,
) -> Deidentified:
    """Return a de-identified copy of ``cohort`` (see the module docstring).

    Parameters
    ----------
    cohort : Cohort
        The identified cohort.
    key : bytes, optional
        Secret key (at least 16 bytes). A fresh random key is drawn when omitted; keep it
        (``key_hex``) with the custodian only if the same pseudonyms and shifts must be
        reproduced later.
    max_shift_days : int
        Largest absolute date shift (>= 1).
    censor_jitter_days : int
        Largest extra move of a survivor's last follow-up to an earlier date (>= 0).
    keep_hla : bool
        Keep HLA/KIR typing and antibody specificities (a limited data set at most).

    Returns
    -------
    Deidentified
        The cohort (records sorted by new id), the shift per new id (secret), the key,
        the HLA mismatch counts per new id, the k-anonymity report and a summary.
    """
    if key is None:
        key = secrets.token_bytes(32)
    if len(key) < 16:
        raise ValidationError("key", f"{len(key)} bytes", "must be at least 16 bytes")
    if max_shift_days < 1:
        raise ValidationError("max_shift_days", max_shift_days, "must be >= 1")
    if censor_jitter_days < 0:
        raise ValidationError("censor_jitter_days", censor_jitter_days, "must be >= 0")
    n = len(cohort.records)
    seed = int.from_bytes(hmac.new(key, b"order", hashlib.sha256).digest()[:8], "big")
    order = np.random.default_rng(seed).permutation(n)
    width = max(6, len(str(n)))
    recs = []
    shifts: dict[str, int] = {}
    mism: dict[str, dict[str, int | None]] = {}
    top_coded = 0
    counts = _mismatches(cohort)
    for k, rec in enumerate(cohort.records):
        pid = rec.patient.id
        new_id = f"P{int(order[k]) + 1:0{width}d}"
        s = patient_shift(key, pid, max_shift_days)
        back = 1 + int(_unit(key, "censor", pid) * censor_jitter_days) if censor_jitter_days \
            else 0
        mism[new_id] = counts[k]
        out = _shift_record(rec, s, new_id, back, keep_hla)
        top_coded += int(rec.patient.age >= TOP_AGE)
        recs.append(out)
        shifts[new_id] = s
    recs.sort(key=lambda r: r.patient.id)
    centers = tuple(Center(id=c.id, name=c.id, country=c.country) for c in cohort.centers)
    result = Cohort(centers=centers, records=tuple(recs))
    kan = k_anonymity(result)
    summary = {
        "patients": n,
        "removed": ["birth_date", "event free text", "center names", "original ids"]
        + ([] if keep_hla else ["HLA typing", "KIR genotypes", "anti-HLA antibodies"]),
        "changed": ["patient and donor ids (key-derived pseudonyms)",
                    f"dates (one secret offset per patient, ±{max_shift_days} days)",
                    f"survivors' last follow-up (earlier by 1-{censor_jitter_days} days)",
                    f"ages >= {TOP_AGE} reported as {TOP_AGE} ({top_coded} patient(s))"],
        "status": ("limited data set (shifted dates; HIPAA 164.514(e)) - not Safe Harbor"
                   + ("; HLA/KIR kept" if keep_hla else "")),
        "k_anonymity": kan,
    }
    return Deidentified(result, shifts, key.hex(), mism, kan, summary)
