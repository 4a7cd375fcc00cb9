"""Reading an analysis table (CSV or XLSX) and pulling validated columns out of it.

Every ``mst stats`` command and every API function that takes a data frame goes through
this module: the same reader, the same event codings (0/1, yes/no, true/false), the same
checks and the same plain-words errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mst.errors import ValidationError
from mst.io.tabular import read_table_text, to_numbers
from mst.stats import _validate as v


def read_table(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """Read an analysis table through the one reader of the package.

    CSV/TSV/TXT (byte-order mark, UTF-8 or the declared ``encoding``; ``,`` ``;`` tab or
    ``|`` sniffed) or XLSX; ``NA``, blank, ``#N/A`` … are missing; duplicate or unnamed
    headers, binary files, 0-byte and header-only files are refused
    (:func:`mst.io.tabular.read_table_text`). In a ``;``-delimited file a decimal comma is
    read as R's ``read.csv2`` reads it (``1,5`` = 1.5). Columns whose cells are all numbers become
    numbers, columns of TRUE/FALSE become logical; every other column stays text.

    Parameters
    ----------
    path : str or Path
        The file.
    encoding : str, optional
        Declared text encoding when the file has no byte-order mark.

    Returns
    -------
    DataFrame

    Raises
    ------
    ValidationError
        Unreadable, empty or header-only file, in plain words.
    """
    raw = read_table_text(path, encoding=encoding)
    if raw.empty:
        raise ValidationError(
            str(path), None, f"has a header ({', '.join(map(str, raw.columns))}) but no data rows"
        )
    if _semicolon_file(Path(path), encoding):
        raw = _decimal_commas(raw)
    out = to_numbers(raw)
    for col in out.columns:  # TRUE/FALSE columns are logical, as pandas and R read them
        cells = out[col]
        if cells.dtype == object and cells.notna().any():
            low = cells.dropna().map(lambda x: str(x).lower())
            if low.isin(["true", "false"]).all():
                out[col] = cells.map(lambda x: None if x is None else str(x).lower() == "true")
                if cells.notna().all():
                    out[col] = out[col].astype(bool)
    return out


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+(,\d+)?$")


def _semicolon_file(path: Path, encoding: str | None) -> bool:
    if path.suffix.lower() not in (".csv", ".txt"):
        return False
    from mst.io.tabular import decode_bytes, sniff_delimiter

    with path.open("rb") as fh:
        head = fh.read(65536)
    try:
        text = decode_bytes(head, str(path), encoding)
    except ValidationError:
        return False
    return sniff_delimiter(text.split("\n", 1)[0]) == ";"


def _decimal_commas(raw: pd.DataFrame) -> pd.DataFrame:
    """In a ``;``-delimited file, ``1,5`` is one and a half (R ``read.csv2``): columns whose
    every cell is a number with a decimal comma become numbers."""
    out = raw.copy()
    for col in out.columns:
        cells = out[col].dropna()
        text = cells.map(str)
        if (
            len(text)
            and text.map(lambda x: bool(_DECIMAL_COMMA.match(x))).all()
            and text.str.contains(",").any()
        ):
            out[col] = out[col].map(lambda x: None if x is None else str(x).replace(",", "."))
    return out


def check_frame(df: object, *cols: str | None) -> pd.DataFrame:
    """Check a data frame given to the API: a DataFrame, unique column names, the columns
    asked for, at least one row."""
    if not isinstance(df, pd.DataFrame):
        raise ValidationError("data", type(df).__name__, "must be a pandas DataFrame")
    dup = df.columns[df.columns.duplicated()].unique().tolist()
    if dup:
        raise ValidationError(
            "data", None, f"duplicate column names: {', '.join(map(str, dup))} (rename them)"
        )
    need_columns(df, *cols)
    if len(df) == 0:
        raise ValidationError("data", None, "the table has no rows")
    return df


def need_columns(df: pd.DataFrame, *cols: str | None) -> None:
    """Fail naming every requested column that the table lacks."""
    missing = [c for c in cols if c is not None and c not in df.columns]
    if missing:
        raise ValidationError(
            f"column {', '.join(missing)}",
            None,
            f"not in the data (columns: {', '.join(map(str, df.columns))})",
        )


#: Text codings of an event / status indicator accepted everywhere (case-insensitive).
EVENT_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


def numeric_column(df: pd.DataFrame, col: str) -> NDArray[np.float64]:
    """A column as float (NaN = missing), with yes/no and true/false read as 1/0.

    Parameters
    ----------
    df : DataFrame
        The table.
    col : str
        Column name.

    Returns
    -------
    ndarray of float

    Raises
    ------
    ValidationError
        A cell that is neither a number nor one of :data:`EVENT_WORDS`, naming its rows.
    """
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=np.float64)
    if not pd.api.types.is_numeric_dtype(s):
        s = s.map(
            lambda x: (
                EVENT_WORDS.get(x.strip().lower(), x)
                if isinstance(x, str)
                else (float(x) if isinstance(x, bool | np.bool_) else x)
            )
        )
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & s.notna()
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 1)[:10].tolist()
        raise ValidationError(
            f"{col} (rows {rows})",
            s[bad].iloc[0],
            "must be a number (or yes/no, true/false for an event indicator)",
        )
    return num.to_numpy(dtype=np.float64, na_value=np.nan)


_numeric = numeric_column


def outcome_frame(df: object, columns: Sequence[str], numeric: Sequence[str]) -> pd.DataFrame:
    """The frame given to a regression function, checked (:func:`check_frame`) and with its
    outcome columns (time, event/status, start) read as numbers by :func:`numeric_column`.

    Rows where every one of ``columns`` is missing are left for the caller to drop; when no
    row has them all, the error says so instead of failing later on an empty design.
    """
    frame = check_frame(df, *columns)
    out = frame.assign(**{c: numeric_column(frame, c) for c in dict.fromkeys(numeric)})
    if not out[list(columns)].notna().all(axis=1).any():
        raise ValidationError(
            ", ".join(columns), None, "no row has all of these filled in: nothing to analyse"
        )
    return out


def _labels(col: pd.Series, values: NDArray[np.object_]) -> NDArray[np.object_]:
    """Numeric columns keep numeric labels (sorted as numbers, integral floats as int); a
    Categorical column keeps its category order (returned as a pandas Categorical)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in col.cat.categories]
        return pd.Categorical([str(x) for x in values], categories=cats)  # type: ignore[return-value]
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        out = [int(x) if float(x).is_integer() else float(x) for x in values]
    else:
        out = [str(x) for x in values]
    return np.array(out, dtype=object)


