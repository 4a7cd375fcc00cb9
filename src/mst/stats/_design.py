"""Design matrices for the regression models: covariate lists, categorical coding, formulas.

String (and categorical / object) columns become treatment-coded dummy columns named
``col[level]``; the reference level is the first level in R's ``factor()`` order (a pandas
``Categorical`` keeps its own order; see :mod:`mst.stats._levels`) unless a reference is
given. Boolean columns become 0/1. Rows with a missing value in any used column are dropped
(as R's ``na.omit``) and counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mst.errors import ValidationError
from mst.stats._levels import factor_levels

_SURV = re.compile(r"^\s*Surv\s*\(([^)]*)\)\s*$")
_SPECIAL = re.compile(r"^\s*(strata|cluster)\s*\(\s*([^)]+?)\s*\)\s*$")
_FORMULAIC_LEVEL = re.compile(r"^(?:C\(\s*([^,\s)]+)[^\]]*\)|(.+?))\[T\.(.*)\]$")


@dataclass(frozen=True)
class Design:
    """A numeric design matrix with its column names and the rows it keeps.

    Attributes
    ----------
    X : ndarray, shape (n, p)
        Covariate matrix (float64).
    names : list of str
        Column names (dummies as ``col[level]``).
    rows : ndarray of bool
        Which rows of the input frame were kept (no missing value in a used column).
    references : dict
        Reference level of each categorical covariate.
    """

    X: NDArray[np.float64]
    names: list[str]
    rows: NDArray[np.bool_]
    references: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SurvFormula:
    """A parsed ``Surv(...) ~ rhs`` formula.

    Attributes
    ----------
    start, stop, event : str or None
        Column names from ``Surv(stop, event)`` or ``Surv(start, stop, event)``.
    rhs : str
        Right-hand side without the ``strata()`` / ``cluster()`` terms ("" when none left).
    strata, cluster : list of str
        Columns named in ``strata(...)`` and ``cluster(...)`` terms.
    """

    start: str | None
    stop: str
    event: str
    rhs: str
    strata: list[str]
    cluster: list[str]


def parse_surv_formula(formula: str) -> SurvFormula:
    """Parse ``"Surv(time, event) ~ a + b + strata(s) + cluster(id)"``.

    Parameters
    ----------
    formula : str
        The formula; the left side must be ``Surv(stop, event)`` or
        ``Surv(start, stop, event)``.

    Returns
    -------
    SurvFormula
        The parsed parts.
    """
    if formula.count("~") != 1:
        raise ValidationError("formula", formula, "must have exactly one '~'")
    lhs, rhs = formula.split("~")
    m = _SURV.match(lhs)
    if m is None:
        raise ValidationError(
            "formula",
            lhs.strip(),
            "left side must be Surv(time, event) or Surv(start, stop, event)",
        )
    args = [a.strip() for a in m.group(1).split(",")]
    if len(args) not in (2, 3) or not all(args):
        raise ValidationError("formula", lhs.strip(), "Surv() takes 2 or 3 column names")
    start = args[0] if len(args) == 3 else None
    terms, strata, cluster = [], [], []
    for term in _split_terms(rhs):
        sm = _SPECIAL.match(term)
        if sm is None:
            terms.append(term)
        elif sm.group(1) == "strata":
            strata.extend(c.strip() for c in sm.group(2).split(","))
        else:
            cluster.append(sm.group(2).strip())
    if len(cluster) > 1:
        raise ValidationError("formula", formula, "at most one cluster() term")
    return SurvFormula(start, args[-2], args[-1], " + ".join(terms), strata, cluster)


def _split_terms(rhs: str) -> list[str]:
    """Split on top-level '+' (not inside parentheses)."""
    out, depth, cur = [], 0, []
    for ch in rhs:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "+" and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [t for t in out if t and t not in ("1", "0", "-1")]


def _is_categorical(s: pd.Series) -> bool:
    return bool(
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s)
        or pd.api.types.is_string_dtype(s)
    )


def complete_rows(df: pd.DataFrame, columns: Sequence[str]) -> NDArray[np.bool_]:
    """Rows with no missing value in ``columns`` (each must exist)."""
    for c in columns:
        if c not in df.columns:
            raise ValidationError(
                "column", c, f"not in the data (columns: {', '.join(map(str, df.columns))})"
            )
    if not columns:
        return np.ones(len(df), dtype=bool)
    return np.asarray(df[list(columns)].notna().all(axis=1), dtype=bool)


def design_from_columns(
    df: pd.DataFrame,
    covariates: Sequence[str],
    reference: Mapping[str, str] | None = None,
    rows: NDArray[np.bool_] | None = None,
) -> Design:
    """Build the design matrix from a list of columns.

    Parameters
    ----------
    df : DataFrame
        The data.
    covariates : sequence of str
        Column names. Numeric and boolean columns enter as they are; string / categorical
        columns become dummies ``col[level]`` against a reference level.
    reference : mapping, optional
        ``{column: level}`` reference levels (default: first level in sorted order).
    rows : ndarray of bool, optional
        Restrict to these rows (in addition to dropping rows with missing values).

    Returns
    -------
    Design
        The matrix, names, kept rows and reference levels.
    """
    reference = dict(reference or {})
    for col in reference:
        if col not in covariates:
            raise ValidationError("reference", col, "names a column that is not a covariate")
    keep = complete_rows(df, covariates)
    if rows is not None:
        keep &= rows
    sub = df.loc[keep]
    blocks: list[NDArray[np.float64]] = []
    names: list[str] = []
    refs: dict[str, str] = {}
    for col in covariates:
        s = sub[col]
        if pd.api.types.is_bool_dtype(s):
            blocks.append(s.to_numpy(dtype=np.float64)[:, None])
            names.append(col)
        elif _is_categorical(s):
            levels = [str(v) for v in factor_levels(s)]
            ref = str(reference.get(col, levels[0] if levels else ""))
            if ref not in levels:
                raise ValidationError(
                    f"reference[{col}]", ref, f"must be one of the levels {', '.join(levels)}"
                )
            vals = s.astype(str).to_numpy()
            for lvl in levels:
                if lvl != ref:
                    blocks.append((vals == lvl).astype(np.float64)[:, None])
                    names.append(f"{col}[{lvl}]")
            refs[col] = ref
        else:
            try:
                blocks.append(s.to_numpy(dtype=np.float64)[:, None])
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    col, str(s.iloc[0]), "covariate must be numeric, boolean or categorical"
                ) from exc
            names.append(col)
        if col in reference and col not in refs:
            raise ValidationError(
                f"reference[{col}]",
                reference[col],
                "reference levels apply to categorical columns only",
            )
    X = np.hstack(blocks) if blocks else np.zeros((int(keep.sum()), 0))
    return Design(np.ascontiguousarray(X, dtype=np.float64), names, keep, refs)


def design_from_formula(
    df: pd.DataFrame, rhs: str, rows: NDArray[np.bool_] | None = None
) -> Design:
    """Build the design matrix from a formula right-hand side (formulaic, treatment coding).

    Parameters
    ----------
    df : DataFrame
        The data.
    rhs : str
        Right-hand side, e.g. ``"age + C(sex, contr.treatment('M'))"``.
    rows : ndarray of bool, optional
        Restrict to these rows.

    Returns
    -------
    Design
        The matrix (no intercept) with dummies renamed ``col[level]``.
    """
    import formulaic

    if not rhs.strip():
        raise ValidationError("formula", rhs, "needs at least one covariate")
    used = [
        c
        for c in map(str, df.columns)
        if re.search(r"(?<![\w.])" + re.escape(c) + r"(?![\w.])", rhs)
    ]
    keep = complete_rows(df, used)
    if rows is not None:
        keep &= rows
    sub = df.loc[keep].reset_index(drop=True)
    refs: dict[str, str] = {}
    for c in used:
        col = sub[c]
        if pd.api.types.is_bool_dtype(col) or not _is_categorical(col):
            continue
        levels = factor_levels(col)
        sub[c] = pd.Categorical(col, categories=levels)
        if levels:
            refs[c] = str(levels[0])
    try:
        mm = formulaic.model_matrix("1 + " + rhs, sub, na_action="raise")
    except Exception as exc:  # formulaic raises many types for unknown names / bad syntax
        raise ValidationError("formula", rhs, f"cannot be evaluated: {exc}") from exc
    cols = [c for c in mm.columns if c != "Intercept"]
    X = np.asarray(mm[cols], dtype=np.float64)
    names = []
    for c in cols:
        m = _FORMULAIC_LEVEL.match(c)
        names.append(f"{m.group(1) or m.group(2)}[{m.group(3)}]" if m else c)
    explicit = {m.group(1) or m.group(2) for c in cols if (m := _FORMULAIC_LEVEL.match(c))}
    refs = {k: v for k, v in refs.items() if k in explicit and not _has_contrast(rhs, k)}
    return Design(np.ascontiguousarray(X), names, keep, refs)


def _has_contrast(rhs: str, col: str) -> bool:
    """True when the formula sets the coding of ``col`` itself (``C(col, ...)``)."""
    return re.search(r"C\(\s*" + re.escape(col) + r"\s*,", rhs) is not None


def _column_stats(
    X: NDArray[np.float64], mu: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Standard deviation (as ``X.std(axis=0)``: squared deviations from ``mu``) and the
    largest absolute value of each column, in one pass over chunks of rows (no n × p
    temporary)."""
    acc = np.zeros(X.shape[1])
    big = np.zeros(X.shape[1])
    step = 1 << 14
    for a in range(0, X.shape[0], step):
        blk = X[a : a + step]
        np.maximum(big, blk.max(axis=0), out=big)
        np.maximum(big, -blk.min(axis=0), out=big)
        d = blk - mu
        acc += np.einsum("ij,ij->j", d, d)
    return np.sqrt(acc / max(X.shape[0], 1)), big


