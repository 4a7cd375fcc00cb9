"""DSA virtual crossmatch, KIR motifs/ligands and DPB1 TCE permissiveness (issue 6)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from mst.donors import (
    classify_groups,
    dpb1_permissiveness,
    grade_mfi,
    kir_ligands,
    kir_profile,
    ligand_mismatch_gvh,
    parse_antibody,
    parse_gl,
    parse_kir_genotype,
    tce_group,
    virtual_crossmatch,
)
from mst.errors import ValidationError

# shared/ sits beside the repository (main checkout) or above the worktrees
SHARED_FASTA = next(
    (
        p / "shared" / "reference" / "imgt-hla-3.58.0"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "reference" / "imgt-hla-3.58.0" / "fasta").exists()
    ),
    Path("/nonexistent"),
)

DONOR = parse_gl(
    "A*24:02+A*03:01^B*07:02+B*35:01^C*07:02+C*04:01^DRB1*15:01+DRB1*01:01"
    "^DQB1*06:02+DQB1*05:01^DPB1*04:01+DPB1*04:02"
)

# --- DSA ---------------------------------------------------------------------

MFI_TABLE = [
    (0, "negative"),
    (999, "negative"),
    (999.9, "negative"),
    (1000, "positive"),
    (4999, "positive"),
    (5000, "high_risk"),
    (25000, "high_risk"),
]


@pytest.mark.parametrize(("mfi", "grade"), MFI_TABLE)
def test_dsa_threshold_boundaries(mfi: float, grade: str) -> None:
    assert grade_mfi(mfi) == grade
    res = virtual_crossmatch([parse_antibody("A*24:02", mfi)], DONOR)
    assert res.status == grade
    assert [m["specificity"] for m in res.matches] == ([] if grade == "negative" else ["A*24:02"])


def test_dsa_thresholds_configurable() -> None:
    ab = [parse_antibody("A*24:02", 1500)]
    assert virtual_crossmatch(ab, DONOR, positive_mfi=2000, high_risk_mfi=3000).status == "negative"
    assert virtual_crossmatch(ab, DONOR, positive_mfi=500, high_risk_mfi=1500).status == "high_risk"
    with pytest.raises(ValidationError):
        virtual_crossmatch(ab, DONOR, positive_mfi=5000, high_risk_mfi=1000)


SPEC_TABLE = [
    ("A*24:02", "high_risk"),  # allele present
    ("A*02:01", "negative"),  # allele absent
    ("A24", "high_risk"),  # antigen
    ("A9", "high_risk"),  # broad antigen of A24
    ("B7", "high_risk"),
    ("Cw7", "high_risk"),
    ("C7", "high_risk"),
    ("DR15", "high_risk"),
    ("DR2", "high_risk"),  # broad of DR15
    ("DQ6", "high_risk"),
    ("DR17", "negative"),
    ("DQA1*01:02,DQB1*06:02", "negative"),  # DQA1 untested -> not counted, listed
]


@pytest.mark.parametrize(("spec", "status"), SPEC_TABLE)
def test_dsa_specificities(spec: str, status: str) -> None:
    res = virtual_crossmatch([parse_antibody(spec, 6000)], DONOR)
    assert res.status == status


def test_dsa_untested_locus_listed() -> None:
    res = virtual_crossmatch(
        [parse_antibody("DQA1*01:02,DQB1*06:02", 6000), parse_antibody("DRB4*01:01", 3000)], DONOR
    )
    assert res.untested == ["DQA1*01:02,DQB1*06:02", "DRB4*01:01"]


def test_dsa_possible_with_ambiguous_donor() -> None:
    donor = parse_gl("A*24:02/A*24:03+A*03:01")
    res = virtual_crossmatch([parse_antibody("A*24:03", 2000)], donor)
    assert (res.status, res.possible_status) == ("negative", "positive")
    assert res.matches[0]["certainty"] == "possible"


@pytest.mark.parametrize(
    ("spec", "mfi"),
    [
        ("A*99:01", 100),
        ("Q7", 100),
        ("A*02", 100),
        ("A999", 100),
        ("A2", -1),
        ("A2", float("nan")),
        ("", 10),
    ],
)
def test_dsa_invalid_inputs(spec: str, mfi: float) -> None:
    with pytest.raises(ValidationError):
        parse_antibody(spec, mfi)


# --- KIR ---------------------------------------------------------------------

FRAME = "KIR3DL3,KIR3DP1,KIR2DL4,KIR3DL2"
KIR_TABLE = [
    # genotype, cen, tel, score, group, haplotype
    (f"{FRAME},KIR2DL1,KIR2DL3,KIR3DL1,KIR2DS4", "A/A", "A/A", 0, "neutral", "AA"),
    (f"{FRAME},KIR2DL1,KIR2DL3,KIR2DL2,KIR3DL1,KIR2DS4", "A/B", "A/A", 1, "neutral", "Bx"),
    (f"{FRAME},KIR2DL1,KIR2DL3,KIR2DS2,KIR3DL1,KIR2DS4,KIR3DS1", "A/B", "A/B", 2, "better", "Bx"),
    (f"{FRAME},KIR2DL3,KIR3DS1,KIR2DS1", "A/A", "B/B", 2, "better", "Bx"),
    (f"{FRAME},KIR2DL2,KIR2DS2,KIR3DL1,KIR2DS4", "B/B", "A/A", 2, "best", "Bx"),
    (f"{FRAME},KIR2DL2,KIR2DS2,KIR3DS1,KIR2DS1", "B/B", "B/B", 4, "best", "Bx"),
    (f"{FRAME},KIR3DL1,KIR2DS4", None, "A/A", None, "unknown", "AA"),
]


@pytest.mark.parametrize(("genotype", "cen", "tel", "score", "group", "hap"), KIR_TABLE)
def test_kir_motifs_and_cooley_group(
    genotype: str, cen: str | None, tel: str | None, score: int | None, group: str, hap: str
) -> None:
    p = kir_profile(genotype)
    assert (p.centromeric, p.telomeric, p.b_content_score, p.group, p.haplotype) == (
        cen,
        tel,
        score,
        group,
        hap,
    )


def test_kir_genotype_parser() -> None:
    assert parse_kir_genotype(" 2dl1, KIR2DL5A ") == {"KIR2DL1", "KIR2DL5A", "KIR2DL5"}
    with pytest.raises(ValidationError) as exc:
        parse_kir_genotype("KIR2DL1,KIR9XX1")
    assert exc.value.value == "KIR9XX1"


LIGAND_TABLE = [
    ("C*07:01+C*07:02^B*08:01+B*07:02", {"C1"}, set()),  # C1 homozygous, Bw6 only
    ("C*04:01+C*06:02^B*44:02+B*57:01", {"C2", "Bw4"}, set()),
    ("C*07:01+C*05:01^B*08:01+B*51:01", {"C1", "C2", "Bw4"}, set()),
    ("C*01:02+C*16:01^B*27:05+B*35:01", {"C1", "Bw4"}, set()),
    ("C*16:02+C*07:01^B*08:01+B*08:01", {"C1", "C2"}, set()),  # C*16:02 is Lys80: C2
    ("C*07:01/C*07:07+C*07:02^B*08:01+B*08:01", {"C1"}, {"C2"}),  # C*07:07 Lys80: maybe C2
    ("C*07+C*07:02^B*08:01+B*27:08", {"C1"}, {"C2"}),  # one field, B*27:08 is Bw6
]


@pytest.mark.parametrize(("gl", "present", "uncertain"), LIGAND_TABLE)
def test_kir_ligands(gl: str, present: set[str], uncertain: set[str]) -> None:
    lig = kir_ligands(parse_gl(gl))
    assert set(lig.present) == present
    assert set(lig.uncertain) == uncertain


def test_ligand_mismatch_gvh_direction() -> None:
    rec = parse_gl("C*07:01+C*07:02^B*08:01+B*07:02")  # C1 only, no Bw4
    don = parse_gl("C*07:01+C*05:01^B*08:01+B*51:01")  # C1, C2, Bw4
    res = ligand_mismatch_gvh(rec, don, frozenset({"KIR2DL1", "KIR2DL3"}))
    assert res.status == "mismatch"
    assert res.missing_in_recipient == ("Bw4", "C2")
    assert res.donor_receptor_present == {"Bw4": False, "C2": True}
    # Reverse direction: the donor lacks ligands, the recipient does not -> no GvH mismatch.
    assert ligand_mismatch_gvh(don, rec).status == "match"


# --- DPB1 TCE ----------------------------------------------------------------


def test_tce_table_values() -> None:
    assert [tce_group(p) for p in ("DPB1*09:01", "DPB1*03:01", "DPB1*02:01", "DPB1*04:01")] == [
        1,
        2,
        3,
        3,
    ]
    assert tce_group("DPB1*9999:01") is None


@pytest.mark.parametrize(
    ("r", "d", "status"),
    [
        ((2, 3), (3, 3), "non-permissive GvH"),
        ((3, 3), (2, 3), "non-permissive HvG"),
        ((1, 3), (1, 2), "permissive"),
        ((2, 2), (2, 3), "permissive"),
        ((1, 1), (2, 2), "non-permissive GvH"),
        ((3, 3), (3, 3), "permissive"),
    ],
)
def test_tce_rule(r: tuple[int, ...], d: tuple[int, ...], status: str) -> None:
    assert classify_groups(r, d) == status


@pytest.mark.parametrize(
    ("rec", "don", "status"),
    [
        ("DPB1*02:01+DPB1*03:01", "DPB1*04:01+DPB1*04:02", "non-permissive GvH"),  # 3+2 vs 3+3
        ("DPB1*04:01+DPB1*04:02", "DPB1*02:01+DPB1*03:01", "non-permissive HvG"),
        ("DPB1*04:01+DPB1*02:01", "DPB1*04:01+DPB1*04:02", "permissive"),  # 3+3 vs 3+3
        ("DPB1*04:01+DPB1*02:01", "DPB1*02:01+DPB1*04:01", "matched"),
        ("DPB1*09:01+DPB1*04:01", "DPB1*10:01+DPB1*04:01", "permissive"),  # 1 vs 1
        ("DPB1*04:01+DPB1*02:01", "DPB1*04:01+DPB1*03:01/DPB1*09:01", "non-permissive HvG"),
        ("DPB1*04:01+DPB1*02:01", "DPB1*04:01+DPB1*04:02/DPB1*09:01", "ambiguous"),
    ],
)
def test_dpb1_permissiveness_from_typings(rec: str, don: str, status: str) -> None:
    assert dpb1_permissiveness(parse_gl(rec), parse_gl(don)).status == status


def test_dpb1_untyped_is_unknown() -> None:
    assert (
        dpb1_permissiveness(parse_gl("A*01:01+A*02:01"), parse_gl("A*01:01+A*02:01")).status
        == "unknown"
    )


def test_dsa_associated_and_nested_antigens() -> None:
    donor = parse_gl("A*02:03+A*24:03^B*40:05+B*08:01")
    assert virtual_crossmatch([parse_antibody("A2", 2000)], donor).status == "positive"  # A203
    assert virtual_crossmatch([parse_antibody("B21", 2000)], donor).status == "positive"  # B4005
    assert virtual_crossmatch([parse_antibody("A203", 2000)], donor).status == "positive"
    assert virtual_crossmatch([parse_antibody("A210", 2000)], donor).status == "negative"


def test_dpb1_null_allele_is_not_expressed() -> None:
    # Recipient DPB1*04:01 + a null allele: only group 3 is expressed.
    rec = parse_gl("DPB1*04:01+DPB1*04:01:01:24N")
    res = dpb1_permissiveness(rec, parse_gl("DPB1*03:01+DPB1*04:01"))
    assert res.status == "non-permissive HvG"
    assert res.recipient_groups == (3,)


# --- issue 14 item 3: low resolution is ambiguity (004 §2.1 DSA; NMDP/WMDA) ---------------

LOW_RES_DSA = [
    # donor A typing, anti-A*24:02 MFI 6200 -> (status, possible_status, certainty)
    ("A*24+A*03:01", "negative", "high_risk", "possible"),  # one field: may be A*24:02
    ("A*24:02/A*24:03+A*03:01", "negative", "high_risk", "possible"),
    ("A*24:02:01G+A*03:01", "high_risk", "high_risk", "definite"),  # G group = A*24:02 ARD
    ("A*24:02:01:01+A*03:01", "high_risk", "high_risk", "definite"),
    ("A*24:03+A*03:01", "negative", "negative", None),
    ("A*23+A*03:01", "negative", "negative", None),  # another family
    ("A*24:09N+A*03:01", "negative", "negative", None),  # null: no antigen
]


@pytest.mark.parametrize(("typing", "status", "possible", "certainty"), LOW_RES_DSA)
def test_dsa_low_resolution_checks_every_allele(
    typing: str, status: str, possible: str, certainty: str | None
) -> None:
    res = virtual_crossmatch([parse_antibody("A*24:02", 6200)], parse_gl(typing))
    assert (res.status, res.possible_status) == (status, possible)
    assert [m["certainty"] for m in res.matches] == ([certainty] if certainty else [])


def test_low_resolution_donor_with_dsa_is_excluded_not_first() -> None:
    from mst.donors import load_case, rank_case

    rest = "^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01^DQB1*02:01+DQB1*03:02"
    rest += "^DPB1*04:01+DPB1*02:01"
    data = {
        "patient": {
            "id": "P",
            "hla_typing": "A*01:01+A*02:01" + rest,
            "antibodies": [{"specificity": "A*24:02", "mfi": 6200}],
        },
        "donors": [
            {
                "id": "low",
                "relationship": "child",
                "sex": "M",
                "age": 25,
                "hla_typing": "A*24+A*01:01" + rest.replace("B*44:02", "B*07:02"),
            },
            {
                "id": "ok",
                "relationship": "child",
                "sex": "M",
                "age": 40,
                "hla_typing": "A*03:01+A*01:01" + rest.replace("B*44:02", "B*07:02"),
            },
        ],
    }
    r = rank_case(load_case(data))
    assert [(d.donor_id, d.rank) for d in r.donors] == [("ok", 1), ("low", None)]
    assert [e.rule for e in r.donors[1].exclusions] == ["dsa_positive"]
    assert "possible" in r.donors[1].exclusions[0].text


# --- issue 14 item 6: KIR ligands by residue 80 (IPD-IMGT/HLA 3.58.0 protein sequences) ---

RESIDUE_80 = [
    # protein, ligand, Bw4 subtype, residues 77-83 (mature numbering)
    ("C*03:07", "C2", "", "NLRKLRG"),  # C*03 group, but Lys80
    ("C*07:07", "C2", "", "NLRKLRG"),
    ("C*07:09", "C2", "", "NLRKLRG"),
    ("C*15:07", "C1", "", "SLRNLRG"),  # C*15 group, but Asn80
    ("C*16:02", "C2", "", "NLRKLRG"),
    ("C*16:04", "C1", "", "SLRNLRG"),
    ("C*07:01", "C1", "", "SLRNLRG"),
    ("C*04:01", "C2", "", "NLRKLRG"),
    ("B*27:08", "Bw6", "", "SLRNLRG"),  # B27 antigen, Bw6 motif
    ("B*27:05", "Bw4", "80T", "DLRTLLR"),
    ("B*51:01", "Bw4", "80I", "NLRIALR"),
    ("B*57:01", "Bw4", "80I", "NLRIALR"),
    ("B*44:02", "Bw4", "80T", "NLRTALR"),
    ("B*13:02", "Bw4", "80T", "NLRTALR"),
    ("B*08:01", "Bw6", "", "SLRNLRG"),
    ("A*24:02", "Bw4", "80I", "NLRIALR"),
    ("A*01:01", "none", "", "NLGTLRG"),
]


@pytest.mark.parametrize(("protein", "ligand", "sub", "motif"), RESIDUE_80)
def test_ligand_from_residue_80(protein: str, ligand: str, sub: str, motif: str) -> None:
    from mst.donors.kir import ligand_table

    assert ligand_table()[protein] == (ligand, sub)
    text = resources.files("mst.data").joinpath("donors/kir_ligands.csv").read_text()
    row = next(r for r in text.splitlines() if r.startswith(protein + ","))
    assert row.split(",")[1] == motif and row.split(",")[2] == motif[3]


def test_ligand_listing_names_bw4_subtype() -> None:
    lig = kir_ligands(parse_gl("C*03:07+C*15:07^B*51:01+B*27:08"))
    assert set(lig.present) == {"C1", "C2", "Bw4"}
    assert dict(lig.per_allele["B"]) == {"B*27:08": "Bw6", "B*51:01": "Bw4-80I"}
    assert dict(lig.per_allele["C"]) == {"C*03:07": "C2", "C*15:07": "C1"}


def test_ligand_table_release_and_licence_recorded() -> None:
    text = resources.files("mst.data").joinpath("donors/kir_ligands.csv").read_text()
    head = text.splitlines()[:6]
    assert "IPD-IMGT/HLA release 3.58.0" in head[1] and "CC BY-ND" in head[4]


@pytest.mark.skipif(not SHARED_FASTA.exists(), reason="shared IMGT/HLA FASTA not available")
def test_ligand_table_rebuilds_identically() -> None:
    """The shipped table is exactly what the committed script derives from the release."""
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "src/mst/data/donors/build_kir_ligands.py"
    spec = importlib.util.spec_from_file_location("build_kir_ligands", script)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows, version = mod.build(SHARED_FASTA)
    assert version == "3.58.0"
    shipped = resources.files("mst.data").joinpath("donors/kir_ligands.csv").read_text()
    body = [ln for ln in shipped.splitlines() if not ln.startswith("#")][1:]
    assert len(body) == len(rows)
    assert body[:3] == [",".join(r.values()) for r in rows[:3]]
    assert body == [",".join(r.values()) for r in rows]
