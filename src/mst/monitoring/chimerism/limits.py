"""Detection limits, binomial intervals and the "< LoD" reporting rule.

A value below the limit of detection is reported as ``"< LoD"`` (e.g.
``"< 0.01%"``), never as 0 (002 Methods: InDel sensitivity 0.01%–0.001%).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

from scipy import stats

from mst.errors import ValidationError


@dataclasses.dataclass(frozen=True, slots=True)
class ChimerismValue:
    """A donor-chimerism result.

    ``percent`` is None when the result is below the limit of detection;
    ``estimate_pct`` keeps the raw point estimate for audit (None when nothing
    was detected at all, e.g. no qPCR amplification).
    """

    percent: float | None
    estimate_pct: float | None
    below_lod: bool
    lod_pct: float
    ci_low_pct: float | None = None
    ci_high_pct: float | None = None

    @property
    def display(self) -> str:
        """Text for reports: ``"7.973%"`` or ``"< 0.01%"``."""
        if self.below_lod or self.percent is None:
            return f"< {self.lod_pct:g}%"
        return f"{self.percent:.4g}%"


def report(
    estimate_pct: float, lod_pct: float, lob_pct: float = 0.0, ci: tuple[float, float] | None = None
) -> ChimerismValue:
    """Apply the reporting rule: below LoD (or not above LoB) → ``"< LoD"``."""
    if lod_pct < 0 or lob_pct < 0:
        raise ValidationError("lod_pct", lod_pct, "LoD and LoB must be >= 0")
    if lob_pct > lod_pct:
        raise ValidationError("lob_pct", lob_pct, f"must not exceed the LoD ({lod_pct}%)")
    below = estimate_pct is None or estimate_pct < lod_pct or estimate_pct <= lob_pct
    return ChimerismValue(
        percent=None if below else estimate_pct,
        estimate_pct=estimate_pct,
        below_lod=below,
        lod_pct=lod_pct,
        ci_low_pct=ci[0] if ci else None,
        ci_high_pct=ci[1] if ci else None,
    )


def clopper_pearson(
    successes: float, trials: float, confidence: float = 0.95
) -> tuple[float, float]:
    """Exact (Clopper–Pearson) binomial interval for a proportion.

    Parameters
    ----------
    successes, trials : float
        Counts (non-integers are allowed for effective counts).
    confidence : float
        Two-sided level.

    Returns
    -------
    tuple of float
        (lower, upper) proportions in [0, 1].
    """
    if trials <= 0:
        raise ValidationError("trials", trials, "must be > 0")
    if not 0 <= successes <= trials:
        raise ValidationError("successes", successes, f"must be between 0 and trials ({trials})")
    if not 0 < confidence < 1:
        raise ValidationError("confidence", confidence, "must be between 0 and 1")
    alpha = 1 - confidence
    lo = (
        0.0
        if successes == 0
        else float(stats.beta.ppf(alpha / 2, successes, trials - successes + 1))
    )
    hi = (
        1.0
        if successes == trials
        else float(stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    )
    return lo, hi


def lob_lod_from_replicates(blanks: Sequence[float], low: Sequence[float]) -> tuple[float, float]:
    """Parametric LoB and LoD (CLSI EP17-A2).

    LoB = mean(blanks) + 1.645 × SD(blanks); LoD = LoB + 1.645 × SD(low-level
    replicates). Inputs and outputs in % donor.

    Raises
    ------
    mst.errors.ValidationError
        Fewer than two replicates in either group.
    """
    if len(blanks) < 2:
        raise ValidationError("blanks", list(blanks), "needs at least two replicates")
    if len(low) < 2:
        raise ValidationError("low", list(low), "needs at least two replicates")
    lob = statistics.fmean(blanks) + 1.645 * statistics.stdev(blanks)
    return lob, lob + 1.645 * statistics.stdev(low)
