"""The design matrix every node builds in the same way (pooled levels fixed by the coordinator).

The coding is that of :func:`mst.stats._design.design_from_columns`: booleans become 0/1,
text/categorical columns become ``col[level]`` dummies against a reference level (the first
pooled level in sorted order unless one is given), numbers enter as they are. The levels must
be the *pooled* ones, so the coordinator first collects the level counts of every node
("setup" query) and sends the agreed :class:`DesignSpec` with every later query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mst.errors import ValidationError
from mst.stats._design import _is_categorical, complete_rows
from mst.stats._levels import r_sort


@dataclass(frozen=True)
class DesignSpec:
    """Covariates, their kinds and the pooled levels / references of categorical ones."""

    covariates: list[str]
    kinds: dict[str, str]
    levels: dict[str, list[str]] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Design column names, as the pooled fit names them."""
        out: list[str] = []
        for col in self.covariates:
            if self.kinds[col] == "categorical":
                ref = self.references[col]
                out.extend(f"{col}[{lv}]" for lv in self.levels[col] if lv != ref)
            else:
                out.append(col)
        return out

    def to_json(self) -> dict[str, Any]:
        """JSON form (sent to the nodes)."""
        return {
            "covariates": self.covariates,
            "kinds": self.kinds,
            "levels": self.levels,
            "references": self.references,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DesignSpec:
        """Inverse of :meth:`to_json`."""
        return cls(
            list(d["covariates"]), dict(d["kinds"]), dict(d["levels"]), dict(d["references"])
        )


def column_kind(s: pd.Series) -> str:
    """``"bool"``, ``"categorical"`` or ``"numeric"``, as the pooled design decides."""
    if pd.api.types.is_bool_dtype(s):
        return "bool"
    if _is_categorical(s):
        return "categorical"
    return "numeric"


def level_counts(
    df: pd.DataFrame, covariates: Sequence[str], base: Sequence[str]
) -> tuple[dict[str, str], dict[str, dict[str, int]], int]:
    """Kinds, level counts of categorical covariates and number of complete rows.

    Parameters
    ----------
    df : DataFrame
        The node's table.
    covariates : sequence of str
        Covariate columns.
    base : sequence of str
        Outcome (and strata) columns that must also be complete.

    Returns
    -------
    (kinds, counts, n_complete)
    """
    keep = complete_rows(df, list(base)) & complete_rows(df, list(covariates))
    sub = df.loc[keep]
    kinds: dict[str, str] = {}
    counts: dict[str, dict[str, int]] = {}
    for col in covariates:
        kinds[col] = column_kind(df[col])
        if kinds[col] == "categorical":
            vc = sub[col].astype(str).value_counts()
            counts[col] = {str(k): int(v) for k, v in vc.items()}
        elif kinds[col] == "numeric":
            try:
                sub[col].to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    col, None, "covariate must be numeric, boolean or categorical"
                ) from exc
    return kinds, counts, int(keep.sum())


def pooled_spec(
    covariates: Sequence[str],
    kinds_by_center: Mapping[str, Mapping[str, str]],
    counts_by_center: Mapping[str, Mapping[str, Mapping[str, int]]],
    reference: Mapping[str, str] | None,
) -> DesignSpec:
    """Agree on kinds, pooled levels and references (coordinator side).

    Raises
    ------
    ValidationError
        A reference that is not a level, or a reference for a non-categorical column.
    """
    from mst.federated.errors import FederationError

    reference = dict(reference or {})
    for col in reference:
        if col not in covariates:
            raise ValidationError("reference", col, "names a column that is not a covariate")
    kinds: dict[str, str] = {}
    levels: dict[str, list[str]] = {}
    refs: dict[str, str] = {}
    for col in covariates:
        ks = {c: k[col] for c, k in kinds_by_center.items()}
        distinct = sorted(set(ks.values()))
        if len(distinct) > 1:
            detail = ", ".join(f"{c}: {k}" for c, k in sorted(ks.items()))
            raise FederationError(
                sorted(ks)[0],
                f"covariate {col} has a different kind at different centers ({detail})",
            )
        kinds[col] = distinct[0]
        if kinds[col] == "categorical":
            # R's factor() order, as the pooled mst.stats fit (mst.stats._levels.r_sort)
            lv = r_sort({lvl for cc in counts_by_center.values() for lvl in cc.get(col, {})})
            ref = str(reference.get(col, lv[0] if lv else ""))
            if ref not in lv:
                raise ValidationError(f"reference[{col}]", ref, f"must be one of the levels {lv}")
            levels[col] = lv
            refs[col] = ref
        elif col in reference:
            raise ValidationError(
                f"reference[{col}]",
                reference[col],
                "reference levels apply to categorical columns only",
            )
    return DesignSpec(list(covariates), kinds, levels, refs)


def build_design(
    df: pd.DataFrame, spec: DesignSpec, base: Sequence[str]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The node's design matrix (rows complete in ``base`` and the covariates).

    Returns
    -------
    (X, keep)
        ``X`` has one row per kept row of ``df``.
    """
    keep = complete_rows(df, list(base)) & complete_rows(df, spec.covariates)
    sub = df.loc[keep]
    blocks: list[NDArray[np.float64]] = []
    for col in spec.covariates:
        s = sub[col]
        kind = spec.kinds[col]
        if column_kind(df[col]) != kind:
            raise ValidationError(col, None, f"is not {kind} at this center")
        if kind == "categorical":
            vals = s.astype(str).to_numpy()
            ref = spec.references[col]
            unknown = sorted(set(vals) - set(spec.levels[col]))
            if unknown:
                raise ValidationError(col, unknown[0], "level not announced in the setup round")
            blocks.extend(
                (vals == lv).astype(np.float64)[:, None] for lv in spec.levels[col] if lv != ref
            )
        else:
            blocks.append(s.to_numpy(dtype=np.float64)[:, None])
    n = int(keep.sum())
    X = np.hstack(blocks) if blocks else np.zeros((n, 0))
    return np.ascontiguousarray(X, dtype=np.float64), keep
