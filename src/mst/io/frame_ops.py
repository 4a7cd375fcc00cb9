"""Small numpy helpers for per-patient derivations on :class:`mst.io.frames.CohortFrames`
(and :func:`only_columns`, the column selection of the analyses that read a wide table).

Dates are handled as whole-day numbers (days since 1970-01-01, ``int64``) with :data:`NONE`
for a missing date, so per-patient minima and maxima are plain numpy reductions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mst.errors import ValidationError

if TYPE_CHECKING:
    from mst.io.frames import CohortFrames

#: Day number standing for "no date" (larger than every real day: neutral for minima).
NONE = np.iinfo(np.int64).max
#: Day number standing for "no date" in maxima (smaller than every real day).
NONE_LOW = np.iinfo(np.int64).min


def only_columns(data: Any, *cols: str | None) -> Any:
    """``data`` restricted to ``cols`` (each once, in that order; None left out) when it is
    a DataFrame with unique column names that has all of them; else ``data`` itself, so
    that the model's own checks report a missing column as they would have.

    A model that reads a few columns of a wide table then copies only those.
    """
    keep = list(dict.fromkeys(c for c in cols if c))
    if (isinstance(data, pd.DataFrame) and data.columns.is_unique
            and all(c in data.columns for c in keep)):
        return data[keep]
    return data


def positions(patients: pd.DataFrame, child: pd.DataFrame) -> np.ndarray:
    """Row position of each child record's patient in ``patients`` (-1 when unknown).

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients frame (column ``id``).
    child : pandas.DataFrame
        A frame with a ``patient_id`` column.

    Returns
    -------
    numpy.ndarray
        ``int64`` positions, one per child row.
    """
    if len(child) == 0:
        return np.zeros(0, dtype=np.int64)
    index = pd.Index(patients["id"])
    if not index.is_unique:
        dup = index[index.duplicated()][0]
        raise ValidationError("patient id", dup, "appears more than once in the cohort")
    return index.get_indexer(child["patient_id"]).astype(np.int64)


def day_numbers(values: pd.Series, missing: int = NONE) -> np.ndarray:
    """Whole-day numbers of a datetime column (the time of day is dropped).

    Parameters
    ----------
    values : pandas.Series
        ``datetime64[ns]`` values, ``NaT`` when missing.
    missing : int
        Number given to ``NaT`` (default :data:`NONE`).

    Returns
    -------
    numpy.ndarray
        ``int64`` day numbers.
    """
    arr = values.to_numpy(dtype="datetime64[ns]")
    out = arr.astype("datetime64[D]").astype(np.int64)
    nat = np.isnat(arr)
    if nat.any():
        out[nat] = missing
    return out


def to_datetime(days: np.ndarray) -> pd.Series:
    """Day numbers back to a ``datetime64[ns]`` Series (:data:`NONE`/:data:`NONE_LOW` → NaT)."""
    arr = np.asarray(days, dtype=np.int64)
    missing = (arr == NONE) | (arr == NONE_LOW)
    out = np.where(missing, 0, arr).astype("datetime64[D]").astype("datetime64[ns]")
    out[missing] = np.datetime64("NaT")
    return pd.Series(out, dtype="datetime64[ns]")


def group_min(n: int, pos: np.ndarray, values: np.ndarray, fill: int = NONE) -> np.ndarray:
    """Per-patient minimum of ``values`` (``fill`` for a patient without any)."""
    out = np.full(n, fill, dtype=np.int64)
    if len(pos):
        np.minimum.at(out, pos, values)
    return out


def group_max(n: int, pos: np.ndarray, values: np.ndarray, fill: int = NONE_LOW) -> np.ndarray:
    """Per-patient maximum of ``values`` (``fill`` for a patient without any)."""
    out = np.full(n, fill, dtype=np.int64)
    if len(pos):
        np.maximum.at(out, pos, values)
    return out


def first_row(n: int, pos: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Index of each patient's first row (in ``order`` when given, else row order); -1 if none.

    Parameters
    ----------
    n : int
        Number of patients.
    pos : numpy.ndarray
        Patient position of every row (-1 rows are ignored).
    order : numpy.ndarray, optional
        A permutation of the rows (e.g. from :func:`numpy.lexsort`); ties keep it.
    """
    idx = np.arange(len(pos)) if order is None else np.asarray(order)
    p = pos[idx]
    keep = p >= 0
    idx, p = idx[keep], p[keep]
    out = np.full(n, -1, dtype=np.int64)
    # assign in reverse so that the first row of each patient is written last
    out[p[::-1]] = idx[::-1]
    return out


def take(values: pd.Series, rows: np.ndarray) -> pd.Series:
    """``values`` at ``rows`` (-1 → missing, keeping the dtype), with a fresh RangeIndex."""
    if len(values) == 0:
        return pd.Series([None] * len(rows), dtype=values.dtype)
    out = values.iloc[np.where(rows >= 0, rows, 0)].reset_index(drop=True)
    missing = rows < 0
    if missing.any():
        if out.dtype == object:
            out[missing] = None
        else:
            out = out.where(~missing)
    return out


def pick(values: np.ndarray, rows: np.ndarray, fill: object) -> np.ndarray:
    """``values[rows]`` with ``fill`` where ``rows`` is -1 (also when ``values`` is empty)."""
    if len(values) == 0:
        return np.full(len(rows), fill, dtype=values.dtype if fill is not None else object)
    return np.where(rows >= 0, values[np.maximum(rows, 0)], fill)


class FrameIndex:
    """Patient positions and day numbers of one :class:`~mst.io.frames.CohortFrames`, each
    computed once (derivations that share a cohort share one index).

    Parameters
    ----------
    frames : mst.io.frames.CohortFrames
        The cohort.
    """

    def __init__(self, frames: CohortFrames) -> None:
        self.frames = frames
        self._pos: dict[str, np.ndarray] = {}
        self._days: dict[tuple[str, str], np.ndarray] = {}
        self._mask: dict[tuple[str, str, tuple[str, ...]], np.ndarray] = {}

    @property
    def n(self) -> int:
        """Number of patients."""
        return len(self.frames.patients)

    def positions(self, name: str) -> np.ndarray:
        """:func:`positions` of the frame ``name`` (e.g. ``"labs"``)."""
        if name not in self._pos:
            self._pos[name] = positions(self.frames.patients, getattr(self.frames, name))
        return self._pos[name]

    def days(self, name: str, column: str) -> np.ndarray:
        """:func:`day_numbers` of a date column (missing → :data:`NONE`)."""
        key = (name, column)
        if key not in self._days:
            self._days[key] = day_numbers(getattr(self.frames, name)[column])
        return self._days[key]

    def isin(self, name: str, column: str, values: tuple[str, ...]) -> np.ndarray:
        """Boolean mask: the column's value is one of ``values``."""
        key = (name, column, values)
        if key not in self._mask:
            col = getattr(self.frames, name)[column]
            self._mask[key] = col.isin(values).to_numpy(dtype=bool) if len(col) else np.zeros(
                0, dtype=bool
            )
        return self._mask[key]
