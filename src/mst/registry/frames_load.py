"""Read the registry as :class:`~mst.io.frames.CohortFrames`: one query per table, no objects.

:meth:`mst.registry.repository.Repository.load_cohort` builds one pydantic object per row
(about two million at 10,000 patients); the readers that only need columns (the export, the
flat analysis table of the web app, the federated node and the report) read the same rows
here, table by table, straight into the frames' columns. What is read is exactly what
``load_cohort`` gives, as :func:`mst.io.frames.frames_from_cohort` would lay it out:

* the repository's center scope and the optional ``center_id`` (patients of other centers,
  and their children, are not read);
* soft-deleted records are not in the record tables (they live in ``deleted_records``), so
  nothing of them is read;
* patients by id; donors by (patient, donor id); courses by (patient, number);
  administrations by (patient, course number, entry order); infusions, labs, events,
  responses and antibodies by (patient, entry order) — the order of the records' tuples;
* enum values as their plain text, dates as ``datetime64[ns]`` at midnight, ``infused_at`` as
  the stored wall-clock time, integers ``Int64``, numbers ``float64``, ``row`` missing.

Rows are fetched in partitions and every text column is de-duplicated (each distinct value is
kept once), so memory stays near the size of the finished frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import String, cast, select
from sqlalchemy.engine import Connection

from mst.io.frames import SCHEMA, CohortFrames
from mst.registry.schema import (
    AdministrationRow,
    AntibodyRow,
    CenterRow,
    CourseRow,
    DonorRow,
    EventRow,
    InfusionRow,
    LabRow,
    PatientRow,
    ResponseRow,
)

#: Rows fetched from the driver at a time.
PARTITION = 100_000

#: Table of each patient-child frame (their columns have the frame's names).
_CHILDREN: dict[str, Any] = {
    "infusions": InfusionRow,
    "labs": LabRow,
    "events": EventRow,
    "responses": ResponseRow,
    "antibodies": AntibodyRow,
}


def _column(table: Any, name: str, dtype: str) -> Any:
    col = getattr(table, name)
    # dates and times as ISO text on both backends: no per-value driver conversion
    return cast(col, String).label(name) if dtype.startswith("datetime64") else col.label(name)


def _text(values: np.ndarray) -> np.ndarray:
    """An object array whose equal strings are one object (``None`` kept)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    pool = np.empty(len(uniques) + 1, dtype=object)
    pool[: len(uniques)] = uniques
    pool[-1] = None
    return pool[codes]  # code -1 (missing) picks the trailing None


def _typed(name: str, values: list[Any], dtype: str) -> pd.Series:
    if dtype == "object":
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return pd.Series(_text(arr), dtype="object", name=name)
    if dtype.startswith("datetime64"):
        if name == "infused_at":
            out = pd.to_datetime(pd.Series(values, dtype="object"), format="ISO8601")
        else:
            out = pd.to_datetime(pd.Series(values, dtype="object"), format="%Y-%m-%d")
        return out.astype(dtype).rename(name)
    if dtype == "Int64":
        return pd.Series(pd.array(values, dtype="Int64"), name=name)
    return pd.Series(np.array(values, dtype="float64"), name=name)  # None -> nan


def _read(conn: Connection, stmt: Any, name: str, extra: dict[str, str]) -> pd.DataFrame:
    """Run ``stmt`` (columns: the frame's, then ``extra``) into a frame of the schema.

    The result is fetched in partitions; each partition's columns are typed at once.
    """
    schema = {**SCHEMA[name], **extra}
    parts: list[dict[str, pd.Series]] = []
    result = conn.execution_options(stream_results=True, yield_per=PARTITION).execute(stmt)
    for chunk in result.partitions(PARTITION):
        cols = list(zip(*chunk, strict=True)) if chunk else [() for _ in schema]
        parts.append({c: _typed(c, list(v), t) for (c, t), v in zip(schema.items(), cols,
                                                                    strict=True)})
    if not parts:
        parts.append({c: _typed(c, [], t) for c, t in schema.items()})
    out: dict[str, pd.Series] = {}
    for c, t in schema.items():
        series = [p[c] for p in parts]
        joined = series[0] if len(series) == 1 else pd.concat(series, ignore_index=True)
        if t == "object" and len(series) > 1:
            joined = pd.Series(_text(joined.to_numpy(dtype=object)), dtype="object", name=c)
        out[c] = joined.reset_index(drop=True)
    df = pd.DataFrame(out, columns=list(schema))
    return df


