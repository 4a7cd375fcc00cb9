"""Bulk import of validated frames: table rows and audit rows built column by column.

:meth:`mst.registry.Repository.import_frames` writes the patients of a
:class:`~mst.io.frames.CohortFrames` that are new to the registry without building a
domain object for them: each chunk of patients becomes, per table, columns of plain values
(taken from the frames' numpy arrays), inserted with the driver's bulk path (``COPY`` on
PostgreSQL, ``executemany`` on SQLite). Their audit rows are built in bulk too and are
exactly the rows the object path (:meth:`~mst.registry.Repository.import_cohort`) writes:
the same entities and keys in the same order, the same JSON text (``json.dumps`` with
sorted keys, assembled here from per-column JSON fragments), the same hash chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from mst.errors import ConsistencyError
from mst.io.frames import SCHEMA, CohortFrames
from mst.registry.audit_chain import chain_key
from mst.registry.schema import (
    AdministrationRow,
    AntibodyRow,
    AuditHeadRow,
    AuditRow,
    CenterRow,
    CourseRow,
    DonorRow,
    EventRow,
    InfusionRow,
    LabRow,
    PatientRow,
    ResponseRow,
)

#: ``lock_heads(session, chains)`` → chain → (rows, last hash), locked until commit.
LockHeads = Callable[[Session, list[str]], dict[str, tuple[int, str]]]

#: Patients written (rows and audit rows) per chunk: bounds the memory of a large import.
CHUNK_PATIENTS = 500

#: Audit entity of each frame, in the order the object path audits a record's entities.
_ENTITIES = (
    ("patients", "patient"),
    ("donors", "donor"),
    ("courses", "course"),
    ("infusions", "infusion"),
    ("labs", "lab"),
    ("events", "event"),
    ("responses", "response"),
    ("antibodies", "antibody"),
)

#: Tables of the per-patient child frames (``seq`` = position in the patient's list).
_CHILD_TABLES = (
    ("infusions", InfusionRow),
    ("labs", LabRow),
    ("events", EventRow),
    ("responses", ResponseRow),
    ("antibodies", AntibodyRow),
)

#: The field that joins date and patient in the audit key of a dated child record.
_KEY_FIELD = {"labs": "analyte", "events": "kind", "responses": "category",
              "antibodies": "specificity"}

_ADMIN_FIELDS = ("drug", "dose", "unit", "day", "route")


# --------------------------------------------------------------------------- values
def _missing(s: pd.Series) -> np.ndarray:
    return s.isna().to_numpy()


def _day_strings(s: pd.Series) -> np.ndarray:
    """``YYYY-MM-DD`` of a datetime column (object array, ``None`` when missing)."""
    days = s.to_numpy().astype("datetime64[D]")
    out = np.datetime_as_string(days, unit="D").astype(object)
    out[np.isnat(days)] = None
    return out  # type: ignore[no-any-return]


def _instant_strings(s: pd.Series) -> np.ndarray:
    """``YYYY-MM-DDTHH:MM:SS.ffffff`` of a datetime column (``None`` when missing)."""
    us = s.to_numpy().astype("datetime64[us]")
    out = np.datetime_as_string(us, unit="us").astype(object)
    out[np.isnat(us)] = None
    return out  # type: ignore[no-any-return]


def _db_values(df: pd.DataFrame, name: str, col: str, sqlite: bool) -> list[Any]:
    """A column as the values the object path hands the driver (dates as their text)."""
    dtype = SCHEMA[name][col]
    s = df[col]
    if dtype.startswith("datetime64"):
        if col == "infused_at":
            text = _instant_strings(s)
            # SQLAlchemy's SQLite storage format; PostgreSQL parses the same text
            return [None if v is None else v.replace("T", " ") for v in text.tolist()]
        return _day_strings(s).tolist()  # type: ignore[no-any-return]
    if dtype == "Int64":
        missing = _missing(s)
        vals = s.fillna(0).astype("int64").to_numpy().tolist()
        for j in np.flatnonzero(missing):
            vals[j] = None
        return vals  # type: ignore[no-any-return]
    if dtype == "float64":
        arr = s.to_numpy(dtype="float64")
        vals = arr.tolist()
        for j in np.flatnonzero(np.isnan(arr)):
            vals[j] = None
        return vals  # type: ignore[no-any-return]
    return [None if v is None or v != v else v for v in s.tolist()]


def _json_fragments(df: pd.DataFrame, name: str, col: str) -> np.ndarray:
    """Each cell's JSON text as ``json.dumps`` writes it (object array of str)."""
    dtype = SCHEMA[name][col]
    s = df[col]
    n = len(s)
    if dtype.startswith("datetime64"):
        text = _instant_strings(s) if col == "infused_at" else _day_strings(s)
        out = np.full(n, "null", dtype=object)
        for j, v in enumerate(text.tolist()):
            if v is not None:
                if col == "infused_at" and v.endswith(".000000"):
                    v = v[:-7]  # datetime.isoformat() leaves out zero microseconds
                out[j] = f'"{v}"'
        return out
    if dtype == "Int64":
        missing = _missing(s)
        out = np.array([str(v) for v in s.fillna(0).astype("int64").to_numpy().tolist()],
                       dtype=object)
        out[missing] = "null"
        return out
    if dtype == "float64":
        arr = s.to_numpy(dtype="float64")
        out = np.array([float.__repr__(v) for v in arr.tolist()], dtype=object)
        out[~np.isfinite(arr)] = "null"  # pydantic's JSON mode: nan/inf -> null
        return out
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    table = np.array([encode_basestring_ascii(str(u)) for u in uniques] + ["null"],
                     dtype=object)
    return table[codes]  # type: ignore[no-any-return]


