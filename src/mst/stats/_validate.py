"""Input checks shared by the estimators: every failure names the column and the rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from mst.errors import ValidationError
from mst.stats._levels import factor_levels

_MAX_ROWS_SHOWN = 10


def _rows(mask: NDArray[np.bool_]) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(int(i) + 1) for i in idx[:_MAX_ROWS_SHOWN])
    more = f" and {idx.size - _MAX_ROWS_SHOWN} more" if idx.size > _MAX_ROWS_SHOWN else ""
    return f"rows {shown}{more}"


def as_time(values: ArrayLike, name: str = "time") -> NDArray[np.float64]:
    """Check follow-up times: numeric, finite, not missing, >= 0 (rows are 1-based)."""
    try:
        t = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(name, "non-numeric", "follow-up times must be numbers") from exc
    if t.ndim != 1:
        raise ValidationError(name, t.shape, "must be one-dimensional")
    bad = ~np.isfinite(t)
    if bad.any():
        raise ValidationError(
            f"{name} ({_rows(bad)})",
            t[bad][0].item(),
            "follow-up time must not be missing or infinite",
        )
    neg = t < 0
    if neg.any():
        raise ValidationError(
            f"{name} ({_rows(neg)})", t[neg][0].item(), "follow-up time must be >= 0"
        )
    return t


def as_codes(values: ArrayLike, allowed: Sequence[int], name: str) -> NDArray[np.int64]:
    """Check integer status codes against the declared set (e.g. ``(0, 1)``)."""
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            name, "non-numeric", f"status codes must be in {list(allowed)}"
        ) from exc
    if x.ndim != 1:
        raise ValidationError(name, x.shape, "must be one-dimensional")
    ok = np.isin(x, np.asarray(allowed, dtype=np.float64))
    if not ok.all():
        bad = ~ok
        raise ValidationError(
            f"{name} ({_rows(bad)})",
            x[bad][0].item(),
            f"status code must be one of {list(allowed)}",
        )
    return x.astype(np.int64)


def as_event(values: ArrayLike, name: str = "event") -> NDArray[np.int64]:
    """Check a 0/1 (or boolean) event indicator."""
    x = np.asarray(values)
    if x.dtype == np.bool_:
        x = x.astype(np.int64)
    return as_codes(x, (0, 1), name)


def as_weights(values: ArrayLike | None, n: int, name: str = "weights") -> NDArray[np.float64]:
    """Check case weights: finite and >= 0; ``None`` means all ones."""
    if values is None:
        return np.ones(n)
    w = np.asarray(values, dtype=np.float64)
    if w.shape != (n,):
        raise ValidationError(name, w.shape, f"must have length {n}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValidationError(
            f"{name} ({_rows(bad)})", w[bad][0].item(), "weights must be finite and >= 0"
        )
    return w


def same_length(n: int, **arrays: object) -> None:
    """Check that every array has ``n`` rows."""
    for name, arr in arrays.items():
        if arr is None:
            continue
        m = len(arr)  # type: ignore[arg-type]
        if m != n:
            raise ValidationError(name, m, f"must have the same length as time ({n})")


def as_labels(values: ArrayLike | None, n: int, name: str) -> NDArray[Any] | None:
    """Check group/strata labels: no missing values; returns an array or None (numeric
    labels stay a numeric array, anything else becomes an object array)."""
    if values is None:
        return None
    if not isinstance(values, pd.Categorical | pd.Series):
        raw = np.asarray(values)
        if raw.dtype.kind in "biuf":
            if raw.shape != (n,):
                raise ValidationError(name, raw.shape, f"must have length {n}")
            if raw.dtype.kind == "f" and np.isnan(raw).any():
                miss = np.isnan(raw)
                raise ValidationError(
                    f"{name} ({_rows(miss)})", None, "group label must not be missing"
                )
            return raw
    g = np.asarray(values, dtype=object)
    if g.shape != (n,):
        raise ValidationError(name, g.shape, f"must have length {n}")
    miss = np.asarray(pd.isna(g), dtype=bool)
    if miss.any():
        raise ValidationError(f"{name} ({_rows(miss)})", None, "group label must not be missing")
    return g


def category_order(values: object) -> list[object] | None:
    """The category order of a pandas Categorical (Series or array); None otherwise."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        return list(values.cat.categories)
    if isinstance(values, pd.Categorical):
        return list(values.categories)
    return None


def group_levels(g: NDArray[np.object_], order: list[object] | None = None) -> list[object]:
    """Distinct labels in R's ``factor()`` order (numbers numerically, text in R's
    collation; see :mod:`mst.stats._levels`), or in ``order`` (a Categorical's categories)."""
    if order is not None:
        present = set(g.tolist())
        return [c for c in order if c in present]
    if g.dtype.kind in "biuf":
        return list(np.unique(g).tolist())
    return factor_levels(g)


def group_codes(
    g: NDArray[np.object_], order: list[object] | None = None
) -> tuple[list[object], NDArray[np.int64]]:
    """Levels (as :func:`group_levels`) and the 0-based level index of every row."""
    if g.dtype.kind in "biu" and order is None and g.size:
        # integer labels: O(n) by counting instead of sorting
        lo = int(g.min())
        span = int(g.max()) - lo + 1
        if span <= max(1024, g.size):
            shifted = g.astype(np.int64) - lo
            present = np.flatnonzero(np.bincount(shifted, minlength=span))
            lookup = np.full(span, -1, dtype=np.int64)
            lookup[present] = np.arange(present.size)
            vals = (present + lo).tolist()
            if g.dtype.kind == "b":
                vals = [bool(x) for x in vals]
            return vals, lookup[shifted]
    if g.dtype.kind in "biuf" and order is None:
        uniq, inv = np.unique(g, return_inverse=True)
        return list(uniq.tolist()), inv.astype(np.int64)
    codes, uniques = pd.factorize(g, sort=False)
    levels = group_levels(np.asarray(uniques, dtype=object), order)
    pos = {lev: i for i, lev in enumerate(levels)}
    remap = np.array([pos[u] for u in uniques.tolist()], dtype=np.int64)
    return levels, remap[codes]


def time_index(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Sorted distinct times and each row's index into them, without sorting the rows.

    A hash factorisation (``pandas.factorize``) finds the distinct times in one O(n)
    pass; only the distinct times are sorted, and each row's index is a lookup in that
    small table. With tied times (registry data in days or months) this is several times
    faster than an argsort of the rows followed by gathers.
    """
    codes, uniq = pd.factorize(t, sort=False)
    uniq = np.asarray(uniq, dtype=np.float64)
    order = np.argsort(uniq)
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return uniq[order], rank[codes]
