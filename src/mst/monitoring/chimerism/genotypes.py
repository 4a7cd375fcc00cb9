"""Genotypes at chimerism markers (InDel, SNP, STR) and informative-marker selection.

A marker is *informative for donor k* when donor k carries at least one allele
that neither the recipient nor any other donor of the same patient carries
(a donor-specific allele, 004 §2.5; several donors can be followed at once).
Its class tells how the donor fraction is computed:

* ``copies`` — number of the donor's two allele copies that are donor-specific
  (2: donor homozygous for a donor-specific allele, or heterozygous with two
  donor-specific alleles; 1: donor heterozygous sharing one allele);
* ``recipient_homozygous`` — the best configuration for microchimerism (no
  recipient allele can be confused with a stutter/background of the donor allele
  when the recipient is homozygous for a different allele).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from mst.errors import ValidationError
from mst.monitoring._data import load


@dataclasses.dataclass(frozen=True, slots=True)
class Genotype:
    """Two alleles at one marker (homozygous when equal)."""

    a1: str
    a2: str

    @property
    def alleles(self) -> frozenset[str]:
        """The distinct alleles."""
        return frozenset((self.a1, self.a2))

    @property
    def homozygous(self) -> bool:
        """True when both alleles are equal."""
        return self.a1 == self.a2

    def copies(self, allele: str) -> int:
        """Number of copies (0, 1 or 2) of ``allele``."""
        return (self.a1 == allele) + (self.a2 == allele)


@dataclasses.dataclass(frozen=True, slots=True)
class InformativeMarker:
    """A marker usable to follow one donor."""

    marker: str
    donor_id: str
    donor_specific: tuple[str, ...]
    copies: int
    recipient_specific: tuple[str, ...]
    recipient_copies: int
    recipient_homozygous: bool
    donor_homozygous: bool


def call_genotype(
    signal: Mapping[str, float], min_fraction: float | None = None, where: str = "genotype"
) -> Genotype:
    """Call a genotype from pre-treatment allele reads or peak areas.

    Alleles carrying at least ``min_fraction`` of the marker's signal are
    present (default from ``chimerism.yaml``: 20%). One allele → homozygous;
    two → heterozygous.

    Raises
    ------
    mst.errors.ValidationError
        No signal, negative signal, or more than two alleles above the threshold.
    """
    frac = (
        load("chimerism")["genotype_min_allele_fraction"] if min_fraction is None else min_fraction
    )
    total = 0.0
    for allele, v in signal.items():
        if v < 0:
            raise ValidationError(f"{where}.{allele}", v, "must be >= 0")
        total += v
    if total <= 0:
        raise ValidationError(where, dict(signal), "has no signal to call a genotype")
    present = sorted((a for a, v in signal.items() if v / total >= frac), key=lambda a: -signal[a])
    if len(present) > 2:
        raise ValidationError(where, present, f"more than two alleles >= {frac:.0%} of the signal")
    if len(present) == 1:
        return Genotype(present[0], present[0])
    return Genotype(*sorted(present))


def select_informative_markers(
    recipient: Mapping[str, Genotype], donors: Mapping[str, Mapping[str, Genotype]]
) -> dict[str, list[InformativeMarker]]:
    """Select, for every donor, the markers that distinguish it.

    Parameters
    ----------
    recipient : mapping marker -> Genotype
        Pre-treatment recipient genotypes.
    donors : mapping donor id -> (mapping marker -> Genotype)
        Genotypes of every donor of the patient.

    Returns
    -------
    dict
        Donor id → informative markers, best first (recipient homozygous,
        then 2 donor-specific copies, then marker name).
    """
    out: dict[str, list[InformativeMarker]] = {}
    for did, gts in donors.items():
        rows: list[InformativeMarker] = []
        for marker, dg in gts.items():
            rg = recipient.get(marker)
            if rg is None:
                continue
            others: set[str] = set()
            for oid, ogts in donors.items():
                if oid != did and marker in ogts:
                    others |= ogts[marker].alleles
            specific = tuple(
                sorted(a for a in dg.alleles if a not in rg.alleles and a not in others)
            )
            if not specific:
                continue
            rspec = tuple(sorted(a for a in rg.alleles if a not in dg.alleles))
            rows.append(
                InformativeMarker(
                    marker=marker,
                    donor_id=did,
                    donor_specific=specific,
                    copies=sum(dg.copies(a) for a in specific),
                    recipient_specific=rspec,
                    recipient_copies=sum(rg.copies(a) for a in rspec),
                    recipient_homozygous=rg.homozygous,
                    donor_homozygous=dg.homozygous,
                )
            )
        rows.sort(key=lambda m: (not m.recipient_homozygous, -m.copies, m.marker))
        out[did] = rows
    return out
