"""The exchange writer, column by column: :class:`~mst.io.frames.CohortFrames` → CSV or XLSX.

The same file as :func:`mst.io.exchange.write_cohort` writes for the same cohort (byte for
byte for CSV; cell for cell for XLSX), without building a single record object: values are
formatted a column at a time (floats as their shortest round-trip text, dates ISO 8601, text
quoted as the :mod:`csv` module quotes it), and the rows are put in the exchange order —
centers, then each patient followed by its donors, its courses each with its
administrations, infusions, labs, events, responses and antibodies — a block of patients at a
time, so memory beyond the frames stays bounded by the block.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mst.errors import ValidationError
from mst.io.exchange import _TO_MODEL, COLUMNS, RECORD_FIELDS, _new_workbook
from mst.io.frames import CohortFrames

#: Patients formatted and written per block.
BLOCK = 2_000

#: Record type of each frame, in the order a patient's rows are written.
_KINDS: dict[str, str] = {
    "donors": "donor",
    "courses": "course",
    "administrations": "administration",
    "infusions": "infusion",
    "labs": "lab",
    "events": "event",
    "responses": "response",
    "antibodies": "antibody",
}

#: Characters for which a text cell is handed to :mod:`csv` to be quoted (a superset of
#: what any Python version quotes with ``QUOTE_MINIMAL``).
_SPECIAL = ',"\r\n'


def _field_of(kind: str, column: str) -> str:
    """The frame column holding the exchange column ``column`` of ``kind``."""
    return _TO_MODEL.get(kind, {}).get(column, column)


def _csv_quoted(cell: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([cell])
    return buf.getvalue()[:-1]


def _texts(s: pd.Series, for_csv: bool) -> np.ndarray:
    """The exchange text of every value of a frame column (``""`` when missing)."""
    dtype = str(s.dtype)
    n = len(s)
    if dtype.startswith("datetime64"):
        if s.name == "infused_at":  # datetime.isoformat (microseconds only when present)
            return np.array(
                ["" if v is pd.NaT else v.to_pydatetime().isoformat() for v in s.tolist()],
                dtype=object,
            )
        days = s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        out = np.datetime_as_string(days).astype(object)
        out[s.isna().to_numpy()] = ""
        return out
    if dtype == "Int64":
        out = np.full(n, "", dtype=object)
        ok = s.notna().to_numpy()
        out[ok] = [str(v) for v in s[ok].astype("int64").tolist()]
        return out
    if dtype == "float64":
        vals = s.to_numpy(dtype="float64")
        ok = ~np.isnan(vals)
        out = np.full(n, "", dtype=object)
        out[ok] = list(map(float.__repr__, vals[ok].tolist()))
        return out
    missing = s.isna().to_numpy()
    out = s.to_numpy(dtype=object).copy()
    out[missing] = ""
    joined = "\x00".join(out.tolist()) if for_csv else ""
    if any(c in joined for c in _SPECIAL):
        # rare (free text): hand the cells that hold a special character to the csv module
        special = np.array([any(c in v for c in _SPECIAL) for v in out.tolist()], dtype=bool)
        out[special] = [_csv_quoted(v) for v in out[special]]
    return out


def _xlsx_cells(s: pd.Series) -> list[Any]:
    """Cell values as :func:`mst.io.exchange._xlsx_value` gives them (numbers stay numbers)."""
    dtype = str(s.dtype)
    if dtype == "Int64":
        return [None if v is pd.NA else int(v) for v in s.astype(object).tolist()]
    if dtype == "float64":
        return [None if v != v else v for v in s.to_numpy(dtype="float64").tolist()]
    texts = _texts(s, for_csv=False)
    return [None if v == "" and missing else v
            for v, missing in zip(texts.tolist(), s.isna().tolist(), strict=True)]


class _Order:
    """Where each record goes: its patient's position, then the record's place in it."""

    def __init__(self, frames: CohortFrames) -> None:
        pids = frames.patients["id"].to_numpy(dtype=object)
        self.n = len(pids)
        self.index = pd.Index(pids)
        # a block of patients is a range of positions; each frame's rows sorted by position
        self.rows: dict[str, np.ndarray] = {}
        self.bounds: dict[str, np.ndarray] = {}
        self.sub: dict[str, np.ndarray] = {}
        self.positions_of: dict[str, np.ndarray] = {}
        courses = frames.courses
        course_pos = self._positions(courses)
        for name in _KINDS:
            df = getattr(frames, name)
            pos = course_pos if name == "courses" else self._positions(df)
            self.positions_of[name] = pos
            order = np.argsort(pos, kind="stable")
            self.rows[name] = order
            self.bounds[name] = np.searchsorted(pos[order], np.arange(self.n + 1), side="left")
        # an administration goes right after its course: both carry the course's row number
        ckey = pd.MultiIndex.from_arrays(
            [courses["patient_id"].to_numpy(dtype=object),
             courses["number"].to_numpy(dtype="int64", na_value=-1)]
        )
        a = frames.administrations
        akey = pd.MultiIndex.from_arrays(
            [a["patient_id"].to_numpy(dtype=object),
             a["course_number"].to_numpy(dtype="int64", na_value=-1)]
        )
        crow = ckey.get_indexer(akey) if len(a) else np.empty(0, dtype="int64")
        if (crow < 0).any():
            i = int(np.flatnonzero(crow < 0)[0])
            raise ValidationError(
                "administration.course_number", a["course_number"].iloc[i],
                f"no course {a['course_number'].iloc[i]} of patient {a['patient_id'].iloc[i]}",
            )
        self.sub["courses"] = np.arange(len(courses))
        self.sub["administrations"] = crow

    def _positions(self, df: pd.DataFrame) -> np.ndarray:
        pos = self.index.get_indexer(df["patient_id"].to_numpy(dtype=object))
        if (pos < 0).any():
            i = int(np.flatnonzero(pos < 0)[0])
            raise ValidationError("patient_id", df["patient_id"].iloc[i], "no such patient")
        return pos

    def block(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Rows of each frame for the patients at positions ``start:stop``, in frame order."""
        return {
            name: self.rows[name][self.bounds[name][start] : self.bounds[name][stop]]
            for name in _KINDS
        }


