"""ARD-level comparison with sets (issue 14 items 1–2): G/P groups, no input that hangs.

Convention: NMDP/WMDA matching at the antigen-recognition-domain level (py-ard ``lgx``),
reduced from IPD-IMGT/HLA 3.58.0 ``hla_nom_g.txt`` / ``hla_nom_p.txt``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mst.cli.main import app
from mst.donors import compare, hla_mismatch_counts, load_case, parse_gl, rank_case
from mst.donors import mismatch as mm
from mst.donors.ard import ard_key, reduction
from mst.donors.reference import imgt_tables
from mst.errors import ValidationError

runner = CliRunner()

A02 = sorted(
    (
        p
        for p in reduction().expressed
        if p.startswith("A*02:") and p.count(":") == 1 and p in imgt_tables().names
    ),
    key=lambda p: int(p.split(":")[1]),
)


def _work(rec: str, don: str) -> int:
    mm.compare_locus.cache_clear()
    mm.locus_sides.cache_clear()
    before = mm.WORK[0]
    compare(parse_gl(rec), parse_gl(don))
    return mm.WORK[0] - before


# --- item 2: G and P groups reduce to the ARD (NMDP/WMDA; py-ard lgx) -------------------

ZERO_PAIRS = [
    ("A*01:01:01G+A*02:01", "A*01:01+A*02:01"),  # G group vs its 2-field protein
    ("A*02:01P+A*01:01", "A*02:01+A*01:01"),  # P group vs 2-field
    ("A*02:09+A*01:01", "A*02:01+A*01:01"),  # same P group (ARD identical)
    ("DPB1*04:01:01G+DPB1*02:01:02G", "DPB1*04:01:01G+DPB1*02:01:02G"),  # identical G groups
    ("A*02:01:01:01+A*01:01:01:01", "A*02:01:02+A*01:01:01G"),
]


@pytest.mark.parametrize(("rec", "don"), ZERO_PAIRS)
def test_g_and_p_groups_are_not_mismatches(rec: str, don: str) -> None:
    report = compare(parse_gl(rec), parse_gl(don))
    (lm,) = report.loci.values()
    assert lm.gvh.value == lm.hvg.value == lm.bidirectional.value == 0
    assert report.to_dict()["level"] == "ard"
    assert "P group" in str(report.to_dict()["level_definition"])


def test_ard_key_examples() -> None:
    assert ard_key("A*02:09") == "A*02:01"
    assert ard_key("A*01:01") == "A*01:01"
    assert ard_key("A*24:03") != ard_key("A*24:02")  # different ARD: still a mismatch
    lm = compare(parse_gl("A*24:02+A*01:01"), parse_gl("A*24:03+A*01:01")).loci["A"]
    assert lm.bidirectional.value == 1


def test_cli_names_the_level() -> None:
    res = runner.invoke(app, ["hla", "mismatch", "A*02:09+A*01:01", "A*02:01+A*01:01"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("level ard: ARD")
    res = runner.invoke(
        app, ["hla", "mismatch", "A*02:09+A*01:01", "A*02:01+A*01:01", "--level", "allele"]
    )
    assert res.exit_code == 2 and "ard" in res.output


# --- item 1: inputs that used to hang -------------------------------------------------------

G_TYPING = "A*01:01:01G+A*02:01:01G"


def test_g_typed_cli_answers() -> None:
    res = runner.invoke(app, ["hla", "mismatch", G_TYPING, G_TYPING, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["loci"]["A"]["bidirectional"]["value"] == 0
    assert _work(G_TYPING, G_TYPING) < 50


HAPLO_G = (
    "A*01:01:01G+A*02:01:01G^B*08:01:01G+B*44:02:01G^C*07:01:01G+C*05:01:01G"
    "^DRB1*03:01:01G+DRB1*04:01:01G^DQB1*02:01:01G+DQB1*03:02:01G^DPB1*04:01:01G+DPB1*02:01:02G"
)
CHILD_G = (
    "A*01:01:01G+A*03:01:01G^B*08:01:01G+B*07:02:01G^C*07:01:01G+C*07:02:01G"
    "^DRB1*03:01:01G+DRB1*15:01:01G^DQB1*02:01:01G+DQB1*06:02:01G^DPB1*04:01:01G+DPB1*04:02:01G"
)


def test_g_typed_haploidentical_rank_answers() -> None:
    data = {
        "patient": {"id": "P", "hla_typing": HAPLO_G},
        "donors": [
            {"id": "D", "relationship": "child", "sex": "M", "age": 30, "hla_typing": CHILD_G}
        ],
    }
    r = rank_case(load_case(data))
    d = r.donors[0]
    assert d.mismatch.total("bidirectional").value == 6  # type: ignore[union-attr]
    assert d.haplo is not None and d.haplo.status == "haploidentical"
    assert hla_mismatch_counts(HAPLO_G, CHILD_G) == {"x10": 5, "x12": 6}


def test_long_allele_lists_answer() -> None:
    long1 = "/".join(A02[:280])
    long2 = "/".join(A02[100:380])
    assert len(long1) > 2300 and len(long2) > 2300
    rec, don = f"{long1}+{long2}", f"{long2}+{long1}"
    lm = compare(parse_gl(rec), parse_gl(don)).loci["A"]
    assert (lm.bidirectional.lo, lm.bidirectional.hi) == (0, 2)
    assert _work(rec, don) <= 4 * 280


@settings(deadline=None, derandomize=True, max_examples=25)
@given(st.integers(min_value=5, max_value=300))
def test_work_is_linear_in_list_sizes(n: int) -> None:
    """Work (set members visited) grows linearly with the allele lists, not as a product."""
    rec = "/".join(A02[:n]) + "+A*01:01"
    don = "/".join(A02[n // 2 : n // 2 + n]) + "+" + "/".join(A02[:n])
    w = _work(rec, don)
    assert w <= 4 * n + 8
    w2 = _work(rec.replace("+A*01:01", "+" + "/".join(A02[:n])), don)
    assert w2 <= w + n + 4


def test_genotype_list_cap_is_an_error_not_a_hang() -> None:
    many = "|".join(f"{a}+{b}" for a in A02[:70] for b in A02[70:72])
    with pytest.raises(ValidationError, match="narrow the genotype list"):
        compare(parse_gl(many), parse_gl(many))


def test_worst_case_under_the_caps_is_bounded() -> None:
    """One-field names on both sides (every A*02/A*24 protein) answer; a genotype list of them
    that would need more than MAX_LOCUS_WORK set visits is refused, not left to run."""
    lm = compare(parse_gl("A*02+A*24"), parse_gl("A*02+A*03")).loci["A"]
    assert (lm.gvh.lo, lm.gvh.hi) == (1, 2) and (lm.hvg.lo, lm.hvg.hi) == (1, 2)  # A*24, A*03
    assert _work("A*02+A*24", "A*02+A*03") <= mm.MAX_LOCUS_WORK
    fams = ("01", "02", "03", "11", "24", "26", "68")
    wide = "|".join(f"A*{f}+A*{g}" for f in fams for g in ("02", "24", "03"))
    with pytest.raises(ValidationError, match="too ambiguous"):
        compare(parse_gl(wide), parse_gl(wide))


def test_rank_names_the_donor_whose_typing_is_too_ambiguous() -> None:
    fams = ("01", "02", "03", "11", "24", "26", "68")
    wide = "|".join(f"A*{f}+A*{g}" for f in fams for g in ("02", "24", "03"))
    data = {
        "patient": {"id": "P", "hla_typing": wide},
        "donors": [
            {
                "id": "ok",
                "relationship": "child",
                "sex": "M",
                "age": 30,
                "hla_typing": "A*01:01+A*02:01",
            },
            {"id": "wide", "relationship": "child", "sex": "M", "age": 30, "hla_typing": wide},
        ],
    }
    with pytest.raises(ValidationError) as exc:
        rank_case(load_case(data))
    assert exc.value.field == "donors[1].hla_typing" and "donor wide" in str(exc.value)