def _json_objects(fields: dict[str, np.ndarray], n: int) -> np.ndarray:
    """``json.dumps(row, sort_keys=True)`` of every row, from its fields' JSON fragments."""
    if n == 0:
        return np.empty(0, dtype=object)
    names = sorted(fields)
    template = "{" + ", ".join(f"{encode_basestring_ascii(k)}: %s" for k in names) + "}"
    cols = [fields[k].tolist() for k in names]
    return np.array([template % row for row in zip(*cols, strict=True)], dtype=object)


def _orphan(df: pd.DataFrame, name: str, j: int, parent: str) -> None:
    row = df["row"].iloc[j]
    where = f"row {int(row)}" if not pd.isna(row) else f"{name} record {j + 1}"
    raise ConsistencyError(
        f"{where}, patient {df['patient_id'].iloc[j]}",
        f"refers to a {parent} that is not in the import (frames not validated?)",
    )


# --------------------------------------------------------------------------- chunks
@dataclass
class _Sorted:
    """A child frame in record order (patient order, then file order) and chunk bounds."""

    frame: pd.DataFrame
    pos: np.ndarray  # patient position of each row (sorted)
    bounds: np.ndarray  # row index where each patient starts (len = patients + 1)


def _sorted(df: pd.DataFrame, pos: np.ndarray, n_patients: int) -> _Sorted:
    if len(pos) < 2 or bool((pos[1:] >= pos[:-1]).all()):
        spos, frame = pos, df  # grouped already: no copy (rows are taken by position)
    else:
        order = np.argsort(pos, kind="stable")
        spos = pos[order]
        frame = df.take(order)
    bounds = np.searchsorted(spos, np.arange(n_patients + 1), side="left")
    return _Sorted(frame, spos, bounds)


def _seq(pos: np.ndarray) -> np.ndarray:
    """Position of each row within its group of equal, adjacent ``pos`` values."""
    n = len(pos)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    start = np.r_[0, np.flatnonzero(pos[1:] != pos[:-1]) + 1]
    first = np.repeat(start, np.diff(np.r_[start, n]))
    return np.arange(n) - first  # type: ignore[no-any-return]


def _occurrence(keys: list[str], pos: np.ndarray) -> np.ndarray:
    """1-based count of each (patient, key) up to and including this row."""
    return (pd.DataFrame({"p": pos, "k": keys}).groupby(["p", "k"], sort=False).cumcount()
            .to_numpy() + 1)