def _in_order(frames: CohortFrames, order: _Order, start: int, stop: int,
              cells: Any) -> tuple[list[str], list[Any], np.ndarray]:
    """The rows of patients ``start:stop`` and the permutation that puts them in order.

    ``cells(kind, df)`` gives the rows (a list) of one frame's slice. Returns the record
    type of every row, the rows (patients first, then each frame's) and the permutation
    giving the exchange order.
    """
    picked = order.block(start, stop)
    kinds = ["patient"] * (stop - start)
    rows: list[Any] = cells("patient", frames.patients.iloc[start:stop])
    keys = [np.arange(start, stop)]
    rank = [np.zeros(stop - start, dtype="int64")]
    sub = [np.zeros(stop - start, dtype="int64")]
    for r, name in enumerate(_KINDS, start=1):
        at = picked[name]
        df = getattr(frames, name).iloc[at]
        rows.extend(cells(_KINDS[name], df))
        kinds.extend([_KINDS[name]] * len(at))
        keys.append(order.positions_of[name][at])
        # courses and administrations share one rank: a course, then its administrations
        rank.append(np.full(len(at), 2 if name == "administrations" else r, dtype="int64"))
        if name in order.sub:
            sub.append(order.sub[name][at] * 2 + int(name == "administrations"))
        else:
            sub.append(np.zeros(len(at), dtype="int64"))
    # np.lexsort is stable: records of one kind keep their frame order
    perm = np.lexsort((np.concatenate(sub), np.concatenate(rank), np.concatenate(keys)))
    return kinds, rows, perm


def _csv_lines(kind: str, df: pd.DataFrame) -> list[str]:
    """One CSV line (with ``\\n``) per row of ``df``: ``kind``'s cells, empty elsewhere."""
    fields = set(RECORD_FIELDS[kind])
    template = kind
    cols = []
    for col in COLUMNS[1:]:
        template += ","
        if col in fields:
            template += "%s"
            cols.append(_texts(df[_field_of(kind, col)], for_csv=True).tolist())
    template += "\n"
    return [template % row for row in zip(*cols, strict=True)]


def _write_csv(frames: CohortFrames, path: Path) -> None:
    order = _Order(frames)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(COLUMNS) + "\n")
        fh.writelines(_csv_lines("center", frames.centers))
        for start in range(0, order.n, BLOCK):
            stop = min(order.n, start + BLOCK)
            _, lines, perm = _in_order(frames, order, start, stop, _csv_lines)
            fh.writelines(np.array(lines, dtype=object)[perm].tolist())


def _xlsx_rows(kind: str, df: pd.DataFrame) -> list[list[Any]]:
    cols = [_xlsx_cells(df[_field_of(kind, c)]) for c in RECORD_FIELDS[kind]]
    return [list(r) for r in zip(*cols, strict=True)] if cols else []


def _write_xlsx(frames: CohortFrames, path: Path) -> None:
    wb, sheets = _new_workbook()
    for row in _xlsx_rows("center", frames.centers):
        sheets["center"].append(row)
    order = _Order(frames)
    for start in range(0, order.n, BLOCK):
        stop = min(order.n, start + BLOCK)
        kinds, rows, perm = _in_order(frames, order, start, stop, _xlsx_rows)
        for i in perm.tolist():
            sheets[kinds[i]].append(rows[i])
    wb.save(path)


def write_frames(frames: CohortFrames, path: str | Path) -> None:
    """Write a cohort's frames to ``path`` (``.csv`` or ``.xlsx``, chosen by the suffix).

    Parameters
    ----------
    frames : mst.io.frames.CohortFrames
        A validated cohort (e.g. :meth:`mst.registry.repository.Repository.load_frames`).
    path : str or pathlib.Path
        Output file.

    Raises
    ------
    mst.errors.ValidationError
        If the suffix is neither ``.csv`` nor ``.xlsx``.

    Notes
    -----
    The file is the one :func:`mst.io.exchange.write_cohort` writes for the same cohort.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        _write_csv(frames, path)
    elif suffix == ".xlsx":
        _write_xlsx(frames, path)
    else:
        raise ValidationError("path", str(path), "must end in .csv or .xlsx")
