"""Haploidentity check for family donors (unphased typings).

A parent, child or sibling donor is *compatible with haploidentity* when
donor and recipient share at least one allele (ARD level) at every one of
HLA-A, -B, -C, -DRB1 and -DQB1. DPB1 is not used: recombination between DQ
and DP is frequent enough that a shared haplotype may differ at DPB1. With
unphased typing this is a necessary, not a sufficient, condition.

A null allele expresses nothing but is still inherited with its haplotype: the
same null allele in recipient and donor counts as shared (different null
alleles do not), so ``A*01:01+A*24:09N`` and ``A*24:09N+A*03:01`` share A.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from mst.donors.mismatch import LOCI_10, compare_locus
from mst.donors.nomenclature import HlaTyping, LocusTyping

HAPLO_LOCI = LOCI_10


@dataclass(frozen=True, slots=True)
class HaploCheck:
    """Result of :func:`haploidentity`.

    Attributes
    ----------
    status : {"identical", "haploidentical", "not_haploidentical", "undetermined"}
        Over :data:`HAPLO_LOCI`.
    loci_without_shared_allele : tuple of str
        Loci where no allele is shared (certainly).
    loci_uncertain : tuple of str
        Loci where sharing depends on ambiguity, or that are untyped.
    """

    status: str
    loci_without_shared_allele: tuple[str, ...]
    loci_uncertain: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "status": self.status,
            "loci_without_shared_allele": list(self.loci_without_shared_allele),
            "loci_uncertain": list(self.loci_uncertain),
            "loci": list(HAPLO_LOCI),
        }


def haploidentity(recipient: HlaTyping, donor: HlaTyping) -> HaploCheck:
    """Check whether a family donor can share one HLA haplotype with the recipient.

    Parameters
    ----------
    recipient, donor : HlaTyping
        Parsed typings.

    Returns
    -------
    HaploCheck
        ``"identical"`` when no locus is mismatched, ``"haploidentical"``
        when every locus certainly shares an allele, ``"not_haploidentical"``
        when some locus certainly shares none, else ``"undetermined"``.
    """
    return _haplo(tuple((recipient.loci.get(k), donor.loci.get(k)) for k in HAPLO_LOCI))


@lru_cache(maxsize=65536)
def _haplo(pairs: tuple[tuple[LocusTyping | None, LocusTyping | None], ...]) -> HaploCheck:
    none: list[str] = []
    uncertain: list[str] = []
    identical = True
    for locus, (r_lt, d_lt) in zip(HAPLO_LOCI, pairs, strict=True):
        if r_lt is None or d_lt is None:
            uncertain.append(locus)
            identical = False
            continue
        lm = compare_locus(r_lt, d_lt, "ard")
        if lm.bidirectional.hi > 0:
            identical = False
        shared = lm.shares_protein
        if shared != "yes":
            nulls = _null_names(r_lt) & _null_names(d_lt)
            if nulls:
                certain = not r_lt.ambiguous and not d_lt.ambiguous
                shared = "yes" if certain else "possible"
        if shared == "no":
            none.append(locus)
        elif shared == "possible":
            uncertain.append(locus)
    if none:
        status = "not_haploidentical"
    elif uncertain:
        status = "undetermined"
    elif identical:
        status = "identical"
    else:
        status = "haploidentical"
    return HaploCheck(status, tuple(none), tuple(uncertain))


def _null_names(lt: LocusTyping) -> frozenset[str]:
    """Names (suffix dropped) of the null alleles a locus typing may contain."""
    return frozenset(
        f"{a.locus}*{':'.join(a.fields)}"
        for genotype in lt.genotypes
        for side in genotype
        for a in side
        if a.fields != ("NNNN",) and not a.expressed
    )
