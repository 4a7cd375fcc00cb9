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
  responses and antibodies by (patient, entry order) — the order of the records' tuples.
  The large tables are scanned in their stored order and sorted here (an ``ORDER BY`` on
  them walks an index into random pages);
* enum values as their plain text, dates as ``datetime64[ns]`` at midnight, ``infused_at`` as
  the stored wall-clock time, integers ``Int64``, numbers ``float64``, ``row`` missing.

Rows are fetched from the driver's cursor in partitions and every text column is
de-duplicated (each distinct value is kept once), so memory stays near the size of the
finished frames.
"""

from __future__ import annotations

from operator import itemgetter
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


def _typed(name: str, values: list[Any], dtype: str,
           pool: dict[Any, Any]) -> pd.Series:
    if dtype == "object":
        arr = np.empty(len(values), dtype=object)
        # each distinct text kept once (the driver gives a new string per row)
        arr[:] = list(map(pool.setdefault, values, values))
        return pd.Series(arr, dtype="object", name=name)
    if name == "infused_at":
        out = pd.to_datetime(pd.Series(values, dtype="object"), format="ISO8601")
        return out.astype(dtype).rename(name)
    if dtype.startswith("datetime64"):  # ISO dates (None: NaT), parsed by numpy
        return pd.Series(np.array(values, dtype="datetime64[D]").astype(dtype), name=name)
    if dtype == "int64":  # a sort key, never missing
        return pd.Series(np.array(values, dtype="int64"), name=name)
    if dtype == "Int64":
        return pd.Series(pd.array(values, dtype="Int64"), name=name)
    return pd.Series(np.array(values, dtype="float64"), name=name)  # None -> nan


def _read(conn: Connection, stmt: Any, name: str, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Run ``stmt`` (the frame's columns in schema order, then the integer sort keys
    ``extra``) into a frame of the schema plus ``extra``.

    The driver's rows are fetched in partitions straight from its cursor (no result-row
    objects; a server-side cursor on PostgreSQL); each partition's columns are typed at once.
    Bound values (center ids) go to the driver as parameters, as SQLAlchemy compiles them.
    """
    schema = {**SCHEMA[name], **dict.fromkeys(extra, "int64")}
    pools: dict[str, dict[Any, Any]] = {c: {} for c in schema}
    parts: list[dict[str, pd.Series]] = []
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = (
        tuple(compiled.params[k] for k in compiled.positiontup or ())
        if compiled.positional
        else compiled.params
    )
    dbapi = conn.connection.dbapi_connection
    server_side = conn.dialect.name == "postgresql"  # rows stay on the server until fetched
    cursor = dbapi.cursor(name=f"mst_frames_{name}") if server_side else dbapi.cursor()
    try:
        cursor.execute(str(compiled), params)
        while chunk := cursor.fetchmany(PARTITION):
            cols = [list(map(itemgetter(i), chunk)) for i in range(len(schema))]
            parts.append({c: _typed(c, v, t, pools[c])
                          for (c, t), v in zip(schema.items(), cols, strict=True)})
    finally:
        cursor.close()
    if not parts:
        parts.append({c: _typed(c, [], t, {}) for c, t in schema.items()})
    out = {
        c: (parts[0][c] if len(parts) == 1
            else pd.concat([p[c] for p in parts], ignore_index=True))
        for c in schema
    }
    return pd.DataFrame(out, columns=list(schema))


def _finish(df: pd.DataFrame, name: str) -> pd.DataFrame:
    df = df[list(SCHEMA[name])].copy()
    n = len(df)  # not from a file: no row number
    df["row"] = pd.arrays.IntegerArray(np.zeros(n, dtype="int64"), np.ones(n, dtype=bool))
    return df


def _in_patient_order(df: pd.DataFrame, position: dict[str, int],
                      keys: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows sorted by their patient's position in the patients frame, then by ``keys``.

    Children are read in the table's own order (a sequential scan) and sorted here, stably;
    without ``keys`` the database's order within a patient is kept. The patients follow the
    patients frame (the database's order of ids) whatever the collation.
    """
    if df.empty:
        return df.reset_index(drop=True)
    pos = df["patient_id"].map(position).to_numpy(dtype="int64")
    if keys:
        order = np.lexsort([df[k].to_numpy(dtype="int64") for k in reversed(keys)] + [pos])
    elif (np.diff(pos) >= 0).all():
        return df.reset_index(drop=True)
    else:
        order = np.argsort(pos, kind="stable")
    return df.iloc[order].reset_index(drop=True)


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
    centers = _read(conn, centers_q.order_by(CenterRow.id), "centers")

    def visible(q: Any) -> Any:
        if center_scope is not None:
            q = q.where(PatientRow.center_id.in_(sorted(center_scope)))
        if center_id is not None:
            q = q.where(PatientRow.center_id == center_id)
        return q

    patients_q = select(*(_column(PatientRow, c, t) for c, t in SCHEMA["patients"].items()))
    patients = _read(conn, visible(patients_q).order_by(PatientRow.id), "patients")
    position = {pid: i for i, pid in enumerate(patients["id"])}

    scoped = center_scope is not None or center_id is not None

    def child(table: Any, name: str, order: list[Any] | None = None) -> pd.DataFrame:
        """A small table in the database's order; a large one scanned, sorted by ``seq``."""
        cols = [_column(table, c, t) for c, t in SCHEMA[name].items()]
        extra: tuple[str, ...] = () if order is not None else ("seq",)
        q = select(*cols, *([table.seq.label("seq")] if extra else []))
        if scoped:  # children of visible patients only
            q = visible(q.join(PatientRow, PatientRow.id == table.patient_id))
        if order is not None:
            q = q.order_by(table.patient_id, *order)
        df = _read(conn, q, name, extra)
        return _finish(_in_patient_order(df, position, extra), name)

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
        frames[name] = child(table, name)
    return CohortFrames(**frames)


def _admins(conn: Connection, cols: list[Any], visible: Any,
            position: dict[str, int]) -> pd.DataFrame:
    q = select(*cols).join(CourseRow, CourseRow.pk == AdministrationRow.course_pk)
    if visible is not None:
        q = visible(q.join(PatientRow, PatientRow.id == CourseRow.patient_id))
    df = _read(conn, q, "administrations", ("seq",))
    df = _in_patient_order(df, position, ("course_number", "seq"))
    return _finish(df, "administrations")