# --------------------------------------------------------------------------- writer
def check_new_patients(
    s: Session,
    visible: Callable[[str], bool],
    patients: Iterable[tuple[str, str]],
    donor_owner: dict[str, str],
) -> None:
    """Refuse patients new to the registry that the registry cannot take.

    One check for both import paths (``Repository.import_cohort``'s objects and
    :class:`FramesWriter`'s frames): each (patient id, center id) must name a registered
    center inside the user's scope, and no donor id (donor id → patient id) may already
    belong to a patient of the registry.

    Raises
    ------
    mst.errors.ConsistencyError
        Naming the patient (and donor) and the rule.
    """
    known = set(s.scalars(select(CenterRow.id)))
    for pid, cid in patients:
        if not visible(cid):
            raise ConsistencyError(f"patient {pid}", f"center {cid} is outside this user's centers")
        if cid not in known:
            raise ConsistencyError(f"patient {pid}", f"center {cid} is not registered")
    ids = sorted(donor_owner)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        q = select(DonorRow.id, DonorRow.patient_id).where(DonorRow.id.in_(chunk))
        for did, other in s.execute(q):
            raise ConsistencyError(
                f"patient {donor_owner[did]} / donor {did}",
                f"donor id already used for patient {other} in the registry: donor ids "
                "must be unique",
            )


