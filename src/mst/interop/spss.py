"""SPSS ``.sav`` files (seed 002 analysed its data with SPSS 21) through pyreadstat.

What an SPSS user expects to see (docs/interop.md):

* **variable labels** from the shared label table (``Donor age (years)``);
* **coded fields**: a column with levels in the label table (sex, age group, cause of death …)
  is written as numeric codes 1, 2, … in clinical order with **value labels** (1 = Male,
  2 = Female); booleans as 0/1 with value labels No/Yes;
* **measure levels**: nominal for codes and text, ordinal for ordered groupings (age group,
  age band, ELN risk, fitness, grades), scale for measurements;
* **formats**: ``F8.0`` for integers, ``F8.2`` for decimals, SPSS DATE for dates, text as
  strings (empty = missing).

:func:`read_sav` turns the codes of such columns back into the flat-table values, so a
written file reads back as the same table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mst.errors import ValidationError

#: Coded columns whose levels are ordered (measure level "ordinal").
ORDINAL = frozenset({"age_group", "age_band", "eln_risk", "fitness", "gvhd_max_grade",
                     "crs_max_grade", "hla_mismatches_10", "hla_mismatches_12",
                     "donor_age_group"})


def write_sav(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table (e.g. the flat table) as an SPSS ``.sav`` file with variable labels,
    value labels for coded fields, measure levels and integer formats.

    Parameters
    ----------
    df : DataFrame
        Columns of dtype boolean, Int64, float, datetime or text.
    path : str or Path
        Output file.

    Raises
    ------
    ValidationError
        A coded column holds a value that is not one of its levels in the label table.
    """
    import pyreadstat

    from mst.labels import column

    out = pd.DataFrame(index=df.index)
    labels: dict[str, dict[float, str]] = {}
    measure: dict[str, str] = {}
    formats: dict[str, str] = {}
    var_labels: dict[str, str] = {}
    for c in df.columns:
        s = df[c]
        meta = column(str(c))
        var_labels[c] = meta.title
        levels = meta.levels
        if pd.api.types.is_bool_dtype(s.dtype):
            out[c] = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            labels[c] = {0.0: levels.get("False", "No"), 1.0: levels.get("True", "Yes")}
            measure[c], formats[c] = "nominal", "F1.0"
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[c] = s.dt.date.astype(object).where(s.notna(), None)
            measure[c] = "scale"
        elif pd.api.types.is_numeric_dtype(s.dtype):
            out[c] = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            integer = pd.api.types.is_integer_dtype(s.dtype)
            formats[c] = "F8.0" if integer else "F8.2"
            measure[c] = "ordinal" if c in ORDINAL else "scale"
            if levels and integer:  # status codes: value labels on the codes themselves
                labels[c] = {float(k): v for k, v in levels.items() if k.lstrip("-").isdigit()}
                measure[c] = "nominal" if c not in ORDINAL else "ordinal"
        elif levels:
            codes = {k: float(i + 1) for i, k in enumerate(levels)}
            bad = sorted({str(v) for v in s.dropna() if str(v) not in codes})
            if bad:
                raise ValidationError(f"{c}", bad, f"not a level of the label table "
                                      f"({', '.join(levels)})")
            out[c] = s.map(lambda v, m=codes: np.nan if v is None or v is pd.NA or v != v
                           else m[str(v)]).astype(float)
            labels[c] = {code: levels[k] for k, code in codes.items()}
            measure[c], formats[c] = ("ordinal" if c in ORDINAL else "nominal"), "F2.0"
        else:
            out[c] = s.map(lambda v: "" if v is None or v is pd.NA or v != v else str(v))
            measure[c] = "nominal"
    pyreadstat.write_sav(out, str(path), column_labels=var_labels,
                         variable_value_labels=labels or None, variable_measure=measure,
                         variable_format=formats)


def read_sav(path: str | Path) -> pd.DataFrame:
    """Read an SPSS ``.sav`` file; empty strings become missing. Codes of the coded columns
    written by :func:`write_sav` (value labels equal to the label table's) become the
    flat-table values again; other value labels are not applied (map them in a mapping).

    Raises
    ------
    ValidationError
        The file cannot be read.
    """
    import pyreadstat

    from mst.labels import column

    try:
        df, meta = pyreadstat.read_sav(str(path))
    except pyreadstat.ReadstatError as exc:  # type: ignore[attr-defined]
        raise ValidationError("file", str(path), f"could not be read as SPSS .sav ({exc})") from exc
    vlabels = meta.variable_value_labels or {}
    for c in df.columns:  # codes written by write_sav back to the flat-table values
        levels = column(str(c)).levels
        if (c in vlabels and levels and df[c].dtype != object
                and set(vlabels[c].values()) <= set(levels.values())
                and not all(k.lstrip("-").isdigit() for k in levels)
                and set(levels) != {"False", "True"}):
            back = {v: k for k, v in levels.items()}
            lab = vlabels[c]
            df[c] = df[c].map(lambda x, b=back, la=lab: None if x != x else b.get(la.get(x)))
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: None if isinstance(v, str) and v == "" else v)
    return df