def check_design(X: NDArray[np.float64], names: Sequence[str]) -> NDArray[np.float64]:
    """Reject constant and collinear covariates, naming them.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Design matrix.
    names : sequence of str
        Column names.

    Returns
    -------
    ndarray
        The standard deviation of each column (as ``X.std(axis=0)``).
    """
    if X.shape[1] == 0:
        raise ValidationError("covariates", "[]", "at least one covariate is needed")
    if not np.isfinite(X).all():
        raise ValidationError("covariates", "inf", "covariates must be finite")
    mu = X.mean(axis=0)
    sd, absmax = _column_stats(X, mu)
    scale = np.maximum(absmax, 1.0)
    const = sd <= 1e-12 * scale
    if const.any():
        bad = [names[i] for i in np.flatnonzero(const)]
        raise ValidationError(
            "covariates", ", ".join(bad), "constant covariate (no variation in the analysed rows)"
        )
    if X.shape[0] <= X.shape[1]:
        raise ValidationError("covariates", X.shape[1], "more covariates than rows")
    C = (X.T @ X) / X.shape[0] - np.outer(mu, mu)
    C = C / np.outer(sd, sd)  # correlation matrix
    bad = []
    for k in range(1, C.shape[0]):
        prev = [i for i in range(k) if i not in bad]
        A = C[np.ix_(prev, prev)]
        c = C[prev, k]
        resid = 1.0 - float(c @ np.linalg.lstsq(A, c, rcond=None)[0])
        if resid <= 1e-9:
            bad.append(k)
    if bad:
        raise ValidationError(
            "covariates",
            ", ".join(names[i] for i in bad),
            "collinear with the preceding covariates (drop one of them)",
        )
    return sd
