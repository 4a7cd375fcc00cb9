"""Donor chimerism from NGS allele read counts at informative markers.

Formulas (documented in ``docs/monitoring.md``). At a marker where the donor
carries ``c`` (1 or 2) copies of donor-specific alleles, a blood sample with
donor fraction ``p`` yields donor-specific reads ``x`` out of ``n`` with
expected fraction ``p·c/2``. Hence, per marker,

    p̂ = x / (n · c/2)            (c = 2: p̂ = x/n;  c = 1: p̂ = 2x/n)

and pooled over markers ``p̂ = Σx / Σ(n·c/2)`` (the effective-read
estimator; exact binomial MLE when all markers share the same ``c``). The
confidence interval is the exact Clopper–Pearson interval on
``(x, n·c/2)``, capped at 100%. Results below the LoD (or not above the
LoB) are reported as "< LoD" (see :mod:`.limits`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

from mst.errors import ValidationError
from mst.monitoring._data import load
from mst.monitoring.chimerism.genotypes import InformativeMarker
from mst.monitoring.chimerism.limits import ChimerismValue, clopper_pearson, report

SOURCE = "004 §2.5; 002 Methods (InDel/NGS microchimerism); Clopper–Pearson interval"


@dataclasses.dataclass(frozen=True, slots=True)
class NgsMarkerResult:
    """Donor fraction at one informative marker."""

    marker: str
    donor_reads: int
    total_reads: int
    copies: int
    value: ChimerismValue


@dataclasses.dataclass(frozen=True, slots=True)
class NgsResult:
    """Per-marker and pooled donor chimerism of one sample for one donor."""

    sample: str
    donor_id: str
    date: dt.date | None
    markers: tuple[NgsMarkerResult, ...]
    pooled: ChimerismValue
    confidence: float
    source: str = SOURCE


def _value(x: int, n_eff: float, lod: float, lob: float, conf: float) -> ChimerismValue:
    est = 100.0 * x / n_eff
    lo, hi = clopper_pearson(min(x, n_eff), n_eff, conf)
    return report(min(est, 100.0), lod, lob, (100 * lo, min(100.0, 100 * hi)))


def quantify_ngs(
    reads: Mapping[str, Mapping[str, int]],
    markers: Sequence[InformativeMarker],
    *,
    sample: str = "sample",
    date: dt.date | None = None,
    lod_pct: float | None = None,
    lob_pct: float | None = None,
    confidence: float | None = None,
) -> NgsResult:
    """Quantify one donor's chimerism in one sample.

    Parameters
    ----------
    reads : mapping marker -> (mapping allele -> read count)
        Reads of the post-treatment sample.
    markers : sequence of InformativeMarker
        Informative markers of this donor (from
        :func:`~mst.monitoring.chimerism.genotypes.select_informative_markers`).
    sample, date : optional
        Labels copied into the result.
    lod_pct, lob_pct : float, optional
        Limit of detection / blank in % donor (defaults from ``chimerism.yaml``).
    confidence : float, optional
        Level of the Clopper–Pearson interval (default 0.95).

    Returns
    -------
    NgsResult

    Raises
    ------
    mst.errors.ValidationError
        No informative marker with reads, or negative counts.
    """
    cfg = load("chimerism")
    lod = cfg["default_lod_pct"] if lod_pct is None else lod_pct
    lob = cfg["default_lob_pct"] if lob_pct is None else lob_pct
    conf = cfg["confidence"] if confidence is None else confidence
    if not markers:
        raise ValidationError("markers", [], "at least one informative marker is required")
    donor_id = markers[0].donor_id
    rows: list[NgsMarkerResult] = []
    sx, sn = 0, 0.0
    for m in markers:
        counts = reads.get(m.marker)
        if not counts:
            continue
        for allele, c in counts.items():
            if c < 0 or int(c) != c:
                raise ValidationError(
                    f"{sample}.{m.marker}.{allele}", c, "read count must be a whole number >= 0"
                )
        n = int(sum(counts.values()))
        if n == 0:
            continue
        x = int(sum(counts.get(a, 0) for a in m.donor_specific))
        n_eff = n * m.copies / 2
        rows.append(NgsMarkerResult(m.marker, x, n, m.copies, _value(x, n_eff, lod, lob, conf)))
        sx += x
        sn += n_eff
    if not rows:
        raise ValidationError(f"{sample}", sorted(reads), "no reads at any informative marker")
    return NgsResult(sample, donor_id, date, tuple(rows), _value(sx, sn, lod, lob, conf), conf)
