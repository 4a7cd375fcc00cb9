"""What every fitted regression of :mod:`mst.stats` shares: the coefficient table.

:class:`CoefficientTable` is mixed into the result dataclasses (Cox, Fine–Gray): from
their ``names``, ``coef``, ``se`` and ``alpha`` it gives the ratios exp(coef), Wald z and
p, the confidence limits, the table as a DataFrame and the JSON mapping — one
implementation, so the two models' tables and JSON cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats as sps

FloatArray = NDArray[np.float64]


class CoefficientTable:
    """Mixin for a result with ``names``, ``coef``, ``se``, ``alpha``, ``n``, ``events``,
    ``n_dropped``, ``references`` and ``converged`` (see :class:`CoxResult`,
    :class:`FineGrayResult`)."""

    names: list[str]
    coef: FloatArray
    se: FloatArray
    alpha: float
    n: int
    events: int
    n_dropped: int
    references: dict[str, str]
    converged: bool
    #: ``"model"`` of the JSON mapping
    _model_name = ""

    @property
    def hr(self) -> FloatArray:
        """(Subdistribution) hazard ratios exp(coef)."""
        return np.exp(self.coef)

    @property
    def z(self) -> FloatArray:
        """Wald z statistics coef / se."""
        return self.coef / self.se

    @property
    def p(self) -> FloatArray:
        """Two-sided Wald p-values."""
        return 2.0 * sps.norm.sf(np.abs(self.z))

    @property
    def lower(self) -> FloatArray:
        """Lower confidence limit of the ratio (level 1 - alpha)."""
        return np.exp(self.coef - sps.norm.ppf(1 - self.alpha / 2) * self.se)

    @property
    def upper(self) -> FloatArray:
        """Upper confidence limit of the ratio (level 1 - alpha)."""
        return np.exp(self.coef + sps.norm.ppf(1 - self.alpha / 2) * self.se)

    def summary_frame(self) -> pd.DataFrame:
        """Table with coef, the ratio (``hr``), se, z, p and the confidence interval, one
        row per covariate (design column)."""
        return pd.DataFrame(
            {
                "coef": self.coef,
                "hr": self.hr,
                "se": self.se,
                "z": self.z,
                "p": self.p,
                "lower": self.lower,
                "upper": self.upper,
            },
            index=pd.Index(self.names, name="covariate"),
        )

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table (as :meth:`summary_frame`)."""
        return self.summary_frame()

    def _dict_head(self) -> dict[str, Any]:
        """Model fields placed before the coefficients in :meth:`to_dict`."""
        return {}

    def _dict_counts(self) -> dict[str, Any]:
        """Counts placed after ``n`` and ``events`` in :meth:`to_dict`."""
        return {}

    def _dict_tail(self) -> dict[str, Any]:
        """Model fields placed after ``references`` and ``converged`` in :meth:`to_dict`."""
        return {}

    def coef_dict(self) -> dict[str, dict[str, float]]:
        """``coef``, ``se``, ``hr``, ``lower``, ``upper`` and ``p``, each by covariate name
        (the coefficient part of :meth:`to_dict`)."""

        def by(v: FloatArray) -> dict[str, float]:
            return {k: float(x) for k, x in zip(self.names, v, strict=True)}

        return {"coef": by(self.coef), "se": by(self.se), "hr": by(self.hr),
                "lower": by(self.lower), "upper": by(self.upper), "p": by(self.p)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (``coef``, ``se``, ``hr``, ``lower``, ``upper``, ``p`` by
        name, the counts, reference levels, convergence and the model's own fields)."""
        return {
            "model": self._model_name,
            **self._dict_head(),
            **self.coef_dict(),
            "n": self.n,
            "events": self.events,
            **self._dict_counts(),
            "n_dropped": self.n_dropped,
            "references": self.references,
            "converged": self.converged,
            **self._dict_tail(),
        }
