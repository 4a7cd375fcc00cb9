"""Mismatch counts by direction, as clinical tables worked by hand (issue 6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.donors import compare, haploidentity, hla_mismatch_counts, parse_gl
from mst.donors.mismatch import LOCI_10, LOCI_12
from mst.errors import ValidationError

a, b, c, d = "A*01:01", "A*02:01", "A*03:01", "A*11:01"

# recipient A, donor A, GvH (lo, hi), HvG (lo, hi), bidirectional (lo, hi),
# donor-homozygous-shared flag, recipient-homozygous-shared flag
LOCUS_TABLE = [
    ("identical", f"{a}+{b}", f"{a}+{b}", (0, 0), (0, 0), (0, 0), "no", "no"),
    ("donor homozygous, shared", f"{a}+{b}", f"{a}+{a}", (1, 1), (0, 0), (1, 1), "yes", "no"),
    ("recipient homozygous, shared", f"{a}+{a}", f"{a}+{b}", (0, 0), (1, 1), (1, 1), "no", "yes"),
    ("both homozygous, same allele", f"{a}+{a}", f"{a}+{a}", (0, 0), (0, 0), (0, 0), "no", "no"),
    ("both homozygous, different", f"{a}+{a}", f"{b}+{b}", (2, 2), (2, 2), (2, 2), "no", "no"),
    ("donor homozygous, not shared", f"{a}+{b}", f"{c}+{c}", (2, 2), (2, 2), (2, 2), "no", "no"),
    ("one shared (haplo)", f"{a}+{b}", f"{a}+{c}", (1, 1), (1, 1), (1, 1), "no", "no"),
    ("none shared", f"{a}+{b}", f"{c}+{d}", (2, 2), (2, 2), (2, 2), "no", "no"),
    (
        "recipient homozygous vs two others",
        f"{a}+{a}",
        f"{b}+{c}",
        (2, 2),
        (2, 2),
        (2, 2),
        "no",
        "no",
    ),
    # a recipient null allele makes the recipient functionally homozygous (one-way HvG)
    ("recipient null allele", f"{a}+A*01:04N", f"{a}+{b}", (0, 0), (1, 1), (1, 1), "no", "yes"),
    (
        "3rd/4th field ignored",
        f"A*01:01:01:01+{b}",
        "A*01:01:02+A*02:01:01:01",
        (0, 0),
        (0, 0),
        (0, 0),
        "no",
        "no",
    ),
    (
        "allele-list ambiguity",
        f"{a}+{b}",
        f"{a}+A*02:01/A*02:05",
        (0, 1),
        (0, 1),
        (0, 1),
        "no",
        "no",
    ),
    ("1-field (low resolution)", f"A*01+{b}", f"{a}+{b}", (0, 1), (0, 1), (0, 1), "no", "no"),
    # G group = one ARD protein (NMDP/WMDA, py-ard lgx): no mismatch
    ("G group", f"{a}+{b}", f"{a}+A*02:01:01G", (0, 0), (0, 0), (0, 0), "no", "no"),
    (
        "genotype-list ambiguity",
        f"{a}+{b}",
        f"{a}+{b}|{a}+{a}",
        (0, 1),
        (0, 0),
        (0, 1),
        "possible",
        "no",
    ),
]


@pytest.mark.parametrize(
    ("case", "rec", "don", "gvh", "hvg", "bi", "dhom", "rhom"),
    LOCUS_TABLE,
    ids=[r[0] for r in LOCUS_TABLE],
)
def test_locus_mismatch_table(
    case: str,
    rec: str,
    don: str,
    gvh: tuple[int, int],
    hvg: tuple[int, int],
    bi: tuple[int, int],
    dhom: str,
    rhom: str,
) -> None:
    lm = compare(parse_gl(rec), parse_gl(don)).loci["A"]
    assert (lm.gvh.lo, lm.gvh.hi) == gvh
    assert (lm.hvg.lo, lm.hvg.hi) == hvg
    assert (lm.bidirectional.lo, lm.bidirectional.hi) == bi
    assert lm.donor_homozygous_shared == dhom
    assert lm.recipient_homozygous_shared == rhom


def test_antigen_level_differs_from_ard_level() -> None:
    r, dn = parse_gl("B*44:02+B*08:01"), parse_gl("B*44:03+B*08:01")
    assert compare(r, dn, "ard").loci["B"].gvh.value == 1
    assert compare(r, dn, "antigen").loci["B"].gvh.value == 0  # both B44


HAP1 = "A*01:01~B*08:01~C*07:01~DRB1*03:01~DQB1*02:01~DPB1*04:01"
HAP2 = "A*02:01~B*44:02~C*05:01~DRB1*04:01~DQB1*03:02~DPB1*02:01"
HAP3 = "A*03:01~B*07:02~C*07:02~DRB1*15:01~DQB1*06:02~DPB1*04:02"
HAP4 = "A*24:02~B*35:01~C*04:01~DRB1*01:01~DQB1*05:01~DPB1*03:01"
HAP5 = "A*11:01~B*51:01~C*15:02~DRB1*11:01~DQB1*03:01~DPB1*05:01"
HOMO1 = (
    "A*01:01+A*01:01^B*08:01+B*08:01^C*07:01+C*07:01^DRB1*03:01+DRB1*03:01"
    "^DQB1*02:01+DQB1*02:01^DPB1*04:01+DPB1*04:01"
)

# recipient, donor, x10 (gvh, hvg, bi), x12 (gvh, hvg, bi), haploidentity
PAIR_TABLE = [
    (
        "haploidentical child",
        f"{HAP1}+{HAP2}",
        f"{HAP1}+{HAP3}",
        (5, 5, 5),
        (6, 6, 6),
        "haploidentical",
    ),
    (
        "fully mismatched unrelated",
        f"{HAP1}+{HAP2}",
        f"{HAP4}+{HAP5}",
        (10, 10, 10),
        (12, 12, 12),
        "not_haploidentical",
    ),
    (
        "homozygous donor (shared haplotype)",
        f"{HAP1}+{HAP2}",
        HOMO1,
        (5, 0, 5),
        (6, 0, 6),
        "haploidentical",
    ),
    ("homozygous recipient", HOMO1, f"{HAP1}+{HAP2}", (0, 5, 5), (0, 6, 6), "haploidentical"),
    ("both homozygous, same haplotype", HOMO1, HOMO1, (0, 0, 0), (0, 0, 0), "identical"),
    (
        "HLA-identical sibling",
        f"{HAP1}+{HAP2}",
        f"{HAP2}+{HAP1}",
        (0, 0, 0),
        (0, 0, 0),
        "identical",
    ),
]


@pytest.mark.parametrize(
    ("case", "rec", "don", "x10", "x12", "haplo"), PAIR_TABLE, ids=[r[0] for r in PAIR_TABLE]
)
def test_pair_table(
    case: str, rec: str, don: str, x10: tuple[int, int, int], x12: tuple[int, int, int], haplo: str
) -> None:
    r, dn = parse_gl(rec), parse_gl(don)
    report = compare(r, dn)
    for loci, expected in ((LOCI_10, x10), (LOCI_12, x12)):
        got = tuple(report.total(k, loci).value for k in ("gvh", "hvg", "bidirectional"))  # type: ignore[union-attr]
        assert got == expected
    assert hla_mismatch_counts(rec, don) == {"x10": x10[2], "x12": x12[2]}
    assert haploidentity(r, dn).status == haplo


def test_homozygous_donor_flags_every_shared_locus() -> None:
    report = compare(parse_gl(f"{HAP1}+{HAP2}"), parse_gl(HOMO1))
    assert report.homozygous_shared_loci == LOCI_12
    report2 = compare(parse_gl(f"{HAP1}+{HAP2}"), parse_gl(f"{HAP1}+{HAP3}"))
    assert report2.homozygous_shared_loci == ()


def test_haploidentity_undetermined_with_ambiguity() -> None:
    rec = f"{HAP1}+{HAP2}"
    don = f"{HAP3}+{HAP4}".replace("A*03:01", "A*01:01/A*03:01")
    res = haploidentity(parse_gl(rec), parse_gl(don))
    assert res.status == "not_haploidentical"  # B etc. share nothing
    don2 = f"{HAP1}+{HAP3}".replace("A*01:01", "A*01:01/A*03:01", 1)
    res2 = haploidentity(parse_gl(rec), parse_gl(don2))
    assert res2.status == "undetermined" and res2.loci_uncertain == ("A",)


@pytest.mark.parametrize("missing", LOCI_12)
def test_flat_counts_missing_locus_named(missing: str) -> None:
    full = parse_gl(f"{HAP1}+{HAP2}")
    parts = [
        f"{g[0][0].name}+{g[1][0].name}"
        for lt in full.loci.values()
        for g in lt.genotypes
        if lt.locus != missing
    ]
    partial = "^".join(parts)
    with pytest.raises(ValidationError) as exc:
        hla_mismatch_counts(partial, f"{HAP1}+{HAP3}")
    assert exc.value.value == missing and exc.value.field == "recipient_typing"
    with pytest.raises(ValidationError) as exc:
        hla_mismatch_counts(f"{HAP1}+{HAP3}", partial)
    assert exc.value.field == "donor_typing"


def test_flat_counts_reject_ambiguous_count() -> None:
    don = f"{HAP1}+{HAP3}".replace("A*03:01", "A*03:01/A*02:01")
    with pytest.raises(ValidationError, match="ambiguous"):
        hla_mismatch_counts(f"{HAP1}+{HAP2}", don)


def test_flat_counts_ambiguity_that_does_not_matter_is_accepted() -> None:
    don = f"{HAP1}+{HAP3}".replace("A*03:01", "A*03:01:01:01/A*03:01:02")
    assert hla_mismatch_counts(f"{HAP1}+{HAP2}", don) == {"x10": 5, "x12": 6}


# --- properties ------------------------------------------------------------

POOL = ["A*01:01", "A*02:01", "A*02:05", "A*03:01", "A*01:04N", "A*01", "A*02:01:02", "A*24:02"]
_side = st.lists(st.sampled_from(POOL), min_size=1, max_size=2, unique=True).map("/".join)
_geno = st.tuples(_side, _side).map(lambda t: f"{t[0]}+{t[1]}")
_locus = st.lists(_geno, min_size=1, max_size=2).map("|".join)


@settings(deadline=None, derandomize=True, max_examples=150)
@given(_locus, _locus, st.sampled_from(["ard", "antigen"]))
def test_direction_relations(rec: str, don: str, level: str) -> None:
    r, dn = parse_gl(rec), parse_gl(don)
    fwd = compare(r, dn, level).loci["A"]  # type: ignore[arg-type]
    rev = compare(dn, r, level).loci["A"]  # type: ignore[arg-type]
    assert fwd.gvh == rev.hvg and fwd.hvg == rev.gvh
    assert fwd.bidirectional == rev.bidirectional
    for rng in (fwd.gvh, fwd.hvg, fwd.bidirectional):
        assert 0 <= rng.lo <= rng.hi <= 2
    assert fwd.bidirectional.hi == max(fwd.gvh.hi, fwd.hvg.hi)
    assert fwd.bidirectional.lo >= max(fwd.gvh.lo, fwd.hvg.lo)
    assert fwd.donor_homozygous_shared == rev.recipient_homozygous_shared


_exact = st.sampled_from(["A*01:01", "A*02:01", "A*03:01", "A*11:01", "A*24:02"])


@settings(deadline=None, derandomize=True, max_examples=200)
@given(_exact, _exact, _exact, _exact)
def test_exact_typings_give_exact_counts(r1: str, r2: str, d1: str, d2: str) -> None:
    lm = compare(parse_gl(f"{r1}+{r2}"), parse_gl(f"{d1}+{d2}")).loci["A"]
    assert lm.gvh.exact and lm.hvg.exact
    # GvH = recipient alleles absent from the donor, HvG the reverse.
    assert lm.gvh.value == sum(x not in (d1, d2) for x in (r1, r2))
    assert lm.hvg.value == sum(x not in (r1, r2) for x in (d1, d2))
    self_cmp = compare(parse_gl(f"{r1}+{r2}"), parse_gl(f"{r2}+{r1}")).loci["A"]
    assert self_cmp.bidirectional.value == 0


def _brute_force(rec: str, don: str) -> tuple[tuple[int, int], tuple[int, int], set[bool]]:
    """Every resolution, pair by pair (the slow reference the set algorithm replaces)."""
    from itertools import product

    from mst.donors.mismatch import locus_sides

    r_lt, d_lt = parse_gl(rec)["A"], parse_gl(don)["A"]
    gs, hs, flags = [], [], set()
    for (r1, r2), (d1, d2) in product(locus_sides(r_lt, "ard"), locus_sides(d_lt, "ard")):
        for x1, x2, y1, y2 in product(r1, r2, d1, d2):
            g = sum(1 for x in (x1, x2) if x is not None and x not in (y1, y2))
            h = sum(1 for y in (y1, y2) if y is not None and y not in (x1, x2))
            gs.append(g)
            hs.append(h)
            dexp = {y for y in (y1, y2) if y is not None}
            flags.add(len(dexp) == 1 and h == 0 and g > 0)
    return (min(gs), max(gs)), (min(hs), max(hs)), flags


_SMALL = [p for p in POOL if p != "A*01"] + ["A*02:09", "A*01:01:01G", "A*02:01P", "A*24:09N"]
_amb = st.lists(st.sampled_from(_SMALL), min_size=1, max_size=3, unique=True).map("/".join)
_amb_locus = st.lists(st.tuples(_amb, _amb).map("+".join), min_size=1, max_size=2).map("|".join)


@settings(deadline=None, derandomize=True, max_examples=120)
@given(_amb_locus, _amb_locus)
def test_set_algorithm_equals_brute_force(rec: str, don: str) -> None:
    """NMDP/WMDA counting by direction: the Venn-region algorithm gives exactly the
    min/max of a pair-by-pair enumeration of every resolution."""
    lm = compare(parse_gl(rec), parse_gl(don)).loci["A"]
    g, h, flags = _brute_force(rec, don)
    assert (lm.gvh.lo, lm.gvh.hi) == g and (lm.hvg.lo, lm.hvg.hi) == h
    expect = "yes" if flags == {True} else ("possible" if True in flags else "no")
    assert lm.donor_homozygous_shared == expect


def test_flat_counts_accept_hla_prefix_and_spaces() -> None:
    plain = hla_mismatch_counts(f"{HAP1}+{HAP2}", f"{HAP1}+{HAP3}")
    prefixed = hla_mismatch_counts(
        f"{HAP1}+{HAP2}".replace("~", " ~ HLA-"), "HLA-" + f"{HAP1}+{HAP3}".replace("+", " + HLA-")
    )
    assert plain == prefixed == {"x10": 5, "x12": 6}


# --- issue 14 item 4: null alleles from the allele list; functional homozygosity (004 §2.1)

NULL_TABLE = [
    # recipient, donor, GvH, HvG, donor-hom-shared, recipient-hom-shared
    ("A*01:01+A*24:02", "A*01:01+A*24:09N", 1, 0, "yes", "no"),  # donor expresses only 01:01
    ("A*01:01+A*24:02", "A*01:01+A*01:04", 1, 0, "yes", "no"),  # A*01:04 null without 'N'
    ("A*01:01+A*24:02", "A*01:01+A*01:04N", 1, 0, "yes", "no"),
    ("A*01:01+A*24:09N", "A*01:01+A*24:02", 0, 1, "no", "yes"),  # recipient functionally hom.
    ("A*01:01+A*24:09N", "A*01:01+A*24:09N", 0, 0, "no", "no"),
    ("A*01:01+A*24:02", "A*02:01+A*24:09N", 2, 1, "no", "no"),  # not shared: no flag
    ("A*01:01+A*24:02", "A*01:01+A*24:02/A*24:09N", (0, 1), 0, "possible", "no"),
]


@pytest.mark.parametrize(("rec", "don", "gvh", "hvg", "dhom", "rhom"), NULL_TABLE)
def test_null_alleles_make_a_person_functionally_homozygous(
    rec: str, don: str, gvh: int | tuple[int, int], hvg: int, dhom: str, rhom: str
) -> None:
    lm = compare(parse_gl(rec), parse_gl(don)).loci["A"]
    g = gvh if isinstance(gvh, tuple) else (gvh, gvh)
    assert (lm.gvh.lo, lm.gvh.hi) == g and lm.hvg.value == hvg
    assert (lm.donor_homozygous_shared, lm.recipient_homozygous_shared) == (dhom, rhom)


def test_null_status_comes_from_the_allele_list() -> None:
    from mst.donors import parse_allele
    from mst.donors.ard import reduction

    assert not parse_allele("A*01:04").expressed  # every A*01:04 allele is null
    assert not parse_allele("A*24:09N").expressed
    assert parse_allele("A*01:01").expressed  # A*01:01:01:02N is named separately
    assert parse_allele("B*44:02:01:02S").expressed
    null_2field_without_n = [
        p for p in reduction().null_prefixes if p.count(":") == 1 and p in _names()
    ]
    # 47 two-field names of the 11 loci are null without an N in their shortest form
    assert "A*01:04" in null_2field_without_n and len(null_2field_without_n) == 47


def _names() -> frozenset[str]:
    from mst.donors.reference import imgt_tables

    return imgt_tables().names


_exact_or_null = st.sampled_from(["A*01:01", "A*02:01", "A*02:09", "A*01:04N", "A*24:02"])


@settings(deadline=None, derandomize=True, max_examples=150)
@given(_exact_or_null, _exact_or_null, _exact_or_null, _exact_or_null)
def test_fast_path_equals_set_path(r1: str, r2: str, d1: str, d2: str) -> None:
    from mst.donors.mismatch import LocusMismatch, Range, _flag, _pair, locus_sides

    r, dn = parse_gl(f"{r1}+{r2}")["A"], parse_gl(f"{d1}+{d2}")["A"]
    fast = compare(parse_gl(f"{r1}+{r2}"), parse_gl(f"{d1}+{d2}")).loci["A"]
    (rs,), (ds,) = locus_sides(r, "ard"), locus_sides(dn, "ard")
    s = _pair(rs[0], rs[1], ds[0], ds[1])
    slow = LocusMismatch(
        "A", Range(*s.g), Range(*s.h), Range(*s.b), _flag(s.dflag), _flag(s.rflag), _flag(s.share)
    )
    assert fast == slow


# --- hla_mismatch_counts (the flat table's x/10, x/12) equals the full comparison -------

_A_SIDE = st.sampled_from(["A*01:01", "A*02:01", "A*02:09", "A*01:04N", "A*24:02",
                           "A*02:01/A*02:05", "A*01", "A*01:01:01G"])
_B_GENO = st.sampled_from(["B*08:01+B*44:02", "B*08:01+B*08:01", "B*07:02+B*44:02",
                           "B*08:01+B*44:02|B*08:01+B*44:03"])


@settings(deadline=None, derandomize=True, max_examples=120)
@given(_A_SIDE, _A_SIDE, _A_SIDE, _A_SIDE, _B_GENO, _B_GENO,
       st.sampled_from(["", "^DRB4*01:01+DRB4*NNNN", "^DQA1*01:01+DQA1*05:01"]))
def test_flat_counts_equal_the_comparison_totals(r1: str, r2: str, d1: str, d2: str,
                                                 rb: str, db: str, extra: str) -> None:
    rest = "^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02" \
        "^DPB1*04:01+DPB1*04:02"
    rec = f"{r1}+{r2}^{rb}{rest}{extra}"
    don = f"{d1}+{d2}^{db}{rest.replace('DPB1*04:02', 'DPB1*03:01')}"
    report = compare(parse_gl(rec), parse_gl(don), "ard")
    totals = {name: report.total("bidirectional", loci)
              for name, loci in (("x10", LOCI_10), ("x12", LOCI_12))}
    if all(t is not None and t.exact for t in totals.values()):
        assert hla_mismatch_counts(rec, don) == {k: t.lo for k, t in totals.items()}  # type: ignore[union-attr]
    else:
        with pytest.raises(ValidationError, match="ambiguous typing"):
            hla_mismatch_counts(rec, don)