class FramesWriter:
    """Writes the new patients of validated frames in chunks (rows, then audit rows).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        The import's transaction.
    frames : CohortFrames
        The new patients only (their children too), every patient absent from the registry.
    user : str
        Written to every audit row.
    visible : callable
        True when a center is inside the repository's scope.
    lock_heads : callable
        ``lock_heads(session, chains)``: the chains' current heads, locked until commit.
    """

    def __init__(self, session: Session, frames: CohortFrames, user: str,
                 visible: Callable[[str], bool], lock_heads: LockHeads) -> None:
        self.s = session
        self.f = frames
        self.user = user
        self.visible = visible
        self.lock_heads = lock_heads
        conn = session.connection()
        self.sqlite = conn.dialect.name == "sqlite"
        P = frames.patients
        self.n = len(P)
        pidx = pd.Index(P["id"])
        self.kids: dict[str, _Sorted] = {}
        for name in ("donors", "courses", "infusions", "labs", "events", "responses",
                     "antibodies"):
            df = getattr(frames, name)
            pos = pidx.get_indexer(df["patient_id"])
            if (pos < 0).any():  # never in validated frames: refuse rather than drop
                _orphan(df, name, int(np.flatnonzero(pos < 0)[0]), "patient")
            self.kids[name] = _sorted(df, pos, self.n)
        # administrations: by course (patient order, then the patient's course order)
        C = self.kids["courses"].frame
        cidx = pd.MultiIndex.from_arrays([C["patient_id"], C["number"].astype("int64")])
        A = frames.administrations
        cpos = cidx.get_indexer(pd.MultiIndex.from_arrays(
            [A["patient_id"], A["course_number"].fillna(-1).astype("int64")]))
        if (cpos < 0).any():
            _orphan(A, "administrations", int(np.flatnonzero(cpos < 0)[0]), "course")
        order = np.argsort(cpos, kind="stable")
        self.admins = A.take(order).reset_index(drop=True)
        self.admin_course = cpos[order]
        # the course of each administration → its patient, for chunking
        self.admin_bounds = np.searchsorted(self.admin_course, self.kids["courses"].bounds,
                                            side="left")

    # -- checks -------------------------------------------------------------------------
    def check(self) -> None:
        """The object path's refusals: unknown or out-of-scope center, donor id taken."""
        P, D = self.f.patients, self.kids["donors"].frame
        check_new_patients(
            self.s,
            self.visible,
            zip(P["id"].tolist(), P["center_id"].tolist(), strict=True),
            dict(zip(D["id"].tolist(), D["patient_id"].tolist(), strict=True)),
        )

    # -- writing ------------------------------------------------------------------------
    def write(self, progress: Callable[[int], None] | None = None) -> None:
        """Write every patient, chunk by chunk (rows, then their audit rows)."""
        for lo in range(0, self.n, CHUNK_PATIENTS):
            hi = min(lo + CHUNK_PATIENTS, self.n)
            self._chunk(lo, hi)
            if progress is not None:
                progress(hi)

    def _part(self, name: str, lo: int, hi: int) -> tuple[pd.DataFrame, np.ndarray]:
        k = self.kids[name]
        a, b = int(k.bounds[lo]), int(k.bounds[hi])
        return k.frame.iloc[a:b].reset_index(drop=True), k.pos[a:b] - lo

    def _chunk(self, lo: int, hi: int) -> None:
        P = self.f.patients.iloc[lo:hi].reset_index(drop=True)
        parts = {name: self._part(name, lo, hi) for name in self.kids}
        self._insert_frame(PatientRow, P, "patients")
        self._insert_frame(DonorRow, parts["donors"][0], "donors")
        C = parts["courses"][0]
        self._insert_frame(CourseRow, C, "courses")
        a, b = int(self.admin_bounds[lo]), int(self.admin_bounds[hi])
        A = self.admins.iloc[a:b].reset_index(drop=True)
        acourse = self.admin_course[a:b]
        if len(A):
            pids = P["id"].tolist()
            pk: dict[tuple[str, int], int] = {}
            for start in range(0, len(pids), 500):
                q = select(CourseRow.patient_id, CourseRow.number, CourseRow.pk).where(
                    CourseRow.patient_id.in_(pids[start : start + 500])
                )
                pk.update({(p, n): k for p, n, k in self.s.execute(q)})
            c0 = int(self.kids["courses"].bounds[lo])
            cp = C["patient_id"].tolist()
            cn = C["number"].astype("int64").tolist()
            course_pk = [pk[(cp[j - c0], cn[j - c0])] for j in acourse.tolist()]
            cols = {"course_pk": course_pk, "seq": _seq(acourse).tolist()}
            for c in _ADMIN_FIELDS:
                cols[c] = _db_values(A, "administrations", c, self.sqlite)
            self._insert(AdministrationRow, cols)
        for name, table in _CHILD_TABLES:
            df, pos = parts[name]
            cols = {"seq": _seq(pos).tolist()}
            cols.update({c: _db_values(df, name, c, self.sqlite) for c in SCHEMA[name]})
            self._insert(table, cols)
        self._audit(P, parts, A, acourse - int(self.kids["courses"].bounds[lo]))

    def _insert_frame(self, table: Any, df: pd.DataFrame, name: str) -> None:
        self._insert(table, {c: _db_values(df, name, c, self.sqlite) for c in SCHEMA[name]})

    def _insert(self, table: Any, cols: dict[str, list[Any]]) -> None:
        insert_columns(self.s, table.__table__, cols)

    # -- audit --------------------------------------------------------------------------
    def _contents(self, name: str, df: pd.DataFrame) -> dict[str, np.ndarray]:
        return {c: _json_fragments(df, name, c) for c in SCHEMA[name]}

    def _audit(self, P: pd.DataFrame, parts: dict[str, tuple[pd.DataFrame, np.ndarray]],
               A: pd.DataFrame, acourse: np.ndarray) -> None:
        """Audit rows of the chunk's patients: the object path's entities, keys and order."""
        n = len(P)
        pids = P["id"].tolist()
        pos_l: list[np.ndarray] = []
        kind_l: list[np.ndarray] = []
        key_l: list[Any] = []
        after_l: list[np.ndarray] = []

        def add(k: int, pos: np.ndarray, keys: list[str], after: np.ndarray) -> None:
            pos_l.append(pos)
            kind_l.append(np.full(len(pos), k, dtype=np.int64))
            key_l.extend(keys)
            after_l.append(after)

        for k, (name, _) in enumerate(_ENTITIES):
            if name == "patients":
                df, pos = P, np.arange(n)
                keys = pids
            else:
                df, pos = parts[name]
            m = len(df)
            if m == 0:
                continue
            frag = self._contents(name, df)
            if name == "courses":
                frag["administrations"] = self._course_admins(A, acourse, m)
            after = _json_objects(frag, m)
            p = df["patient_id"].tolist() if name != "patients" else pids
            if name == "donors":
                keys = df["id"].tolist()
            elif name == "courses":
                keys = [f"{a}/course {b}" for a, b in
                        zip(p, df["number"].astype("int64").tolist(), strict=True)]
            elif name == "infusions":
                stamp = _instant_strings(df["infused_at"]).tolist()
                keys = [
                    "/".join((a, f"course {b}", c, d[:-7] if d.endswith(".000000") else d))
                    for a, b, c, d in zip(p, df["course_number"].astype("int64").tolist(),
                                          df["donor_id"].tolist(), stamp, strict=True)
                ]
                again = _occurrence(keys, pos) > 1
                if again.any():
                    i = _seq(pos) + 1
                    keys = [f"{key}#{j}" if dup else key
                            for key, dup, j in zip(keys, again.tolist(), i.tolist(),
                                                   strict=True)]
            elif name != "patients":
                days = _day_strings(df["date"]).tolist()
                field = df[_KEY_FIELD[name]].tolist()
                base = [f"{a}/{d}/{v}" for a, d, v in zip(p, days, field, strict=True)]
                count = _occurrence(base, pos).tolist()
                keys = [f"{b}#{c}" for b, c in zip(base, count, strict=True)]
            add(k, pos, keys, after)
        if not pos_l:
            return
        pos = np.concatenate(pos_l)
        kind = np.concatenate(kind_l)
        after = np.concatenate(after_l)
        keys_arr = np.array(key_l, dtype=object)
        # the object path's order: patient, then entity type, then key (str order)
        order_a = np.lexsort((np.array(key_l, dtype=str), kind, pos))
        entity_names = np.array([e for _, e in _ENTITIES], dtype=object)
        centers = P["center_id"].to_numpy(dtype=object)
        rows = AuditRows(
            entity=entity_names[kind[order_a]].tolist(),
            entity_key=keys_arr[order_a].tolist(),
            patient_id=np.array(pids, dtype=object)[pos[order_a]].tolist(),
            center_id=centers[pos[order_a]].tolist(),
            after=after[order_a].tolist(),
        )
        write_audit(self.s, self.user, rows, self.lock_heads)

    def _course_admins(self, A: pd.DataFrame, acourse: np.ndarray, m: int) -> np.ndarray:
        """JSON list of each course's administrations (``[]`` for none)."""
        out = np.full(m, "[]", dtype=object)
        if len(A) == 0:
            return out
        objs = _json_objects({c: _json_fragments(A, "administrations", c)
                              for c in _ADMIN_FIELDS}, len(A)).tolist()
        start = 0
        course = acourse.tolist()
        for j in range(1, len(course) + 1):
            if j == len(course) or course[j] != course[start]:
                out[course[start]] = "[" + ", ".join(objs[start:j]) + "]"
                start = j
        return out


