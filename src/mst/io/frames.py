"""A cohort as one DataFrame per record type: the columnar twin of :class:`mst.domain.Cohort`.

Large cohorts are read, validated and analysed column by column (the exchange reader and the
flat analysis table work on these frames); :func:`frames_from_cohort` gives the same frames
from validated objects (registry, simulator), so both paths meet in one representation.

Schema (:data:`SCHEMA`): column names are the model field names (``id`` for a center's,
patient's or donor's own id; ``patient_id`` links children to their patient), every frame in
record order (the file order for a file) with a default ``RangeIndex``. Dtypes:

* identifiers, enum values and free text: ``object`` holding ``str`` or ``None``;
* dates: ``datetime64[ns]`` at midnight, ``NaT`` when missing; ``infused_at``: ``datetime64[ns]``
  (local wall-clock time of the center, no offset);
* integers: pandas ``Int64`` (``<NA>`` when missing); other numbers: ``float64`` (``NaN``);
* lab values in the analyte's canonical unit (as :class:`mst.domain.LabResult` stores them).

Every frame also has a ``row`` column (``Int64``): the file row a record came from, for
messages (``<NA>`` when the record did not come from a file).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

import pandas as pd

from mst.domain import Center, Cohort, PatientRecord
from mst.errors import ValidationError

#: Column → dtype of each frame, in column order (``row`` is added to every frame).
SCHEMA: dict[str, dict[str, str]] = {
    "centers": {"id": "object", "name": "object", "country": "object"},
    "patients": {
        "id": "object",
        "center_id": "object",
        "sex": "object",
        "birth_date": "datetime64[ns]",
        "age_at_diagnosis": "Int64",
        "diagnosis": "object",
        "diagnosis_date": "datetime64[ns]",
        "eln_risk": "object",
        "fitness": "object",
        "height_cm": "float64",
        "weight_kg": "float64",
        "last_followup_date": "datetime64[ns]",
        "hla_typing": "object",
    },
    "donors": {
        "patient_id": "object",
        "id": "object",
        "relationship": "object",
        "sex": "object",
        "age": "Int64",
        "hla_typing": "object",
        "kir_genotype": "object",
    },
    "courses": {
        "patient_id": "object",
        "number": "Int64",
        "kind": "object",
        "regimen_id": "object",
        "start_date": "datetime64[ns]",
    },
    "administrations": {
        "patient_id": "object",
        "course_number": "Int64",
        "drug": "object",
        "dose": "float64",
        "unit": "object",
        "day": "Int64",
        "route": "object",
    },
    "infusions": {
        "patient_id": "object",
        "course_number": "Int64",
        "donor_id": "object",
        "infused_at": "datetime64[ns]",
        "mnc_1e8_per_kg": "float64",
        "cd34_1e6_per_kg": "float64",
        "cd3_1e8_per_kg": "float64",
        "product": "object",
    },
    "labs": {
        "patient_id": "object",
        "date": "datetime64[ns]",
        "analyte": "object",
        "value": "float64",
        "unit": "object",
        "donor_id": "object",
    },
    "events": {
        "patient_id": "object",
        "date": "datetime64[ns]",
        "kind": "object",
        "grade": "Int64",
        "cause": "object",
        "detail": "object",
    },
    "responses": {"patient_id": "object", "date": "datetime64[ns]", "category": "object"},
    "antibodies": {
        "patient_id": "object",
        "date": "datetime64[ns]",
        "specificity": "object",
        "mfi": "float64",
    },
}


@dataclass(frozen=True)
class CohortFrames:
    """A validated cohort, one DataFrame per record type (see the module docstring)."""

    centers: pd.DataFrame
    patients: pd.DataFrame
    donors: pd.DataFrame
    courses: pd.DataFrame
    administrations: pd.DataFrame
    infusions: pd.DataFrame
    labs: pd.DataFrame
    events: pd.DataFrame
    responses: pd.DataFrame
    antibodies: pd.DataFrame

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """Yield ``(name, frame)`` for every record type, in :data:`SCHEMA` order."""
        for f in fields(self):
            yield f.name, getattr(self, f.name)


def _plain_column(values: list[Any]) -> list[Any]:
    # Enum members (StrEnum/IntEnum) become their plain value; everything else is kept.
    return [v.value if isinstance(v, Enum) else v for v in values]


def frame(name: str, columns: dict[str, list[Any]], length: int) -> pd.DataFrame:
    """Build one frame of :data:`SCHEMA` from value lists.

    Parameters
    ----------
    name : str
        A key of :data:`SCHEMA` (``"labs"``, ...).
    columns : dict of str to list
        Values of each column (a missing column is all missing); ``row`` optional.
    length : int
        Number of records.

    Returns
    -------
    pandas.DataFrame
        With exactly the schema's columns and dtypes, plus ``row``.
    """
    if name not in SCHEMA:
        raise ValidationError("frame", name, f"must be one of {list(SCHEMA)}")
    schema = {**SCHEMA[name], "row": "Int64"}
    unknown = [c for c in columns if c not in schema]
    if unknown:
        raise ValidationError(f"frames.{name}", unknown[0], "is not a column of the frame")
    out: dict[str, pd.Series] = {}
    for c, dtype in schema.items():
        values = columns.get(c)
        if values is None:
            values = [None] * length
        elif len(values) != length:
            raise ValidationError(f"frames.{name}.{c}", len(values), f"must have {length} values")
        if dtype.startswith("datetime64"):
            out[c] = pd.Series(pd.to_datetime(values), dtype=dtype)
        elif dtype == "object":
            out[c] = pd.Series(_plain_column(values), dtype="object")
        else:
            out[c] = pd.Series(_plain_column(values), dtype=dtype)
    return pd.DataFrame(out, columns=list(schema))


def _day(value: dt.date | None) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime(value.year, value.month, value.day)


def _attrs(items: list[Any], names: Iterable[str]) -> dict[str, list[Any]]:
    return {n: [getattr(x, n) for x in items] for n in names}


def frames_from_cohort(cohort: Cohort) -> CohortFrames:
    """The frames of a validated cohort (objects → columns).

    Parameters
    ----------
    cohort : mst.domain.Cohort
        A cohort that passed its consistency checks.

    Returns
    -------
    CohortFrames
        ``row`` is missing (``<NA>``) in every frame.
    """
    return frames_from_records(cohort.records, cohort.centers)


def frames_from_records(
    records: Iterable[PatientRecord], centers: Iterable[Center] = ()
) -> CohortFrames:
    """The frames of patient records (and centers), as :func:`frames_from_cohort`.

    Parameters
    ----------
    records : iterable of mst.domain.PatientRecord
        Consistent records, in the order of the patient rows.
    centers : iterable of mst.domain.Center, optional
        The centers frame's rows (empty by default).

    Returns
    -------
    CohortFrames
        ``row`` is missing (``<NA>``) in every frame.
    """
    recs = list(records)
    lists: dict[str, list[Any]] = {
        "centers": list(centers),
        "patients": [r.patient for r in recs],
        "donors": [d for r in recs for d in r.donors],
        "courses": [c for r in recs for c in r.courses],
        "infusions": [x for r in recs for x in r.infusions],
        "labs": [x for r in recs for x in r.labs],
        "events": [x for r in recs for x in r.events],
        "responses": [x for r in recs for x in r.responses],
        "antibodies": [x for r in recs for x in r.antibodies],
    }
    out: dict[str, pd.DataFrame] = {}
    for name, items in lists.items():
        cols = _attrs(items, SCHEMA[name])
        for c, dtype in SCHEMA[name].items():
            if dtype.startswith("datetime64") and c != "infused_at":
                cols[c] = [_day(v) for v in cols[c]]
        out[name] = frame(name, cols, len(items))
    admins = [(c, a) for c in lists["courses"] for a in c.administrations]
    cols = _attrs([a for _, a in admins], ("drug", "dose", "unit", "day", "route"))
    cols["patient_id"] = [c.patient_id for c, _ in admins]
    cols["course_number"] = [c.number for c, _ in admins]
    out["administrations"] = frame("administrations", cols, len(admins))
    return CohortFrames(**out)


def check_schema(frames: CohortFrames) -> None:
    """Raise if a frame's columns or dtypes differ from :data:`SCHEMA` (a programming error).

    Parameters
    ----------
    frames : CohortFrames
        Frames to check.

    Raises
    ------
    mst.errors.ValidationError
        Naming the frame and the column.
    """
    for name, df in frames.items():
        schema = {**SCHEMA[name], "row": "Int64"}
        if list(df.columns) != list(schema):
            raise ValidationError(
                f"frames.{name}", list(df.columns), f"columns must be {list(schema)}"
            )
        for c, dtype in schema.items():
            if str(df[c].dtype) != dtype:
                raise ValidationError(
                    f"frames.{name}.{c}", str(df[c].dtype), f"dtype must be {dtype}"
                )
