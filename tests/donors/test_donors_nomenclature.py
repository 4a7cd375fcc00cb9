"""HLA allele-name and GL-string parser (issue 6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.donors import parse_allele, parse_gl
from mst.errors import ValidationError

VALID = [
    # token, locus, fields, suffix, group
    ("A*02:01", "A", ("02", "01"), "", ""),
    ("HLA-A*02:01:01:01", "A", ("02", "01", "01", "01"), "", ""),
    ("A*01", "A", ("01",), "", ""),
    ("A*01:01:01:02N", "A", ("01", "01", "01", "02"), "N", ""),
    ("A*01:04N", "A", ("01", "04"), "N", ""),
    ("B*44:02:01:02S", "B", ("44", "02", "01", "02"), "S", ""),
    ("A*01:01:38L", "A", ("01", "01", "38"), "L", ""),
    ("A*01:01:01G", "A", ("01", "01", "01"), "", "G"),
    ("A*01:01P", "A", ("01", "01"), "", "P"),
    ("DRB1*15:01", "DRB1", ("15", "01"), "", ""),
    ("DRB4*01:01", "DRB4", ("01", "01"), "", ""),
    ("DQA1*05:01", "DQA1", ("05", "01"), "", ""),
    ("DPA1*01:03", "DPA1", ("01", "03"), "", ""),
    ("DPB1*04:01", "DPB1", ("04", "01"), "", ""),
]


@pytest.mark.parametrize(("token", "locus", "fields", "suffix", "group"), VALID)
def test_valid_allele_names(
    token: str, locus: str, fields: tuple[str, ...], suffix: str, group: str
) -> None:
    a = parse_allele(token)
    assert (a.locus, a.fields, a.suffix, a.group) == (locus, fields, suffix, group)
    assert a.name == token.removeprefix("HLA-")
    assert a.expressed is (suffix != "N")


INVALID = [
    ("A*2:01", "malformed"),
    ("A*02:01:01:01:01", "malformed"),
    ("A02:01", "malformed"),
    ("A*02:AB", "malformed"),
    ("A*01:01X", "malformed"),
    ("A*02:XX", "malformed"),
    ("E*01:01", "locus must be one of"),
    ("DRB9*01:01", "locus must be one of"),
    ("A*99:01", "not an allele name"),
    ("A*01:01N", "not an allele name"),  # A*01:01 has no null 2-field name
    ("A*01:01:99G", "not a G group"),
    ("A*01:01:01GN", "malformed"),
    ("", "malformed"),
]


@pytest.mark.parametrize(("token", "rule"), INVALID)
def test_invalid_allele_names_name_the_token(token: str, rule: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_allele(token)
    assert exc.value.field == "hla_allele"
    assert exc.value.value == token
    assert rule in exc.value.rule


def test_gl_string_structure_and_ambiguity_kept() -> None:
    t = parse_gl(
        "HLA-A*01:01+HLA-A*02:01/A*02:05 ^ B*08:01~C*07:01+B*44:02~C*05:01"
        "^DRB1*03:01+DRB1*04:01|DRB1*03:01+DRB1*04:04"
    )
    assert list(t.loci) == ["A", "B", "C", "DRB1"]
    ((a1, a2),) = t["A"].genotypes
    assert [x.name for x in a1] == ["A*01:01"]
    assert [x.name for x in a2] == ["A*02:01", "A*02:05"]
    assert t["A"].ambiguous
    assert not t["B"].ambiguous
    assert [x.name for x in t["C"].genotypes[0][1]] == ["C*05:01"]
    assert len(t["DRB1"].genotypes) == 2


GL_INVALID = [
    ("A*01:01", "exactly two chromosomes"),
    ("A*01:01+A*02:01+A*03:01", "exactly two chromosomes"),
    ("A*01:01+A*02:01^A*03:01+A*11:01", "appears twice"),
    ("A*01:01+B*08:01", "same loci"),
    ("A*01:01/B*08:01+A*02:01", "one locus"),
    ("A*01:01++A*02:01", "empty"),
    ("A*01:01+A*02:01^", "empty"),
    ("A*01:01+A*02:01;B*08:01+B*08:01", "not allowed"),
    ("A*01:01~A*02:01+A*03:01~A*11:01", "twice in one haplotype"),
    ("A*01:01+A*02:01|B*08:01+B*44:02", "same loci"),
    ("   ", "is empty"),
]


@pytest.mark.parametrize(("gl", "rule"), GL_INVALID)
def test_invalid_gl_strings(gl: str, rule: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_gl(gl)
    assert rule in exc.value.rule


def test_gl_rejects_bad_allele_with_token() -> None:
    with pytest.raises(ValidationError) as exc:
        parse_gl("A*01:01+A*02:01^B*08:01+B*4402")
    assert exc.value.field == "hla_allele"
    assert exc.value.value == "B*4402"


@settings(deadline=None, derandomize=True, max_examples=400)
@given(st.text(max_size=60))
def test_parser_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        parse_gl(text)
    except ValidationError as exc:
        assert exc.rule


_ALPHABET = st.sampled_from(list("AB C*:+/^~|-0123456789DRQPNLG"))


@settings(deadline=None, derandomize=True, max_examples=400)
@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_parser_never_crashes_on_gl_like_text(text: str) -> None:
    try:
        typing = parse_gl(text)
    except ValidationError as exc:
        assert exc.rule
    else:
        assert all(len(g) == 2 for lt in typing.loci.values() for g in lt.genotypes)


@settings(deadline=None, derandomize=True, max_examples=200)
@given(st.one_of(st.none(), st.integers(), st.binary(max_size=10)))
def test_parser_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValidationError):
        parse_gl(value)  # type: ignore[arg-type]


# --- issue 14 item 8: DRB3/4/5 in one copy or absent (WMDA GL convention LOCUS*NNNN) ------

DRBX = [
    # recipient DRB4, donor DRB4, GvH, HvG, donor-hom-shared
    ("DRB4*01:01+DRB4*NNNN", "DRB4*01:01+DRB4*NNNN", 0, 0, "no"),
    ("DRB4*01:01+DRB4*NNNN", "DRB4*NNNN+DRB4*NNNN", 1, 0, "no"),  # donor has no DRB4
    ("DRB4*NNNN+DRB4*NNNN", "DRB4*01:02+DRB4*NNNN", 0, 1, "no"),
    ("DRB4*01:01+DRB4*NNNN", "DRB4*01:03+DRB4*NNNN", 0, 0, "no"),  # same ARD (P group)
    ("DRB4*01:01+DRB4*01:02", "DRB4*01:01+DRB4*NNNN", 1, 0, "yes"),  # one copy, shared
]


@pytest.mark.parametrize(("rec", "don", "gvh", "hvg", "dhom"), DRBX)
def test_drb345_single_copy_and_absence(rec: str, don: str, gvh: int, hvg: int, dhom: str) -> None:
    from mst.donors import compare

    lm = compare(parse_gl(rec), parse_gl(don)).loci["DRB4"]
    assert (lm.gvh.value, lm.hvg.value, lm.donor_homozygous_shared) == (gvh, hvg, dhom)


def test_absent_copy_only_for_drb345_and_dsa_negative() -> None:
    from mst.donors import parse_antibody, virtual_crossmatch

    for bad in ("A*NNNN+A*01:01", "DRB1*NNNN+DRB1*01:01", "DRB4*NNN+DRB4*01:01"):
        with pytest.raises(ValidationError):
            parse_gl(bad)
    assert not parse_allele("DRB5*NNNN").expressed
    donor = parse_gl("DRB4*NNNN+DRB4*NNNN^DRB1*15:01+DRB1*01:01")
    res = virtual_crossmatch([parse_antibody("DR53", 8000)], donor)
    assert res.status == "negative" and res.untested == []  # typed, and absent
    donor2 = parse_gl("DRB4*01:01+DRB4*NNNN^DRB1*04:01+DRB1*01:01")
    assert virtual_crossmatch([parse_antibody("DR53", 8000)], donor2).status == "high_risk"
    with pytest.raises(ValidationError):
        parse_antibody("DRB4*NNNN", 5000)
