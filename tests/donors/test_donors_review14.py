"""Review of issue 14 (HLA-laboratory audit): each test names the rule and its convention."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.donors import parse_gl
from mst.donors.family import haploidentity

_R_NULL = (
    "A*01:01+A*24:09N^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01^DQB1*02:01+DQB1*03:02"
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


# --- One input path, one error voice (developers' guide): plain words, exit 2 -------------


_NGS = Path(__file__).parents[2] / "docs/examples/donor_case_ngs.json"
_PHRASES = ("Input should", "Errno", "Field required", "valid integer", "Extra inputs", "{'")


def test_missing_case_file_is_named_in_plain_words(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["donors", "rank", str(tmp_path / "nope.json")])
    assert res.exit_code == 2
    assert "nope.json" in res.output and "no such file" in res.output.lower()
    assert not any(p in res.output for p in _PHRASES), res.output


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [("relationship", "cousin", "must be one of child, sibling, parent, other_related, unrelated"),
     ("sex", "m", "must be M or F"),
     ("age", "forty", "must be a whole number"),
     ("age", 130, "must be at most 100"),
     ("id", None, "is required")],
)  # fmt: skip
def test_donor_field_errors_in_plain_words(
    tmp_path: Path, field: str, value: object, rule: str
) -> None:
    case = json.loads(_NGS.read_text("utf-8"))
    if value is None:
        del case["donors"][0][field]
    else:
        case["donors"][0][field] = value
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), "utf-8")
    res = CliRunner().invoke(app, ["donors", "rank", str(path)])
    assert res.exit_code == 2
    assert f"donors[0].{field}" in res.output and rule in res.output, res.output
    assert not any(p in res.output for p in _PHRASES), res.output


def test_mismatch_text_names_the_loci_behind_an_unknown_total() -> None:
    # Unknown means say why: an x/10 or x/12 total that cannot be formed names the loci
    # not typed in both (developers' guide, "an assumed value is printed next to the result").
    res = CliRunner().invoke(app, ["hla", "mismatch", "A*01:01+A*02:01", "A*01:01+A*02:05"])
    assert res.exit_code == 0, res.output
    assert "not typed in both: B, C, DRB1, DQB1, DPB1" in res.output, res.output


def _rank_with(tmp_path: Path, **donor0: object) -> object:
    case = json.loads(_NGS.read_text("utf-8"))
    case["donors"][0].update(donor0)
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), "utf-8")
    return CliRunner().invoke(app, ["donors", "rank", str(path)])


@pytest.mark.parametrize("code", ["", "NA", " n/a ", "null", "."])
def test_missing_value_codes_read_as_missing_in_a_donor(tmp_path: Path, code: str) -> None:
    # One input path: blank/NA/the format's codes mean "missing" everywhere (developers' guide).
    res = _rank_with(tmp_path, hla_typing=code)
    assert res.exit_code == 2 and "donors[0].hla_typing" in res.output
    assert "is required" in res.output, res.output
    res = _rank_with(tmp_path, age=code)
    assert res.exit_code == 2 and "donors[0].age" in res.output and "is required" in res.output
    ok = _rank_with(tmp_path, kir_genotype=code)  # optional: simply not typed
    assert ok.exit_code == 0, ok.output


def test_lower_case_allele_is_refused_with_the_capitalised_name() -> None:
    # WHO nomenclature writes loci and G/P suffixes in capitals; refuse, but say how.
    from mst.donors.nomenclature import parse_allele
    from mst.errors import ValidationError

    for token, hint in (("a*02:01", "'A*02:01'"), ("A*01:01:01g", "'A*01:01:01G'")):
        with pytest.raises(ValidationError) as exc:
            parse_allele(token)
        assert hint in str(exc.value) and "capitals" in str(exc.value)
