"""Reading an analysis table (CSV or XLSX) and pulling validated columns out of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mst.errors import ValidationError
from mst.stats import _validate as v


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (any delimiter pandas can sniff: ``,`` or ``;``) or an XLSX file.

    Raises
    ------
    ValidationError
        Unknown extension, unreadable or empty file.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix in {".xlsx", ".xlsm"}:
            df = pd.read_excel(p)
        elif suffix in {".csv", ".txt", ".tsv"}:
            df = pd.read_csv(p, sep=None, engine="python")
        else:
            raise ValidationError("file", str(p), "must be .csv, .tsv, .txt or .xlsx")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError("file", str(p), f"could not be read as a table ({exc})") from exc
    if df.empty:
        raise ValidationError("file", str(p), "has no data rows")
    return df


def need_columns(df: pd.DataFrame, *cols: str | None) -> None:
    """Fail naming every requested column that the table lacks."""
    missing = [c for c in cols if c is not None and c not in df.columns]
    if missing:
        raise ValidationError(
            f"column {', '.join(missing)}", None, f"not found; the table has {list(df.columns)}"
        )


_BOOL = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


def _numeric(df: pd.DataFrame, col: str) -> NDArray[np.float64]:
    s = df[col]
    if s.dtype == object:  # True/False (e.g. a boolean column with gaps) -> 1/0
        s = s.map(
            lambda x: _BOOL.get(str(x).strip().lower(), x) if isinstance(x, str | bool) else x
        )
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & s.notna()
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 1)[:10].tolist()
        raise ValidationError(f"{col} (rows {rows})", s[bad].iloc[0], "must be a number")
    return num.to_numpy(dtype=np.float64)


def _labels(col: pd.Series, values: NDArray[np.object_]) -> NDArray[np.object_]:
    """Numeric columns keep numeric labels (sorted as numbers, integral floats as int)."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        out = [int(x) if float(x).is_integer() else float(x) for x in values]
    else:
        out = [str(x) for x in values]
    return np.array(out, dtype=object)


def outcome_columns(
    df: pd.DataFrame,
    time: str,
    status: str,
    codes: tuple[int, ...],
    group: str | None = None,
    strata: str | None = None,
) -> tuple[
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.object_] | None,
    NDArray[np.object_] | None,
    int,
]:
    """Validated time, status, group and strata arrays from a table.

    Rows where both time and status are empty are outside the analysed population
    (e.g. ``lfs_months`` of patients without CR) and are excluded; their number is
    returned. Any other missing, negative or undeclared value fails with the column name
    and the (1-based data) row numbers.

    Returns
    -------
    (time, status, group, strata, n_excluded)
    """
    need_columns(df, time, status, group, strata)
    t_all = _numeric(df, time)
    s_all = _numeric(df, status)
    outside = np.isnan(t_all) & np.isnan(s_all)
    keep = ~outside
    rows = np.flatnonzero(keep)
    t = t_all[keep]
    s = s_all[keep]
    for name, arr in ((time, t), (status, s)):
        miss = np.isnan(arr)
        if miss.any():
            shown = (rows[miss] + 1)[:10].tolist()
            raise ValidationError(
                f"{name} (rows {shown})",
                None,
                "missing value (the other outcome column is filled in)",
            )
    neg = t < 0
    if neg.any():
        raise ValidationError(
            f"{time} (rows {(rows[neg] + 1)[:10].tolist()})",
            t[neg][0].item(),
            "follow-up time must be >= 0",
        )
    bad = ~np.isin(s, np.asarray(codes, dtype=np.float64))
    if bad.any():
        raise ValidationError(
            f"{status} (rows {(rows[bad] + 1)[:10].tolist()})",
            s[bad][0].item(),
            f"status code must be one of {list(codes)}",
        )
    labels: list[NDArray[np.object_] | None] = []
    for col in (group, strata):
        if col is None:
            labels.append(None)
            continue
        g = df[col].to_numpy(dtype=object)[keep]
        miss = pd.isna(df[col]).to_numpy()[keep]
        if miss.any():
            raise ValidationError(
                f"{col} (rows {(rows[miss] + 1)[:10].tolist()})",
                None,
                "empty group: every analysed row needs a group label",
            )
        labels.append(_labels(df[col], g))
    t = v.as_time(t, time)
    return t, s.astype(np.int64), labels[0], labels[1], int(outside.sum())
