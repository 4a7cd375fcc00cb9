"""Disclosure control, enforced at the node before anything leaves it.

Rules (docs/federated.md, "Disclosure rules"):

* **Minimum cell count** ``k`` (default 5): every released number is computed from cells of
  patients (one cell = one stratum × group × time point × status, one level of a
  covariate, one value of a Table 1 variable). A cell holding between 1 and ``k - 1``
  patients makes the node *refuse the whole query* with a message naming the center and
  the kind of cell; it never suppresses or perturbs the cell, since that would silently
  change the result. ``k = 1`` switches the rule off (a center's own decision).
* **Time coarsening** (optional): times are moved up to the end of their interval on a grid
  of ``months`` months (1 month = 30.4375 days), so events and censorings are pooled per
  interval; the federated result then equals the pooled analysis on the coarsened times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mst.errors import ValidationError
from mst.federated.errors import FederationError

#: days per month used by the monthly grid (365.25 / 12)
DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class DisclosurePolicy:
    """A center's disclosure rules.

    Attributes
    ----------
    min_cell : int
        Smallest non-zero cell that may leave the node (>= 1; 1 = no restriction).
    coarsen_months : float or None
        Width of the time grid in months, or ``None`` for exact times.
    secure_only : bool
        Release sums only through Flower's SecAgg+ (:mod:`mst.federated.secure`): every
        plain query that releases numbers is refused.
    """

    min_cell: int = 5
    coarsen_months: float | None = None
    secure_only: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.min_cell, bool) or not isinstance(self.min_cell, int):
            raise ValidationError("min_cell", self.min_cell, "must be a whole number >= 1")
        if self.min_cell < 1:
            raise ValidationError("min_cell", self.min_cell, "must be a whole number >= 1")
        if self.coarsen_months is not None and not (
            np.isfinite(self.coarsen_months) and self.coarsen_months > 0
        ):
            raise ValidationError(
                "coarsen_months", self.coarsen_months, "must be a positive number of months"
            )

    def describe(self) -> dict[str, object]:
        """JSON-ready description (sent with every answer, shown in the report)."""
        out: dict[str, object] = {"min_cell": self.min_cell, "coarsen_months": self.coarsen_months}
        if self.secure_only:
            out["secure_aggregation_only"] = True
        return out


def time_unit(column: str) -> str:
    """Unit of a time column from its name (``*_days``, ``*_months``, ``*_years``).

    Raises
    ------
    ValidationError
        When the name does not say the unit (coarsening needs it).
    """
    for unit in ("days", "months", "years"):
        if column.endswith(f"_{unit}"):
            return unit
    raise ValidationError(
        column,
        None,
        "time coarsening needs the unit in the column name (ending _days, _months or _years)",
    )


def grid_width(column: str, months: float) -> float:
    """Width of a ``months``-month interval in the unit of ``column``."""
    unit = time_unit(column)
    if unit == "days":
        return months * DAYS_PER_MONTH
    if unit == "months":
        return float(months)
    return months / 12.0


def coarsen(t: NDArray[np.float64], column: str, months: float | None) -> NDArray[np.float64]:
    """Move every time up to the end of its interval (``ceil(t / w) * w``); 0 stays 0.

    Parameters
    ----------
    t : ndarray
        Times (>= 0) in the unit of ``column``.
    column : str
        Column name (gives the unit).
    months : float or None
        Grid width in months; ``None`` returns ``t`` unchanged.

    Returns
    -------
    ndarray
    """
    if months is None:
        return t
    w = grid_width(column, months)
    return np.ceil(t / w) * w


def check_cells(center: str, what: str, counts: NDArray[np.float64] | list[int], k: int) -> None:
    """Refuse when any count is between 1 and ``k - 1``.

    Parameters
    ----------
    center : str
        The node's center (named in the refusal).
    what : str
        Kind of cell, in words (e.g. ``"events at a time point"``).
    counts : array_like
        Patient counts of the cells.
    k : int
        Minimum cell count.

    Raises
    ------
    FederationError
        The refusal; the small count itself is not revealed.
    """
    c = np.asarray(counts, dtype=np.float64)
    if k > 1 and np.any((c > 0) & (c < k)):
        raise FederationError(
            center,
            f"refused the query: a cell of {what} holds between 1 and {k - 1} patients "
            f"(minimum cell count {k}); ask the center to coarsen times or use broader groups",
        )
