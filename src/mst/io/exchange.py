"""The cohort exchange format: every record of a cohort in one CSV or XLSX file.

A CSV file holds one row per entity, stacked, with a ``record_type`` column
(``center``, ``patient``, ``donor``, ``course``, ``administration``,
``infusion``, ``lab``, ``event``, ``response``) and the union of the entity
fields as further columns; a row fills only the columns of its type. An XLSX
file has one sheet per record type with only that type's columns. Both are
lossless: reading a written file gives back equal objects (floats are written
with the shortest representation that round-trips, dates as ISO 8601).

Errors name the file row (the line number, header = row 1), the field and the
rule, and nothing is returned when any row is rejected.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from mst.domain import (
    AntibodyResult,
    Center,
    ClinicalEvent,
    Cohort,
    Course,
    Donor,
    DrugAdministration,
    Infusion,
    LabResult,
    Patient,
    PatientRecord,
    ResponseAssessment,
    parse,
)
from mst.errors import ConsistencyError, ValidationError
from mst.io.tabular import MISSING_TOKENS, check_header

#: Columns of each record type, in file order. The patient's own id is in
#: ``patient_id``, a center's in ``center_id`` and a donor's in ``donor_id``.
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "center": ("center_id", "name", "country"),
    "patient": (
        "patient_id",
        "center_id",
        "sex",
        "birth_date",
        "age_at_diagnosis",
        "diagnosis",
        "diagnosis_date",
        "eln_risk",
        "fitness",
        "height_cm",
        "weight_kg",
        "last_followup_date",
        "hla_typing",
    ),
    "donor": ("patient_id", "donor_id", "relationship", "sex", "age", "hla_typing", "kir_genotype"),
    "course": ("patient_id", "course_number", "kind", "regimen_id", "start_date"),
    "administration": ("patient_id", "course_number", "drug", "dose", "unit", "day", "route"),
    "infusion": (
        "patient_id",
        "course_number",
        "donor_id",
        "infused_at",
        "mnc_1e8_per_kg",
        "cd34_1e6_per_kg",
        "cd3_1e8_per_kg",
        "product",
    ),
    "lab": ("patient_id", "date", "analyte", "value", "unit", "donor_id"),
    "event": ("patient_id", "date", "kind", "grade", "cause", "detail"),
    "response": ("patient_id", "date", "category"),
    "antibody": ("patient_id", "date", "specificity", "mfi"),
}

COLUMNS: tuple[str, ...] = ("record_type",) + tuple(
    dict.fromkeys(f for fields in RECORD_FIELDS.values() for f in fields)
)

# Renames between file columns and model fields, per record type.
_TO_MODEL: dict[str, dict[str, str]] = {
    "center": {"center_id": "id"},
    "patient": {"patient_id": "id"},
    "donor": {"donor_id": "id"},
    "course": {"course_number": "number"},
}


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return str(value.value)
    return str(value)


def cohort_rows(cohort: Cohort) -> Iterator[dict[str, Any]]:
    """Yield the exchange rows of a cohort, each a dict with ``record_type``.

    Parameters
    ----------
    cohort : mst.domain.Cohort
        Centers and patient records.

    Yields
    ------
    dict
        One row per entity: centers first, then each patient followed by its
        donors, courses, administrations, infusions, labs, events, responses.
    """
    for c in cohort.centers:
        yield {"record_type": "center", "center_id": c.id, "name": c.name, "country": c.country}
    for rec in cohort.records:
        yield from record_rows(rec)


def record_rows(rec: PatientRecord) -> Iterator[dict[str, Any]]:
    """Yield the exchange rows of one patient record (see :func:`cohort_rows`)."""
    p = rec.patient
    row = p.model_dump()
    row["patient_id"] = row.pop("id")
    yield {"record_type": "patient", **row}
    for d in rec.donors:
        row = d.model_dump()
        row["donor_id"] = row.pop("id")
        yield {"record_type": "donor", **row}
    for c in rec.courses:
        yield {
            "record_type": "course",
            "patient_id": c.patient_id,
            "course_number": c.number,
            "kind": c.kind,
            "regimen_id": c.regimen_id,
            "start_date": c.start_date,
        }
        for a in c.administrations:
            yield {
                "record_type": "administration",
                "patient_id": c.patient_id,
                "course_number": c.number,
                **a.model_dump(),
            }
    for kind, items in (
        ("infusion", rec.infusions),
        ("lab", rec.labs),
        ("event", rec.events),
        ("response", rec.responses),
        ("antibody", rec.antibodies),
    ):
        for item in items:
            yield {"record_type": kind, **item.model_dump()}


def write_cohort(cohort: Cohort, path: str | Path) -> None:
    """Write a cohort to ``path`` (``.csv`` or ``.xlsx``, chosen by the suffix).

    Parameters
    ----------
    cohort : mst.domain.Cohort
        What to write.
    path : str or pathlib.Path
        Output file.

    Raises
    ------
    mst.errors.ValidationError
        If the suffix is neither ``.csv`` nor ``.xlsx``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        path.write_text(cohort_to_csv(cohort), encoding="utf-8", newline="")
    elif suffix == ".xlsx":
        _write_xlsx(cohort, path)
    else:
        raise ValidationError("path", str(path), "must end in .csv or .xlsx")


