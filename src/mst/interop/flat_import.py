"""Validate a flat analysis table cell by cell; reject bad rows with their reasons.

The column types are those of :data:`mst.cohort.COLUMNS` (docs/flat_table.md). A row
with any invalid cell is excluded and listed (row number, column, value, rule); the
import never stops at the first error.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mst.cohort import COLUMNS
from mst.cohort.endpoints import endpoint_rules
from mst.domain import DeathCause, Diagnosis, ElnRisk, Fitness, Relationship, Sex
from mst.errors import ValidationError

_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "0.0"}


def _vocabularies() -> dict[str, set[str]]:
    rules = endpoint_rules()
    sexes = {s.value for s in Sex}
    return {
        "sex": sexes,
        "donor_sex": sexes,
        "diagnosis": {d.value for d in Diagnosis},
        "eln_risk": {e.value for e in ElnRisk},
        "fitness": {f.value for f in Fitness},
        "donor_relationship": {r.value for r in Relationship},
        "death_cause": {c.value for c in DeathCause},
        "donor_patient_sex": {f"{a}->{b}" for a in sexes for b in sexes},
        "age_group": {g[0] for g in rules.age_groups},
        "age_band": {g[0] for g in rules.age_bands},
    }


#: Allowed integer codes of status columns; other integer columns must be >= 0.
_CODES: dict[str, set[int]] = {
    "os_event": {0, 1},
    "lfs_event": {0, 1},
    "crs_status": {0, 1, 2},
    "inductions_to_cr": {1, 2},
}
_INT_RANGE: dict[str, tuple[int, int]] = {
    "age": (0, 120),
    "donor_age": (0, 100),
    "year_of_diagnosis": (1900, 2200),
    "hla_mismatches_10": (0, 10),
    "hla_mismatches_12": (0, 12),
    "gvhd_max_grade": (0, 4),
    "crs_max_grade": (0, 4),
}


@dataclass(frozen=True)
class Rejection:
    """One rejected cell: ``row`` (header = row 1 for files), column, value and rule."""

    row: int
    column: str
    value: Any
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        v = self.value
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        return {
            "row": self.row,
            "column": self.column,
            "value": v if isinstance(v, int | float | bool | None) else str(v),
            "rule": self.rule,
        }


@dataclass
class ImportResult:
    """Accepted rows (typed flat table) and every rejection."""

    table: pd.DataFrame
    rejections: list[Rejection] = field(default_factory=list)
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def rejected_rows(self) -> list[int]:
        """Sorted row numbers that were excluded."""
        return sorted({r.row for r in self.rejections})

    def to_dict(self) -> dict[str, Any]:
        """Summary with the rejections (JSON-ready)."""
        return {
            "source": self.source,
            "accepted": len(self.table),
            "rejected": len(self.rejected_rows),
            "rejections": [r.to_dict() for r in self.rejections],
            "notes": list(self.notes),
        }


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, str) and v.strip() == ""


def _as_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("must be an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("must be an integer")
        return int(v)
    s = str(v).strip()
    try:
        f = float(s)
    except ValueError:
        raise ValueError("must be an integer") from None
    if not math.isfinite(f) or not f.is_integer():
        raise ValueError("must be an integer")
    return int(f)


def _as_float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("must be a number")
    try:
        f = float(str(v).strip().replace(",", ".")) if isinstance(v, str) else float(v)
    except (TypeError, ValueError):
        raise ValueError("must be a number") from None
    if not math.isfinite(f):
        raise ValueError("must be a finite number")
    return f


def _as_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError("must be True/False (or 1/0, yes/no)")


def _as_date(v: Any) -> pd.Timestamp:
    if isinstance(v, (pd.Timestamp | dt.datetime, dt.date)):
        ts = pd.Timestamp(v)
    else:
        s = str(v).strip()
        try:
            ts = pd.Timestamp(dt.date.fromisoformat(s[:10]))
        except ValueError:
            raise ValueError("must be an ISO date YYYY-MM-DD") from None
    return ts.normalize()


def _check(col: str, dtype: str, v: Any, vocab: dict[str, set[str]]) -> Any:
    """Convert one non-missing cell; raise ValueError(rule) when invalid."""
    if dtype == "Int64":
        i = _as_int(v)
        if col in _CODES and i not in _CODES[col]:
            raise ValueError(f"must be one of {sorted(_CODES[col])}")
        lo, hi = _INT_RANGE.get(col, (0, 10**7))
        if not lo <= i <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return i
    if dtype == "float64":
        f = _as_float(v)
        if f < 0:
            raise ValueError("must be >= 0")
        return f
    if dtype == "boolean":
        return _as_bool(v)
    if dtype.startswith("datetime"):
        return _as_date(v)
    s = str(v).strip()
    if isinstance(v, float) and v.is_integer():
        s = str(int(v))
    if col in vocab and s not in vocab[col]:
        raise ValueError(f"must be one of {sorted(vocab[col])}")
    return s


def validate_flat_table(
    raw: pd.DataFrame,
    first_row: int = 2,
    required: tuple[str, ...] = ("patient_id",),
    source: str = "",
) -> ImportResult:
    """Validate every cell of a flat table against the documented column types.

    Parameters
    ----------
    raw : DataFrame
        Table with (a subset of) the flat-table columns; values may be text.
        Unknown columns are kept unchanged.
    first_row : int
        Row number of the first data row in the source (2 for a file with a header).
    required : tuple of str
        Columns that must be present and non-empty in every row.
    source : str
        Label of the source (file name) for the result.

    Returns
    -------
    ImportResult
        The accepted rows, typed as :data:`mst.cohort.COLUMNS` (missing flat-table columns
        are added empty, in table order, followed by the unknown columns), and the
        rejections.

    Raises
    ------
    ValidationError
        A required column is absent.
    """
    missing_req = [c for c in required if c not in raw.columns]
    if missing_req:
        raise ValidationError("columns", missing_req, "required column(s) not found")
    vocab = _vocabularies()
    known = [c for c in COLUMNS if c in raw.columns]
    extra = [c for c in raw.columns if c not in COLUMNS]
    records = raw.to_dict(orient="records")
    out: dict[str, list[Any]] = {c: [] for c in known}
    rejections: list[Rejection] = []
    keep: list[int] = []
    seen_ids: dict[str, int] = {}
    for i, rec in enumerate(records):
        rownum = first_row + i
        row_rej: list[Rejection] = []
        vals: dict[str, Any] = {}
        for c in known:
            v = rec[c]
            if _missing(v):
                if c in required:
                    row_rej.append(Rejection(rownum, c, None, "required, must not be empty"))
                vals[c] = None
                continue
            try:
                vals[c] = _check(c, COLUMNS[c], v, vocab)
            except (ValueError, TypeError) as exc:  # our own plain rules (see _check)
                rule = str(exc) if isinstance(exc, ValueError) else "has the wrong kind of value"
                row_rej.append(Rejection(rownum, c, v, rule))
        pid = vals.get("patient_id")
        if pid is not None and not row_rej:
            if pid in seen_ids:
                row_rej.append(
                    Rejection(rownum, "patient_id", pid, f"duplicate of row {seen_ids[pid]}")
                )
            else:
                seen_ids[pid] = rownum
        if row_rej:
            rejections.extend(row_rej)
            continue
        keep.append(i)
        for c in known:
            out[c].append(vals[c])
    n = len(keep)
    cols: dict[str, pd.Series] = {}
    for c, dtype in COLUMNS.items():
        if c in out:
            data = out[c]
            if dtype.startswith("datetime"):
                cols[c] = pd.Series(
                    pd.to_datetime(pd.Series(data, dtype=object)), dtype="datetime64[ns]"
                )
            elif dtype == "object":
                cols[c] = pd.Series(data, dtype=object).where(
                    pd.Series([x is not None for x in data], dtype=bool), None
                )
            else:
                cols[c] = pd.Series(pd.array(data, dtype=dtype))
        else:
            cols[c] = pd.Series([None] * n, dtype=dtype if dtype != "object" else object)
            if dtype.startswith("datetime"):
                cols[c] = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    table = pd.DataFrame(cols, index=pd.RangeIndex(n))
    for c in extra:
        table[c] = raw[c].iloc[keep].reset_index(drop=True)
    return ImportResult(table, rejections, source)


def read_raw(
    path: str | Path, sheet: str | None = None, missing: tuple[str, ...] = (),
    encoding: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """Read a CSV, TSV, XLSX or SAV file as text cells; returns (frame, first data row).

    CSV/TSV/XLSX go through :func:`mst.io.tabular.read_table_text` (the one reader of
    every table: encodings, delimiters, R's ``NA``, blanks, ``#N/A`` … as missing, and the
    format's own ``missing`` codes), so a file written by R ``write.csv`` loses no row.

    Raises
    ------
    ValidationError
        Unknown extension or unreadable file.
    """
    from mst.io.tabular import TEXT_SUFFIXES, WORKBOOK_SUFFIXES, read_table_text

    p = Path(path)
    if not p.exists():
        raise ValidationError("file", str(p), "no such file")
    suffix = p.suffix.lower()
    if suffix in TEXT_SUFFIXES | WORKBOOK_SUFFIXES:
        if sheet is not None and suffix not in WORKBOOK_SUFFIXES:
            raise ValidationError("--sheet", sheet, "only a workbook (.xlsx) has sheets")
        return read_table_text(p, encoding=encoding, sheet=sheet, missing=missing), 2
    if suffix == ".sav":
        from mst.interop.spss import read_sav

        return read_sav(p), 1
    raise ValidationError("file", str(p), "must be .csv, .tsv, .txt, .xlsx or .sav")


def read_flat_file(
    path: str | Path, mapping: str | Path | None = None, sheet: str | None = None,
    encoding: str | None = None,
) -> ImportResult:
    """Read and validate a flat table (CSV, XLSX, SAV), optionally through a mapping file.

    Parameters
    ----------
    path : str or Path
        The table. Row numbers in rejections count the header as row 1 (CSV/XLSX);
        for SAV files they are case numbers (first case = 1).
    mapping : str or Path, optional
        A mapping file (see :func:`mst.interop.mapping.load_mapping`); its
        ``missing_codes`` are read as missing values.
    sheet : str, optional
        Sheet of an XLSX workbook (the first sheet by default).
    encoding : str, optional
        Declared text encoding of a CSV without byte-order mark.

    Returns
    -------
    ImportResult
    """
    from mst.interop.mapping import apply_mapping, load_mapping

    mp = load_mapping(mapping) if mapping is not None else None
    raw, first = read_raw(path, sheet=sheet, missing=mp.missing_codes if mp else (),
                          encoding=encoding)
    rej: list[Rejection] = []
    if mp is not None:
        raw, rej = apply_mapping(raw, mp, first_row=first)
    res = validate_flat_table(raw, first_row=first, source=str(path))
    res.rejections = sorted(rej + res.rejections, key=lambda r: (r.row, r.column))
    if rej:  # rows with mapping errors were kept as empty cells: drop them as well
        bad = {r.row for r in rej}
        keep = [i for i in range(len(raw)) if first + i not in bad]
        res2 = validate_flat_table(
            raw.iloc[keep].reset_index(drop=True), first_row=first, source=str(path)
        )
        res.table = res2.table
    return res
