"""Donor chimerism by real-time quantitative PCR of a donor-specific allele.

Two methods:

* **ΔΔCt** (Livak & Schmittgen, Methods 2001;25:402–408) with the efficiency
  correction of Pfaffl (Nucleic Acids Res 2001;29:e45):
  ``ratio = (1+E_t)^(Ct_t,cal − Ct_t,s) / (1+E_r)^(Ct_r,cal − Ct_r,s)`` and
  ``%donor = calibrator% × ratio``; the calibrator is donor DNA (100%) or a
  dilution of known donor %. With E = 1 (100%) this is ``cal% × 2^−ΔΔCt``.
* **Standard curve**: ``Ct = slope·log10(q) + intercept`` fitted on a dilution
  series of donor DNA for the donor-specific assay and for the reference gene;
  ``%donor = 100 × q_target / q_reference``; efficiency ``10^(−1/slope) − 1``.

A target Ct that is undetermined or above ``qpcr_max_ct`` is "no
amplification" and is reported below the LoD.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from mst.errors import ValidationError
from mst.monitoring._data import load
from mst.monitoring.chimerism.limits import ChimerismValue, report

SOURCE = "Pfaffl MW, Nucleic Acids Res 2001;29:e45; Livak KJ, Methods 2001;25:402; 004 §2.5"


def _ct(name: str, v: float | None) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if not 0 < v < 60:
        raise ValidationError(name, v, "Ct must be between 0 and 60 cycles")
    return float(v)


def _no_amp(ct: float | None) -> bool:
    return ct is None or ct > load("chimerism")["qpcr_max_ct"]


def ddct_percent(
    ct_target: float | None,
    ct_reference: float,
    ct_target_calibrator: float,
    ct_reference_calibrator: float,
    *,
    calibrator_pct: float = 100.0,
    efficiency_target: float = 1.0,
    efficiency_reference: float = 1.0,
    lod_pct: float | None = None,
) -> ChimerismValue:
    """% donor by ΔΔCt (efficiency-corrected).

    Parameters
    ----------
    ct_target, ct_reference : float
        Sample Ct of the donor-specific assay (None = undetermined) and of the
        reference gene.
    ct_target_calibrator, ct_reference_calibrator : float
        Calibrator Cts.
    calibrator_pct : float
        Donor % of the calibrator (100 for pure donor DNA).
    efficiency_target, efficiency_reference : float
        Amplification efficiencies as fractions (1.0 = 100%, i.e. doubling).
    lod_pct : float, optional
        Limit of detection in % (default from ``chimerism.yaml``).

    Returns
    -------
    ChimerismValue
    """
    lod = load("chimerism")["qpcr_default_lod_pct"] if lod_pct is None else lod_pct
    t = _ct("ct_target", ct_target)
    r = _ct("ct_reference", ct_reference)
    tc = _ct("ct_target_calibrator", ct_target_calibrator)
    rc = _ct("ct_reference_calibrator", ct_reference_calibrator)
    if r is None or tc is None or rc is None:
        raise ValidationError("ct", None, "reference and calibrator Cts are required")
    if not 0 < calibrator_pct <= 100:
        raise ValidationError("calibrator_pct", calibrator_pct, "must be in (0, 100]")
    for name, e in (
        ("efficiency_target", efficiency_target),
        ("efficiency_reference", efficiency_reference),
    ):
        if not 0.5 <= e <= 1.2:
            raise ValidationError(name, e, "must be between 0.5 and 1.2 (50–120%)")
    if _no_amp(t):
        return report(None, lod)
    assert t is not None
    ratio = (1 + efficiency_target) ** (tc - t) / (1 + efficiency_reference) ** (rc - r)
    return report(min(100.0, calibrator_pct * ratio), lod)


@dataclasses.dataclass(frozen=True, slots=True)
class StandardCurve:
    """Linear fit Ct = slope · log10(quantity) + intercept."""

    slope: float
    intercept: float
    r2: float

    @property
    def efficiency(self) -> float:
        """Amplification efficiency ``10^(−1/slope) − 1`` (1.0 = 100%)."""
        return 10 ** (-1 / self.slope) - 1

    def quantity(self, ct: float) -> float:
        """Quantity read off the curve for a Ct."""
        return float(10 ** ((ct - self.intercept) / self.slope))


def fit_standard_curve(quantities: Sequence[float], cts: Sequence[float]) -> StandardCurve:
    """Least-squares standard curve over a dilution series.

    Raises
    ------
    mst.errors.ValidationError
        Fewer than 3 points, non-positive quantities, or fewer than 2 distinct
        quantities, or a non-negative slope.
    """
    q = np.asarray(quantities, dtype=float)
    c = np.asarray(cts, dtype=float)
    if q.size != c.size or q.size < 3:
        raise ValidationError("standards", int(q.size), "need at least 3 (quantity, Ct) pairs")
    if np.any(q <= 0):
        raise ValidationError("standards.quantity", q.tolist(), "must all be > 0")
    x = np.log10(q)
    if np.unique(x).size < 2:
        raise ValidationError(
            "standards.quantity", q.tolist(), "need at least 2 distinct quantities"
        )
    slope, intercept = np.polyfit(x, c, 1)
    pred = slope * x + intercept
    ss_res = float(np.sum((c - pred) ** 2))
    ss_tot = float(np.sum((c - c.mean()) ** 2))
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else 1.0
    if slope >= 0:
        raise ValidationError(
            "standards", float(slope), "slope must be negative (Ct falls as quantity rises)"
        )
    return StandardCurve(float(slope), float(intercept), r2)


def curve_percent(
    ct_target: float | None,
    ct_reference: float,
    target_curve: StandardCurve,
    reference_curve: StandardCurve,
    *,
    lod_pct: float | None = None,
) -> ChimerismValue:
    """% donor = 100 × q_target / q_reference, both read off their standard curves."""
    lod = load("chimerism")["qpcr_default_lod_pct"] if lod_pct is None else lod_pct
    t = _ct("ct_target", ct_target)
    r = _ct("ct_reference", ct_reference)
    if r is None:
        raise ValidationError("ct_reference", ct_reference, "is required")
    if _no_amp(t):
        return report(None, lod)
    assert t is not None
    pct = 100 * target_curve.quantity(t) / reference_curve.quantity(r)
    return report(min(100.0, pct), lod)
