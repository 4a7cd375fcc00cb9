"""Table 1 / Table 2: descriptive statistics by group with the conventional tests.

Categorical variables: n (%) per level; Fisher exact when any expected count is < 5
(Fisher–Freeman–Halton beyond 2 x 2), Pearson chi-square otherwise (002 Methods:
"chi-square test or Fisher's exact test"). Continuous variables: mean ± SD with Welch's
t-test (two groups) or one-way ANOVA when every group looks normal (Shapiro–Wilk
p > 0.05, n >= 3), otherwise median (Q1, Q3) with the Mann–Whitney U test (two groups,
R ``wilcox.test`` conventions) or the Kruskal–Wallis test. The test used is named in the
output. Quartiles are R's default (type 7).
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats as sst

from mst.errors import ValidationError
from mst.stats.exact import conventional_table_test

NORMALITY_ALPHA = 0.05
ALL = "All patients"


@dataclass(frozen=True)
class ContinuousTest:
    """Result of a two- or k-sample location test."""

    test: str
    p: float
    statistic: float


def mann_whitney(x: NDArray[np.float64], y: NDArray[np.float64]) -> ContinuousTest:
    """Two-sided Mann–Whitney U test as R ``wilcox.test(x, y)``: exact when both samples
    have fewer than 50 values and there are no ties, else normal approximation with
    continuity and tie corrections."""
    pooled = np.r_[x, y]
    exact = x.size < 50 and y.size < 50 and np.unique(pooled).size == pooled.size
    r = sst.mannwhitneyu(
        x,
        y,
        alternative="two-sided",
        use_continuity=True,
        method="exact" if exact else "asymptotic",
    )
    return ContinuousTest(
        "Mann-Whitney U" + (" (exact)" if exact else ""), float(r.pvalue), float(r.statistic)
    )


def location_test(groups: list[NDArray[np.float64]], normal: bool) -> ContinuousTest:
    """Welch t / one-way ANOVA when ``normal``, else Mann–Whitney / Kruskal–Wallis."""
    if len(groups) == 2:
        if normal:
            r = sst.ttest_ind(groups[0], groups[1], equal_var=False)
            return ContinuousTest("Welch t-test", float(r.pvalue), float(r.statistic))
        return mann_whitney(groups[0], groups[1])
    if normal:
        r = sst.f_oneway(*groups)
        return ContinuousTest("one-way ANOVA", float(r.pvalue), float(r.statistic))
    r = sst.kruskal(*groups)
    return ContinuousTest("Kruskal-Wallis", float(r.pvalue), float(r.statistic))


def looks_normal(groups: list[NDArray[np.float64]], alpha: float = NORMALITY_ALPHA) -> bool:
    """True when every group has n >= 3, is not constant, and Shapiro–Wilk p > ``alpha``."""
    for g in groups:
        if g.size < 3 or np.ptp(g) == 0:
            return False
        if sst.shapiro(g).pvalue <= alpha:
            return False
    return True


@dataclass
class VariableRow:
    """One variable of the table."""

    variable: str
    kind: str
    summary: str
    test: str
    p: float | None
    statistic: float | None
    n_missing: int
    levels: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class Table1:
    """Descriptive table by group."""

    by: str
    groups: list[str]
    n: dict[str, int]
    rows: list[VariableRow]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        return {
            "by": self.by,
            "groups": self.groups,
            "n": self.n,
            "variables": [asdict(r) for r in self.rows],
        }

    def to_html(self, digits_p: int = 3) -> str:
        """A self-contained HTML table (variables, overall and group columns, p-value, test)."""
        cols = [ALL, *self.groups]
        esc = html.escape
        head = "".join(f"<th>{esc(c)} (n = {self.n[c]})</th>" for c in cols)
        out = [
            '<table class="mst-table1">',
            f"<thead><tr><th>Variable</th>{head}<th>p-value</th><th>Test</th></tr></thead>",
            "<tbody>",
        ]
        for r in self.rows:
            p = format_p(r.p, digits_p)
            if r.kind == "categorical":
                out.append(
                    f"<tr><td>{esc(r.variable)}, n (%)</td>"
                    + "<td></td>" * len(cols)
                    + f"<td>{esc(p)}</td><td>{esc(r.test)}</td></tr>"
                )
                for lev in r.levels:
                    cells = "".join(f"<td>{esc(lev[c])}</td>" for c in cols)
                    out.append(
                        f"<tr><td>&nbsp;&nbsp;{esc(str(lev['level']))}</td>{cells}"
                        "<td></td><td></td></tr>"
                    )
            else:
                cells = "".join(f"<td>{esc(r.values[c])}</td>" for c in cols)
                out.append(
                    f"<tr><td>{esc(r.variable)}, {esc(r.summary)}</td>{cells}"
                    f"<td>{esc(p)}</td><td>{esc(r.test)}</td></tr>"
                )
        out.append("</tbody></table>")
        return "\n".join(out)


def format_p(p: float | None, digits: int = 3) -> str:
    """Format a p-value as journals do: ``<0.001`` below 10^-digits."""
    if p is None or not np.isfinite(p):
        return "NA"
    limit = 10.0**-digits
    return f"<{limit:.{digits}f}" if p < limit else f"{p:.{digits}f}"


def _pct(k: int, n: int, digits: int) -> str:
    return f"{k} ({100 * k / n:.{digits}f})" if n else f"{k} (NA)"


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def _continuous_str(x: NDArray[np.float64], normal: bool, digits: int) -> str:
    if x.size == 0:
        return "NA"
    if normal:
        sd = float(np.std(x, ddof=1)) if x.size > 1 else float("nan")
        return f"{np.mean(x):.{digits}f} ± {sd:.{digits}f}"
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    return f"{med:.{digits}f} ({q1:.{digits}f}, {q3:.{digits}f})"


def table1(
    df: pd.DataFrame,
    by: str,
    variables: list[str] | None = None,
    categorical: list[str] | None = None,
    normal: dict[str, bool] | None = None,
    digits: int = 2,
) -> Table1:
    """Build Table 1 (characteristics by group) with p-values and the test used.

    Parameters
    ----------
    df : DataFrame
        One row per patient (e.g. the flat analysis table).
    by : str
        Grouping column (rows where it is missing are left out).
    variables : list of str, optional
        Variables to describe (default: every column but ``by``).
    categorical : list of str, optional
        Numeric columns to treat as categorical (text and booleans always are).
    normal : dict, optional
        Force the normal / non-normal choice for continuous variables
        (default: Shapiro–Wilk in every group).
    digits : int
        Decimals of percentages and summaries.

    Returns
    -------
    Table1
    """
    if by not in df.columns:
        raise ValidationError("by", by, f"column not found (columns: {list(df.columns)})")
    variables = [c for c in df.columns if c != by] if variables is None else list(variables)
    missing_cols = [c for c in variables if c not in df.columns]
    if missing_cols:
        raise ValidationError("vars", missing_cols, "columns not found in the table")
    categorical = set(categorical or [])
    normal = normal or {}
    data = df[df[by].notna()]
    if data.empty:
        raise ValidationError(by, "all missing", "no rows with a group")
    labels = sorted(data[by].unique().tolist(), key=lambda x: (str(type(x)), x))
    if len(labels) < 2:
        raise ValidationError(by, labels, "needs at least two groups")
    groups = [str(x) for x in labels]
    masks = {str(lab): (data[by] == lab).to_numpy() for lab in labels}
    n = {ALL: len(data), **{g: int(m.sum()) for g, m in masks.items()}}
    rows: list[VariableRow] = []
    for var in variables:
        col = data[var]
        miss = int(col.isna().sum())
        if var in categorical or _is_categorical(col):
            rows.append(_categorical(var, col, groups, masks, digits, miss))
        else:
            rows.append(_continuous(var, col, groups, masks, digits, miss, normal.get(var)))
    return Table1(by, groups, n, rows)


def _categorical(
    var: str,
    col: pd.Series,
    groups: list[str],
    masks: dict[str, NDArray[np.bool_]],
    digits: int,
    miss: int,
) -> VariableRow:
    present = col.notna().to_numpy()
    levels = sorted(col[present].unique().tolist(), key=lambda x: (str(type(x)), x))
    # ``eq`` + ``fillna``: nullable columns (pandas ``boolean``/``string``) hold ``pd.NA``,
    # whose comparison is neither True nor False.
    is_level = [col.eq(lev).fillna(False).to_numpy(dtype=bool) for lev in levels]
    counts = np.array(
        [[int((eq & masks[g] & present).sum()) for g in groups] for eq in is_level],
        dtype=np.int64,
    )
    if counts.shape[0] >= 2:
        tt = conventional_table_test(counts)
        test, p, stat = tt.test, tt.p, tt.statistic
    else:
        test, p, stat = "none (a single category)", None, None
    tot_all = int(counts.sum())
    tot_g = counts.sum(axis=0)
    out = []
    for i, lev in enumerate(levels):
        row: dict[str, Any] = {
            "level": lev,
            ALL: _pct(int(counts[i].sum()), tot_all, digits),
            "count": {ALL: int(counts[i].sum())},
        }
        for j, g in enumerate(groups):
            row[g] = _pct(int(counts[i, j]), int(tot_g[j]), digits)
            row["count"][g] = int(counts[i, j])
        out.append(row)
    return VariableRow(
        var,
        "categorical",
        "n (%)",
        test,
        None if p is None or not np.isfinite(p) else float(p),
        stat,
        miss,
        out,
    )


def _continuous(
    var: str,
    col: pd.Series,
    groups: list[str],
    masks: dict[str, NDArray[np.bool_]],
    digits: int,
    miss: int,
    force_normal: bool | None,
) -> VariableRow:
    x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    ok = np.isfinite(x)
    parts = [x[masks[g] & ok] for g in groups]
    usable = [p for p in parts if p.size > 0]
    normal = looks_normal(usable) if force_normal is None else bool(force_normal)
    p: float | None
    stat: float | None
    if len(usable) >= 2 and all(u.size >= 2 for u in usable):
        r = location_test(usable, normal)
        test, p, stat = r.test, r.p, r.statistic
    else:
        test, p, stat = "none (too few values)", None, None
    values = {ALL: _continuous_str(x[ok], normal, digits)}
    for g, part in zip(groups, parts, strict=True):
        values[g] = _continuous_str(part, normal, digits)
    summary = "mean ± SD" if normal else "median (Q1, Q3)"
    return VariableRow(var, "continuous", summary, test, p, stat, miss, [], values)