def _finish(df: pd.DataFrame, name: str) -> pd.DataFrame:
    df = df[list(SCHEMA[name])].copy()
    df["row"] = pd.array([pd.NA] * len(df), dtype="Int64")
    return df


def _in_patient_order(df: pd.DataFrame, position: dict[str, int]) -> pd.DataFrame:
    """Rows stably sorted by their patient's position in the patients frame.

    The database orders by patient id and then the record's own order (as ``load_cohort``
    reads it); this stable re-sort makes the patients follow the patients frame whatever the
    database's collation, keeping each patient's rows in the database's order.
    """
    if df.empty:
        return df.reset_index(drop=True)
    pos = df["patient_id"].map(position).to_numpy(dtype="int64")
    if (np.diff(pos) >= 0).all():
        return df.reset_index(drop=True)
    return df.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True)


def load_frames(
    conn: Connection, center_scope: frozenset[str] | None, center_id: str | None = None
) -> CohortFrames:
    """The registry's visible records as frames (see the module docstring).

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        An open connection (one read transaction gives one consistent snapshot).
    center_scope : frozenset of str or None
        Centers the reader may see (``None``: all).
    center_id : str, optional
        Only this center.

    Returns
    -------
    CohortFrames
        Equal to :func:`mst.io.frames.frames_from_cohort` of
        :meth:`~mst.registry.repository.Repository.load_cohort` (same arguments).
    """
    centers_q = select(*(_column(CenterRow, c, t) for c, t in SCHEMA["centers"].items()))
    if center_scope is not None:
        centers_q = centers_q.where(CenterRow.id.in_(sorted(center_scope)))
    if center_id is not None:
        centers_q = centers_q.where(CenterRow.id == center_id)
    centers = _read(conn, centers_q.order_by(CenterRow.id), "centers", {})

    def visible(q: Any) -> Any:
        if center_scope is not None:
            q = q.where(PatientRow.center_id.in_(sorted(center_scope)))
        if center_id is not None:
            q = q.where(PatientRow.center_id == center_id)
        return q

    patients_q = select(*(_column(PatientRow, c, t) for c, t in SCHEMA["patients"].items()))
    patients = _read(conn, visible(patients_q).order_by(PatientRow.id), "patients", {})
    position = {pid: i for i, pid in enumerate(patients["id"])}

    scoped = center_scope is not None or center_id is not None

    def child(table: Any, name: str, order: list[Any], extra: dict[str, str] | None = None,
              cols: list[Any] | None = None) -> pd.DataFrame:
        q = select(*(cols if cols is not None else
                     [_column(table, c, t) for c, t in SCHEMA[name].items()]))
        if scoped:  # children of visible patients only
            q = visible(q.join(PatientRow, PatientRow.id == table.patient_id))
        df = _read(conn, q.order_by(table.patient_id, *order), name, extra or {})
        return _finish(_in_patient_order(df, position), name)

    frames: dict[str, pd.DataFrame] = {
        "centers": _finish(centers, "centers"),
        "patients": _finish(patients, "patients"),
        "donors": child(DonorRow, "donors", [DonorRow.id]),
        "courses": child(CourseRow, "courses", [CourseRow.number]),
    }
    admin_cols = [
        CourseRow.patient_id.label("patient_id"),
        CourseRow.number.label("course_number"),
        *(getattr(AdministrationRow, c).label(c)
          for c in SCHEMA["administrations"] if c not in ("patient_id", "course_number")),
        AdministrationRow.seq.label("seq"),
    ]
    frames["administrations"] = _admins(conn, admin_cols, visible if scoped else None,
                                        position)
    for name, table in _CHILDREN.items():
        cols = [_column(table, c, t) for c, t in SCHEMA[name].items()] + [table.seq.label("seq")]
        frames[name] = child(table, name, [table.seq], {"seq": "Int64"}, cols)
    return CohortFrames(**frames)


def _admins(conn: Connection, cols: list[Any], visible: Any,
            position: dict[str, int]) -> pd.DataFrame:
    q = select(*cols).join(CourseRow, CourseRow.pk == AdministrationRow.course_pk)
    if visible is not None:
        q = visible(q.join(PatientRow, PatientRow.id == CourseRow.patient_id))
    q = q.order_by(CourseRow.patient_id, CourseRow.number, AdministrationRow.seq)
    df = _read(conn, q, "administrations", {"seq": "Int64"})
    return _finish(_in_patient_order(df, position), "administrations")
