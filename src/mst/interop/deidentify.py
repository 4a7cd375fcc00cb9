"""De-identified cohort: pseudonymous ids, per-patient date shift, no birth date, no free text.

What is removed or changed (docs/interop.md):

* patient ids → ``P000001``… in a seeded random order (the original ids are not kept);
  donor ids → ``<patient pseudonym>-D1``, ``-D2``…;
* every date and date-time of a patient (diagnosis, follow-up, courses, infusions, labs,
  events, responses) is shifted by the same random number of days (seeded; uniform in
  ``[-max_shift_days, +max_shift_days]``, never 0), so intervals between a patient's dates
  and every derived time (OS, LFS …) are unchanged;
* ``birth_date`` is removed; ``age_at_diagnosis`` is kept (computed from the birth date when
  it was missing);
* free text of clinical events (``detail``) is dropped;
* center names are replaced by their ids (center ids and countries are kept).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from mst.domain import Center, Cohort, PatientRecord
from mst.errors import ValidationError


def _age(birth: dt.date, at: dt.date) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def _shift_record(rec: PatientRecord, days: int, new_id: str) -> PatientRecord:
    d = dt.timedelta(days=days)
    p = rec.patient
    donor_ids = {don.id: f"{new_id}-D{k + 1}" for k, don in enumerate(rec.donors)}

    def sd(x: dt.date | None) -> dt.date | None:
        return None if x is None else x + d

    age = p.age_at_diagnosis
    if age is None and p.birth_date is not None:
        age = _age(p.birth_date, p.diagnosis_date)
    patient = p.model_copy(
        update={
            "id": new_id,
            "birth_date": None,
            "age_at_diagnosis": age,
            "diagnosis_date": p.diagnosis_date + d,
            "last_followup_date": sd(p.last_followup_date),
        }
    )
    upd: dict[str, Any] = {"patient": patient}
    upd["donors"] = tuple(
        x.model_copy(update={"id": donor_ids[x.id], "patient_id": new_id}) for x in rec.donors
    )
    upd["courses"] = tuple(
        x.model_copy(update={"patient_id": new_id, "start_date": x.start_date + d})
        for x in rec.courses
    )
    upd["infusions"] = tuple(
        x.model_copy(
            update={
                "patient_id": new_id,
                "infused_at": x.infused_at + d,
                "donor_id": donor_ids.get(x.donor_id, x.donor_id),
            }
        )
        for x in rec.infusions
    )
    upd["labs"] = tuple(
        x.model_copy(
            update={
                "patient_id": new_id,
                "date": x.date + d,
                "donor_id": None if x.donor_id is None else donor_ids.get(x.donor_id, x.donor_id),
            }
        )
        for x in rec.labs
    )
    upd["events"] = tuple(
        x.model_copy(update={"patient_id": new_id, "date": x.date + d, "detail": None})
        for x in rec.events
    )
    upd["responses"] = tuple(
        x.model_copy(update={"patient_id": new_id, "date": x.date + d}) for x in rec.responses
    )
    return rec.model_copy(update=upd)


def deidentify_cohort(
    cohort: Cohort, seed: int, max_shift_days: int = 365
) -> tuple[Cohort, dict[str, int]]:
    """Return a de-identified copy of ``cohort`` and the shift (days) per new id.

    Parameters
    ----------
    cohort : Cohort
        The identified cohort.
    seed : int
        Seed of the pseudonym order and the date shifts (>= 0).
    max_shift_days : int
        Largest absolute shift (> 0).

    Returns
    -------
    (Cohort, dict)
        The de-identified cohort (records sorted by new id) and ``{new id: shift}``; keep
        the shifts away from the data if they must remain secret.
    """
    if seed < 0:
        raise ValidationError("seed", seed, "must be >= 0")
    if max_shift_days < 1:
        raise ValidationError("max_shift_days", max_shift_days, "must be >= 1")
    rng = np.random.default_rng(seed)
    n = len(cohort.records)
    order = rng.permutation(n)
    mag = rng.integers(1, max_shift_days + 1, size=n)
    sign = np.where(rng.random(n) < 0.5, -1, 1)
    shifts = (mag * sign).astype(int)
    width = max(6, len(str(n)))
    recs = []
    out_shift: dict[str, int] = {}
    for k, rec in enumerate(cohort.records):
        new_id = f"P{int(order[k]) + 1:0{width}d}"
        recs.append(_shift_record(rec, int(shifts[k]), new_id))
        out_shift[new_id] = int(shifts[k])
    recs.sort(key=lambda r: r.patient.id)
    centers = tuple(Center(id=c.id, name=c.id, country=c.country) for c in cohort.centers)
    return Cohort(centers=centers, records=tuple(recs)), out_shift
