"""SPSS ``.sav`` files (seed 002 analysed its data with SPSS 21) through pyreadstat.

Booleans are written as numeric 0/1 with value labels ``False``/``True``, nullable integers
as numeric, dates as SPSS DATE variables, text as strings (empty = missing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mst.errors import ValidationError


def write_sav(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table (e.g. the flat table) as an SPSS ``.sav`` file.

    Parameters
    ----------
    df : DataFrame
        Columns of dtype boolean, Int64, float, datetime or text.
    path : str or Path
        Output file.
    """
    import pyreadstat

    out = pd.DataFrame(index=df.index)
    labels: dict[str, dict[float, str]] = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_bool_dtype(s.dtype):
            out[c] = s.astype("Float64").astype(float)
            labels[c] = {0.0: "False", 1.0: "True"}
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[c] = s.dt.date.astype(object).where(s.notna(), None)
        elif pd.api.types.is_numeric_dtype(s.dtype):
            out[c] = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        else:
            out[c] = s.map(lambda v: "" if v is None or v is pd.NA or v != v else str(v))
    pyreadstat.write_sav(out, str(path), variable_value_labels=labels or None)


def read_sav(path: str | Path) -> pd.DataFrame:
    """Read an SPSS ``.sav`` file; empty strings become missing, value labels are not applied.

    Raises
    ------
    ValidationError
        The file cannot be read.
    """
    import pyreadstat

    try:
        df, _meta = pyreadstat.read_sav(str(path))
    except pyreadstat.ReadstatError as exc:  # type: ignore[attr-defined]
        raise ValidationError("file", str(path), f"could not be read as SPSS .sav ({exc})") from exc
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: None if isinstance(v, str) and v == "" else v)
    return df