# --------------------------------------------------------------------------- audit rows
@dataclass
class AuditRows:
    """Insert audit rows of one chunk, in order (``before`` and ``reason`` empty)."""

    entity: list[str]
    entity_key: list[str]
    patient_id: list[str]
    center_id: list[str]
    after: list[str]


def write_audit(s: Session, user: str, rows: AuditRows, lock_heads: LockHeads,
                action: str = "insert") -> None:
    """Chain and write audit rows of inserts (one time stamp for all of them).

    The hash of each row is :func:`mst.registry.audit_chain.row_digest` of its values,
    its payload text assembled directly (the same text, byte for byte).
    """
    n = len(rows.entity)
    if n == 0:
        return
    from mst.registry.repository import _now

    at = _now()
    at_text = at.isoformat(timespec="microseconds")
    chains_of = [chain_key(c) for c in rows.center_id]
    chains = sorted(set(chains_of))
    heads = lock_heads(s, chains)
    enc = encode_basestring  # the payload is JSON with ensure_ascii=False
    head = f'[{enc(at_text)},{enc(user)},{enc(action)},'
    seqs: list[int] = [0] * n
    prevs: list[str] = [""] * n
    hashes: list[str] = [""] * n
    sha = hashlib.sha256
    for j, (entity, key, pid, cid, chain, after) in enumerate(zip(
            rows.entity, rows.entity_key, rows.patient_id, rows.center_id, chains_of,
            rows.after, strict=True)):
        count, prev = heads[chain]
        count += 1
        payload = (
            f"{head}{enc(entity)},{enc(key)},"
            f"{'null' if pid is None else enc(pid)},{'null' if cid is None else enc(cid)},"
            f'{count},null,{enc(after)},"{prev}",null]'
        )
        digest = sha(payload.encode("utf-8")).hexdigest()
        seqs[j], prevs[j], hashes[j] = count, prev, digest
        heads[chain] = (count, digest)
    sqlite_at = at.strftime("%Y-%m-%d %H:%M:%S.%f")
    insert_columns(s, AuditRow.__table__, {
        "at": _repeat(sqlite_at if s.connection().dialect.name == "sqlite" else at, n),
        "user": _repeat(user, n),
        "action": _repeat(action, n),
        "entity": rows.entity,
        "entity_key": rows.entity_key,
        "patient_id": rows.patient_id,
        "center_id": rows.center_id,
        "before": _repeat(None, n),
        "after": rows.after,
        "reason": _repeat(None, n),
        "chain_seq": seqs,
        "prev_hash": prevs,
        "row_hash": hashes,
    })
    from sqlalchemy import bindparam, update

    t = AuditHeadRow.__table__
    s.execute(
        update(t)
        .where(t.c.chain == bindparam("b_chain"))
        .values(n_rows=bindparam("b_n"), last_hash=bindparam("b_hash")),
        [{"b_chain": c, "b_n": heads[c][0], "b_hash": heads[c][1]} for c in chains],
    )