def outcome_columns(
    df: pd.DataFrame,
    time: str,
    status: str,
    codes: tuple[int, ...] | None,
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
    check_frame(df, time, status, group, strata)
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
    if codes is None:  # any integer code (competing-risks status read with data=)
        codes = tuple(int(c) for c in np.unique(s[np.isfinite(s) & (s == np.round(s))]))
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


def survival_inputs(
    data: object,
    formula: str | None,
    time: object,
    event: object,
    group: object,
    strata: object,
    codes: tuple[int, ...] | None,
    entry: object = None,
) -> tuple[Any, Any, Any, Any, Any, str | None]:
    """Resolve ``data=`` + column names or a ``Surv(time, event) ~ group`` formula.

    Without ``data`` and ``formula`` the arguments are returned unchanged (arrays). With
    them, the columns are read by :func:`outcome_columns` (same codings and errors as the
    CLI); ``Surv(entry, time, event)`` gives left-truncated data, ``strata(col)`` a
    stratum column, and at most one other term names the group column.

    Returns
    -------
    (time, event, group, strata, entry, group_name)
    """
    if data is None and formula is None:
        return time, event, group, strata, entry, None
    if data is None:
        raise ValidationError("data", None, "a formula needs data=")
    if formula is not None:
        from mst.stats._design import parse_surv_formula

        f = parse_surv_formula(formula)
        terms = [t.strip() for t in f.rhs.split("+") if t.strip()] if f.rhs else []
        if len(terms) > 1:
            raise ValidationError(
                "formula", formula, "takes one grouping column (and strata(...)) on the right"
            )
        if f.cluster:
            raise ValidationError("formula", formula, "cluster() applies to the Cox model only")
        time, event, entry = f.stop, f.event, f.start
        group = terms[0] if terms else None
        strata = f.strata[0] if f.strata else None
        if len(f.strata) > 1:
            raise ValidationError("formula", formula, "one strata() column")
    for name, val in (("time", time), ("event", event), ("group", group), ("strata", strata)):
        if val is not None and not isinstance(val, str):
            raise ValidationError(name, None, "with data=, give column names")
    if not isinstance(time, str) or not isinstance(event, str):
        raise ValidationError("time/event", None, "give the time and event column names")
    df = check_frame(data, time, event, group, strata, entry)  # type: ignore[arg-type]
    t, e, g, st, _ = outcome_columns(df, time, event, codes, group, strata)  # type: ignore[arg-type]
    ent = None
    if entry is not None:
        both = df[[time, event]].isna().all(axis=1).to_numpy()
        ent = numeric_column(df, entry)[~both]  # type: ignore[arg-type]
    return t, e, g, st, ent, group if isinstance(group, str) else None
