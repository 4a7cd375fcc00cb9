"""Review of issue 14 (HLA-laboratory audit): each test names the rule and its convention."""

from __future__ import annotations

from mst.donors import parse_gl
from mst.donors.family import haploidentity

_R_NULL = (
    "A*01:01+A*24:09N^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"
    "^DQB1*02:01+DQB1*03:02"
)
_CHILD_REST = "^B*44:02+B*07:02^C*05:01+C*07:02^DRB1*04:01+DRB1*15:01^DQB1*03:02+DQB1*06:02"


def test_haploidentity_counts_a_shared_null_allele() -> None:
    # A haplotype is inherited with its null allele: a child carrying the recipient's
    # A*24:09N shares that haplotype although the null expresses nothing (WHO/WMDA
    # nomenclature: a null allele is an allele; haploidentity is about inheritance).
    child = parse_gl("A*24:09N+A*03:01" + _CHILD_REST)
    check = haploidentity(parse_gl(_R_NULL), child)
    assert check.status == "haploidentical", check
    assert check.loci_without_shared_allele == ()


def test_haploidentity_different_null_alleles_share_nothing() -> None:
    # Two different null alleles (A*24:09N vs A*01:04N, null by the allele list) are
    # different alleles: no haplotype shared at A.
    other = parse_gl("A*01:04N+A*03:01" + _CHILD_REST)
    check = haploidentity(parse_gl(_R_NULL), other)
    assert check.status == "not_haploidentical"
    assert check.loci_without_shared_allele == ("A",)


def test_haploidentity_null_in_an_allele_list_is_only_possible() -> None:
    # Ambiguity is kept: a null that is one of several alternatives may be shared.
    amb = parse_gl("A*24:09N/A*02:01+A*03:01" + _CHILD_REST)
    check = haploidentity(parse_gl(_R_NULL), amb)
    assert check.status == "undetermined" and check.loci_uncertain == ("A",)