def cohort_to_csv(cohort: Cohort) -> str:
    """Return the CSV text of a cohort (deterministic: same cohort, same bytes)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in cohort_rows(cohort):
        writer.writerow({k: _fmt(v) for k, v in row.items()})
    return buf.getvalue()


def _new_workbook() -> tuple[Any, dict[str, Any]]:
    """An exchange workbook: one sheet per record type with its header row, fixed
    timestamps (same cohort, same bytes). Returns the workbook and its sheets by type."""
    from openpyxl import Workbook

    wb = Workbook()
    fixed = dt.datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    sheets = {}
    for i, (kind, fields) in enumerate(RECORD_FIELDS.items()):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = kind
        ws.append(list(fields))
        sheets[kind] = ws
    return wb, sheets


def _write_xlsx(cohort: Cohort, path: Path) -> None:
    wb, sheets = _new_workbook()
    for row in cohort_rows(cohort):
        kind = row["record_type"]
        sheets[kind].append([_xlsx_value(row.get(f)) for f in RECORD_FIELDS[kind]])
    wb.save(path)


def _xlsx_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return _fmt(value)


def read_cohort(
    path: str | Path,
    encoding: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Cohort:
    """Read and validate an exchange file (CSV or XLSX).

    Parameters
    ----------
    path : str or pathlib.Path
        A file written by :func:`write_cohort` or prepared by hand in the same layout.
    encoding : str, optional
        Text encoding of a CSV file without a byte-order mark (UTF-8 by default; see
        :func:`mst.io.tabular.decode_bytes`).
    progress : callable, optional
        Called as ``progress(rows_done, rows_total)`` as the record types are validated.

    Returns
    -------
    mst.domain.Cohort
        Validated centers and records; every record passed
        :meth:`~mst.domain.PatientRecord.check_consistency`. The file is read and validated
        column by column (:func:`mst.io.exchange_frames.read_frames`, the one validator of
        every path); the objects are built from the validated columns without validating
        them again.

    Raises
    ------
    mst.errors.ValidationError
        A row breaks a field rule; the message names the row, the field and the rule.
        Binary content, an undecodable file, a cell longer than :data:`MAX_FIELD_CHARS`.
    mst.errors.ConsistencyError
        Records contradict each other (e.g. an event after death).
    """
    from mst.io.exchange_frames import cohort_from_frames, read_frames

    return cohort_from_frames(read_frames(path, encoding=encoding, progress=progress))


_KNOWN_COLUMNS = frozenset(COLUMNS)

#: Longest cell accepted in an exchange file (a GL string of a few hundred alleles fits).
MAX_FIELD_CHARS = 10_000


def _csv_rows(fh: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(fh, strict=True)
    try:
        fieldnames = reader.fieldnames
        if fieldnames is None or "record_type" not in fieldnames:
            raise ValidationError(
                "row 1", None, "the header must contain a record_type column (is this an "
                "exchange file written by mst export?)"
            )
        check_header(list(fieldnames), "row 1")  # unnamed or repeated columns
        unknown = [f for f in fieldnames if f not in _KNOWN_COLUMNS]
        if unknown:
            raise ValidationError(
                "row 1", unknown[0], "is not a column of the exchange format (docs/registry.md)"
            )
        for i, row in enumerate(reader, start=2):
            check_cells(i, row)
            yield i, row
    except csv.Error as exc:
        raise ValidationError(
            f"row {reader.line_num}", None, f"is not well-formed CSV ({exc})"
        ) from None


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationError("file", str(path), "is not a readable XLSX workbook") from exc
    try:
        unknown = [n for n in wb.sheetnames if n not in RECORD_FIELDS]
        if unknown:
            raise ValidationError("sheet", unknown[0], f"must be one of {list(RECORD_FIELDS)}")
        rows: list[tuple[int, dict[str, Any]]] = []
        for kind in RECORD_FIELDS:
            if kind not in wb.sheetnames:
                continue
            it = wb[kind].iter_rows(values_only=True)
            header = [str(h) if h is not None else "" for h in next(it, ())]
            for i, values in enumerate(it, start=2):
                if all(v is None for v in values):
                    continue
                row = dict(zip(header, values, strict=False))
                row["record_type"] = kind
                rows.append((i, {k: _cell(v) for k, v in row.items()}))
        # Patients must come before their children: the sheet order guarantees it.
        yield from ((i, {**r, "_sheet": r["record_type"]}) for i, r in rows)
    finally:
        wb.close()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _clean(row: dict[str, Any], kind: str) -> dict[str, Any]:
    fields = RECORD_FIELDS[kind]
    renames = _TO_MODEL.get(kind, {})
    out: dict[str, Any] = {}
    for f in fields:
        v = row.get(f, "")
        if isinstance(v, str):
            v = v.strip()
            if v in MISSING_TOKENS:
                continue
        if v is None:
            continue
        out[renames.get(f, f)] = v
    return out


def check_cells(i: int, row: dict[str, Any]) -> None:
    """Refuse a CSV row with more cells than the header or a cell over :data:`MAX_FIELD_CHARS`.

    Parameters
    ----------
    i : int
        File row (header = row 1).
    row : dict
        Cells by column name as :class:`csv.DictReader` gives them (extra cells under ``None``).

    Raises
    ------
    mst.errors.ValidationError
        Naming the row (and the column of a cell that is too long).
    """
    if None in row:
        raise ValidationError(f"row {i}", None, "has more cells than the header")
    for k, v in row.items():
        if isinstance(v, str) and len(v) > MAX_FIELD_CHARS:
            raise ValidationError(
                f"row {i}: {k}",
                None,
                f"cell of {len(v)} characters is longer than the limit ({MAX_FIELD_CHARS})",
            )


def _new_bucket(patient: Patient | None, i: int) -> dict[str, Any]:
    return {
        "patient": patient,
        "row": i,
        "donors": [],
        "courses": {},
        "infusions": [],
        "labs": [],
        "events": [],
        "responses": [],
        "antibodies": [],
    }


def _int_key(number: Any, where: str) -> int:
    try:
        return int(number)
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: course_number", number, "must be an integer") from None


def row_where(i: int, row: dict[str, Any]) -> str:
    """The place of a row in messages: ``row 12`` (CSV) or ``sheet lab row 12`` (XLSX)."""
    sheet = row.get("_sheet")
    return f"sheet {sheet} row {i}" if sheet else f"row {i}"


class RowBuilder:
    """The row-by-row reader of exchange rows: the reference for every rule and message.

    :func:`cohort_from_rows` feeds it every row; the columnar reader
    (:mod:`mst.io.exchange_frames`) replays single rows through it (with the lookups of
    :class:`ReplayBuilder`) so that both give the same message for the same file.
    """

    def __init__(self) -> None:
        self.centers: list[Center] = []
        self.patients: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.donor_rows: dict[str, tuple[int, str]] = {}

    # Lookups of earlier rows (overridden by the replay).
    def _patient_known(self, pid: Any, i: int) -> bool:
        return pid in self.patients

    def _bucket(self, pid: Any, i: int) -> dict[str, Any]:
        return self.patients[pid]

    def _donor_first(self, did: str, i: int) -> tuple[int, str] | None:
        return self.donor_rows.get(did)

    def _note_patient(self, patient: Patient, i: int) -> None:
        self.patients[patient.id] = _new_bucket(patient, i)
        self.order.append(patient.id)

    def _note_donor(self, did: str, i: int, pid: str) -> None:
        self.donor_rows[did] = (i, pid)

    def add(self, i: int, row: dict[str, Any]) -> Any:
        """Check one row against the rows before it; return what it parsed to.

        Returns
        -------
        object
            The validated model (a course's cleaned data: courses are validated with
            their administrations by :meth:`records`).
        """
        where = row_where(i, row)
        kind = str(row.get("record_type", "")).strip()
        if kind not in RECORD_FIELDS:
            raise ValidationError(
                f"{where}: record_type", kind, f"must be one of {list(RECORD_FIELDS)}"
            )
        data = _clean(row, kind)
        if kind == "center":
            center = parse(Center, data, where)
            self.centers.append(center)
            return center
        if kind == "patient":
            patient = parse(Patient, data, where)
            if self._patient_known(patient.id, i):
                raise ValidationError(
                    f"{where}: patient_id", patient.id, "must be unique in the file"
                )
            self._note_patient(patient, i)
            return patient
        pid = data.get("patient_id")
        if not self._patient_known(pid, i):
            raise ValidationError(
                f"{where}: patient_id", pid, "must name a patient listed on an earlier row"
            )
        bucket = self._bucket(pid, i)
        if kind == "donor":
            donor = parse(Donor, data, where)
            first = self._donor_first(donor.id, i)
            if first is not None:
                first_row, first_pid = first
                raise ValidationError(
                    f"{where}: donor_id",
                    donor.id,
                    f"already used on row {first_row} (patient {first_pid}): a donor id must "
                    "be unique in the file",
                )
            self._note_donor(donor.id, i, pid)  # type: ignore[arg-type]
            bucket["donors"].append(donor)
            return donor
        if kind == "course":
            key = _int_key(data.get("number"), where)
            if key in bucket["courses"]:
                raise ValidationError(f"{where}: course_number", key, "must be unique per patient")
            bucket["courses"][key] = {"data": data, "row": i, "administrations": []}
            return data
        if kind == "administration":
            key = _int_key(data.pop("course_number", None), where)
            if key not in bucket["courses"]:
                raise ValidationError(
                    f"{where}: course_number", key, "must name a course listed on an earlier row"
                )
            data.pop("patient_id", None)
            adm = parse(DrugAdministration, data, where)
            bucket["courses"][key]["administrations"].append(adm)
            return adm
        model, bucket_key = _CHILDREN[kind]
        obj = parse(model, data, where)
        bucket[bucket_key].append(obj)
        return obj

    def records(self) -> Cohort:
        """Validate courses and every record, then the cohort (after the last row)."""
        records: list[PatientRecord] = []
        for pid in self.order:
            b = self.patients[pid]
            courses = tuple(
                parse_course(c["data"], c["administrations"], c["row"])
                for c in b["courses"].values()
            )
            rec = PatientRecord(
                patient=b["patient"],
                donors=tuple(b["donors"]),
                courses=courses,
                infusions=tuple(b["infusions"]),
                labs=tuple(b["labs"]),
                events=tuple(b["events"]),
                responses=tuple(b["responses"]),
                antibodies=tuple(b["antibodies"]),
            )
            check_record(rec, b["row"])
            records.append(rec)
        cohort = Cohort(centers=tuple(self.centers), records=tuple(records))
        cohort.check_consistency()
        return cohort


_CHILDREN: dict[str, tuple[type[Any], str]] = {
    "infusion": (Infusion, "infusions"),
    "lab": (LabResult, "labs"),
    "event": (ClinicalEvent, "events"),
    "response": (ResponseAssessment, "responses"),
    "antibody": (AntibodyResult, "antibodies"),
}


def parse_course(data: dict[str, Any], administrations: Iterable[DrugAdministration],
                 row: int) -> Course:
    """Validate a course row's cleaned data with its administrations (message: ``row N``)."""
    return parse(Course, {**data, "administrations": list(administrations)}, f"row {row}")


def check_record(rec: PatientRecord, row: int) -> None:
    """Run a record's consistency checks; the message names the patient's file row."""
    try:
        rec.check_consistency()
    except ConsistencyError as exc:
        raise ConsistencyError(f"row {row}: {exc.entity}", exc.rule) from None


def cohort_from_rows(rows: Iterable[tuple[int, dict[str, Any]]]) -> Cohort:
    """Build a validated cohort from numbered exchange rows, one row at a time.

    The reference implementation of the exchange rules (:func:`read_cohort` reads files
    column by column and must agree with it: same acceptance, same message).

    Parameters
    ----------
    rows : iterable of (int, dict)
        Row number (for messages) and the row's cells by column name.

    Returns
    -------
    mst.domain.Cohort
        See :func:`read_cohort`.
    """
    builder = RowBuilder()
    for i, row in rows:
        builder.add(i, row)
    return builder.records()