def _repeat(value: Any, n: int) -> list[Any]:
    return [value] * n


# --------------------------------------------------------------------------- insert
def insert_columns(s: Session, table: Any, cols: dict[str, Sequence[Any]]) -> None:
    """Insert rows given column by column with the driver's bulk path (COPY / executemany).

    Values are in the form the database reads: dates and date-times as ISO text on both
    backends (SQLAlchemy's SQLite storage format), numbers, plain strings, ``None``.
    Driver errors become SQLAlchemy's, as in the repository's own bulk insert.
    """
    names = list(cols)
    if not names:
        return
    rows: Iterator[tuple[Any, ...]] = zip(*cols.values(), strict=True)
    n = len(cols[names[0]])
    if n == 0:
        return
    conn = s.connection()
    dbapi = conn.connection.dbapi_connection
    dialect = conn.dialect
    quoted = ", ".join(dialect.identifier_preparer.quote(c) for c in names)
    name = dialect.identifier_preparer.format_table(table)
    errors = dialect.dbapi
    sql = f"INSERT INTO {name} ({quoted})"
    try:
        if dialect.name == "postgresql":
            with dbapi.cursor() as cur, cur.copy(f"COPY {name} ({quoted}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            return
        if dialect.name != "sqlite":  # pragma: no cover - SQLAlchemy's own path
            from sqlalchemy import insert

            s.execute(insert(table), [dict(zip(names, r, strict=True)) for r in rows])
            return
        cur = dbapi.cursor()
        try:
            cur.executemany(f"{sql} VALUES ({', '.join('?' * len(names))})", rows)
        finally:
            cur.close()
    except errors.IntegrityError as exc:
        raise IntegrityError(sql, None, exc) from exc
    except errors.OperationalError as exc:
        raise OperationalError(sql, None, exc) from exc


def frames_subset(frames: CohortFrames, ids: set[str], keep: bool) -> CohortFrames:
    """The frames of the patients in ``ids`` (``keep``) or of all the others (not ``keep``)."""
    out: dict[str, pd.DataFrame] = {}
    for name, df in frames.items():
        if name == "centers":
            out[name] = df
            continue
        col = df["id"] if name == "patients" else df["patient_id"]
        mask = col.isin(ids).to_numpy()
        if not keep:
            mask = ~mask
        out[name] = df if mask.all() else df[mask].reset_index(drop=True)
    return CohortFrames(**out)
