"""Data-quality checks of a flat table before the analyses (excluded and inconsistent rows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _bool(s: pd.Series) -> pd.Series:
    return s.map(
        lambda v: (
            None
            if v is None or v is pd.NA or v != v
            else str(v).strip().lower() in {"true", "1", "1.0"}
        )
    )


def data_quality(df: pd.DataFrame, by: str, os_time: str = "os_days") -> dict[str, Any]:
    """Rows excluded from every analysis and rows that are inconsistent (kept, listed).

    Excluded: missing group (``by``), missing OS time (``os_time``) or OS event (when the
    table has values in these columns at all). Inconsistent (flagged):
    ``os_event`` = 1 without a death date; CR without LFS time (or LFS time without CR);
    ``crs_status`` = 1 without a recorded relapse; LFS longer than OS (CR after the end of
    follow-up).

    Returns
    -------
    dict
        ``excluded`` and ``inconsistent`` (lists of ``{row, patient_id, issue}``, row = table
        row starting at 1), their counts, and ``excluded_index`` (index labels, internal).
    """
    pid = (
        df["patient_id"].astype(str).to_numpy()
        if "patient_id" in df.columns
        else np.array([str(i + 1) for i in range(len(df))])
    )
    excluded: list[dict[str, Any]] = []
    excluded_index: list[Any] = []

    def add(lst: list[dict[str, Any]], mask: pd.Series, issue: str) -> None:
        for i in np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool)):
            lst.append({"row": int(i) + 1, "patient_id": pid[i], "issue": issue})

    checks = [(by, f"missing group ({by})")]
    checks += [(c, f"missing {c}") for c in (os_time, "os_event")
               if c in df.columns and df[c].notna().any()]  # an empty column: OS not available
    seen: set[int] = set()
    for col, issue in checks:
        mask = pd.Series(True, index=df.index) if col not in df.columns else df[col].isna()
        for i in np.flatnonzero(mask.to_numpy(dtype=bool)):
            if i in seen:
                continue
            seen.add(int(i))
            excluded.append({"row": int(i) + 1, "patient_id": pid[i], "issue": issue})
            excluded_index.append(df.index[i])
    inconsistent: list[dict[str, Any]] = []
    cols = set(df.columns)
    if {"os_event", "death_date"} <= cols:
        add(
            inconsistent,
            (pd.to_numeric(df["os_event"]) == 1) & df["death_date"].isna(),
            "os_event = 1 but no death_date",
        )
    if {"cr", "lfs_days"} <= cols:
        cr = _bool(df["cr"])
        add(
            inconsistent,
            (cr == True) & df["lfs_days"].isna(),  # noqa: E712
            "cr = True but no LFS time",
        )
        add(
            inconsistent,
            (cr != True) & df["lfs_days"].notna(),  # noqa: E712
            "LFS time without CR",
        )
    if {"crs_status", "relapse"} <= cols:
        add(
            inconsistent,
            (pd.to_numeric(df["crs_status"]) == 1) & (_bool(df["relapse"]) != True),  # noqa: E712
            "crs_status = 1 but relapse is not True",
        )
    if {"lfs_days", "os_days"} <= cols:
        add(
            inconsistent,
            pd.to_numeric(df["lfs_days"]) > pd.to_numeric(df["os_days"]),
            "LFS longer than OS",
        )
    return {
        "n_input": len(df),
        "n_excluded": len(excluded),
        "excluded": excluded,
        "n_inconsistent": len(inconsistent),
        "inconsistent": inconsistent,
        "excluded_index": excluded_index,
    }
