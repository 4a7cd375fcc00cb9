"""Donor chimerism from STR (or capillary InDel) peak areas.

Formulas by allele configuration (Kristt D et al., Bone Marrow Transplant
2007;39:255–268; peak-area quantification as in Thiede C et al., Bone Marrow
Transplant 1999;23:1055–1060). With ``D`` the summed area of donor-specific
peaks (``c_D`` donor copies), ``R`` the summed area of recipient-specific peaks
(``c_R`` recipient copies) and ``T`` the total area of all peaks at the marker:

* both donor- and recipient-specific peaks (shared peaks are left out):
  ``%D = (D/c_D) / (D/c_D + R/c_R) × 100``
  — no shared allele: ``ΣD / (ΣD + ΣR)``; one shared allele: ``D1 / (D1 + R1)``;
* only donor-specific peaks (recipient homozygous for an allele the donor
  shares): ``%D = (2/c_D) · D / T × 100`` — e.g. ``2·D1/(D1+S)``;
* only recipient-specific peaks (donor homozygous for a shared allele):
  ``%D = (1 − (2/c_R) · R / T) × 100`` — e.g. ``1 − 2·R1/(R1+S)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

from mst.errors import ValidationError
from mst.monitoring._data import load
from mst.monitoring.chimerism.genotypes import Genotype, InformativeMarker
from mst.monitoring.chimerism.limits import ChimerismValue, report

SOURCE = "Kristt D et al., BMT 2007;39:255–268; Thiede C et al., BMT 1999;23:1055–1060; 004 §2.5"


@dataclasses.dataclass(frozen=True, slots=True)
class StrMarkerResult:
    """Donor percentage at one STR marker and the formula used."""

    marker: str
    formula: str
    percent: float


@dataclasses.dataclass(frozen=True, slots=True)
class StrResult:
    """Per-marker and mean donor chimerism of one sample."""

    sample: str
    donor_id: str
    date: dt.date | None
    markers: tuple[StrMarkerResult, ...]
    mean: ChimerismValue
    source: str = SOURCE


def str_marker_percent(
    areas: Mapping[str, float], recipient: Genotype, donor: Genotype
) -> tuple[float, str]:
    """Donor % at one marker from peak areas and the two genotypes.

    Returns
    -------
    tuple
        (percent in [0, 100], formula name).

    Raises
    ------
    mst.errors.ValidationError
        Identical genotypes (not informative), negative areas or no signal.
    """
    for a, v in areas.items():
        if v < 0:
            raise ValidationError(f"area.{a}", v, "must be >= 0")
    d_spec = [a for a in donor.alleles if a not in recipient.alleles]
    r_spec = [a for a in recipient.alleles if a not in donor.alleles]
    if not d_spec and not r_spec:
        raise ValidationError(
            "genotype", (recipient, donor), "recipient and donor share all alleles: not informative"
        )
    alleles = recipient.alleles | donor.alleles
    total = sum(areas.get(a, 0.0) for a in alleles)
    if total <= 0:
        raise ValidationError("areas", dict(areas), "no peak area at the genotype alleles")
    D = sum(areas.get(a, 0.0) for a in d_spec)
    R = sum(areas.get(a, 0.0) for a in r_spec)
    cD = sum(donor.copies(a) for a in d_spec)
    cR = sum(recipient.copies(a) for a in r_spec)
    if d_spec and r_spec:
        if D + R == 0:
            raise ValidationError("areas", dict(areas), "no area at the non-shared peaks")
        frac = (D / cD) / (D / cD + R / cR)
        name = "non-shared peaks: (D/cD)/(D/cD + R/cR)"
    elif d_spec:
        frac = (2 / cD) * D / total
        name = "donor-specific peaks only: (2/cD)·D/T"
    else:
        frac = 1 - (2 / cR) * R / total
        name = "recipient-specific peaks only: 1 − (2/cR)·R/T"
    return 100 * min(1.0, max(0.0, frac)), name


def quantify_str(
    areas: Mapping[str, Mapping[str, float]],
    recipient: Mapping[str, Genotype],
    donor: Mapping[str, Genotype],
    markers: Sequence[InformativeMarker] | None = None,
    *,
    sample: str = "sample",
    donor_id: str = "donor",
    date: dt.date | None = None,
    lod_pct: float | None = None,
) -> StrResult:
    """Quantify donor chimerism from STR peak areas (mean over informative markers).

    Parameters
    ----------
    areas : mapping marker -> (mapping allele -> peak area)
    recipient, donor : mapping marker -> Genotype
        Pre-treatment genotypes.
    markers : sequence of InformativeMarker, optional
        Restrict to these markers; by default every marker where the genotypes
        differ.
    lod_pct : float, optional
        STR detection limit in % (default from ``chimerism.yaml``: 5%, the figure of
        the cited Thiede 1999; pass the center's validated LoD).

    Returns
    -------
    StrResult
    """
    lod = load("chimerism")["str_default_lod_pct"] if lod_pct is None else lod_pct
    names = (
        [m.marker for m in markers]
        if markers is not None
        else [m for m in donor if m in recipient and recipient[m].alleles != donor[m].alleles]
    )
    rows: list[StrMarkerResult] = []
    for m in sorted(names):
        if m not in areas or m not in recipient or m not in donor:
            continue
        pct, formula = str_marker_percent(areas[m], recipient[m], donor[m])
        rows.append(StrMarkerResult(m, formula, pct))
    if not rows:
        raise ValidationError(sample, sorted(areas), "no informative STR marker with peaks")
    mean = sum(r.percent for r in rows) / len(rows)
    return StrResult(sample, donor_id, date, tuple(rows), report(mean, lod))
