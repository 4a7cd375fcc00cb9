"""Donor ranking: exclusions, preferences, ties and the CLI (issue 6)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.donors import load_case, rank_case, settings_from_dict
from mst.errors import ValidationError

ROOT = Path(__file__).resolve().parents[2]
VIGNETTE = ROOT / "docs" / "examples" / "donor_case_vignette.json"

HAP1 = "A*01:01~B*08:01~C*07:01~DRB1*03:01~DQB1*02:01~DPB1*04:01"
HAP2 = "A*02:01~B*44:02~C*05:01~DRB1*04:01~DQB1*03:02~DPB1*02:01"
HAP3 = "A*03:01~B*07:02~C*07:02~DRB1*15:01~DQB1*06:02~DPB1*04:02"
HAP4 = "A*24:02~B*35:01~C*04:01~DRB1*01:01~DQB1*05:01~DPB1*03:01"
HAP5 = "A*11:01~B*51:01~C*15:02~DRB1*11:01~DQB1*03:01~DPB1*05:01"
RECIPIENT = f"{HAP1}+{HAP2}"


def donor(id_: str, **kw: Any) -> dict[str, Any]:
    base = {
        "id": id_,
        "relationship": "child",
        "sex": "M",
        "age": 30,
        "hla_typing": f"{HAP1}+{HAP3}",
    }
    base.update(kw)
    return base


def case(
    donors: list[dict[str, Any]],
    antibodies: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "patient": {
            "id": "P1",
            "sex": "F",
            "hla_typing": RECIPIENT,
            "antibodies": antibodies or [],
        },
        "donors": donors,
    }
    if settings is not None:
        out["settings"] = settings
    return out


def ranked(data: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [(d.donor_id, d.rank) for d in rank_case(load_case(data)).donors]


def test_vignette_ranking() -> None:
    data = json.loads(VIGNETTE.read_text())
    r = rank_case(load_case(data))
    assert [(d.donor_id, d.rank) for d in r.donors] == [
        ("D-daughter", 1),
        ("D-son", 2),
        ("D-niece", 3),  # homozygous shared: a ranked penalty, not an exclusion (004 §2.1)
        ("D-unrelated", None),
        ("D-brother", None),  # excluded (age) and HLA-identical: last
    ]
    by_id = {d.donor_id: d for d in r.donors}
    assert by_id["D-daughter"].decided_by == "above D-son by younger"  # 30 vs 34, year by year
    assert by_id["D-son"].decided_by == "above D-niece by avoid_homozygous_shared"
    assert by_id["D-niece"].exclusions == []
    assert any(
        x.rule == "homozygous_shared" and x.effect == "warn" for x in by_id["D-niece"].reasons
    )
    assert [e.rule for e in by_id["D-brother"].exclusions] == ["age_out_of_range"]
    assert [e.rule for e in by_id["D-unrelated"].exclusions] == ["dsa_positive"]
    assert by_id["D-unrelated"].dsa.status == "high_risk"
    assert by_id["D-son"].kir is not None and by_id["D-son"].kir.group == "best"
    assert by_id["D-son"].tce.status == "non-permissive GvH"
    out = r.to_dict()
    assert out["imgt_release"] == "3.58.0"
    assert out["donors"][0]["hla"]["ard"]["totals"]["x12"]["bidirectional"]["value"] == 6
    assert "antigen" in out["donors"][0]["hla"]
    json.dumps(out)


@pytest.mark.parametrize(("age", "excluded"), [(17, True), (18, False), (55, False), (56, True)])
def test_age_boundaries(age: int, excluded: bool) -> None:
    r = rank_case(load_case(case([donor("D1", age=age)])))
    assert r.donors[0].excluded is excluded
    assert (r.donors[0].rank is None) is excluded


@pytest.mark.parametrize(("mfi", "excluded"), [(999, False), (1000, True)])
def test_dsa_boundary_excludes(mfi: int, excluded: bool) -> None:
    r = rank_case(load_case(case([donor("D1")], antibodies=[{"specificity": "A3", "mfi": mfi}])))
    assert r.donors[0].excluded is excluded


def test_related_beats_unrelated_then_mismatch_range() -> None:
    data = case(
        [
            donor("U1", relationship="unrelated", hla_typing=f"{HAP1}+{HAP3}"),
            donor(
                "R-out", relationship="sibling", hla_typing=f"{HAP4}+{HAP5}"
            ),  # 12/12, outside 5–7
            donor("R-in", relationship="parent", hla_typing=f"{HAP1}+{HAP3}"),  # 6/12
        ]
    )
    r = rank_case(load_case(data))
    assert [(d.donor_id, d.rank) for d in r.donors] == [("R-in", 1), ("R-out", 2), ("U1", 3)]
    assert r.donors[0].decided_by == "above R-out by mismatch_in_range"
    assert r.donors[1].decided_by == "above U1 by related"


def test_acceptable_range_is_configurable() -> None:
    data = case(
        [donor("A", hla_typing=f"{HAP4}+{HAP5}", age=20), donor("B", age=40)],
        settings={"acceptable_mismatch_x12": [10, 12]},
    )
    assert ranked(data) == [("A", 1), ("B", 2)]
    data["settings"] = {"acceptable_mismatch_x12": [5, 7]}
    assert ranked(data) == [("B", 1), ("A", 2)]


def test_sex_kir_dpb1_order_and_ties() -> None:
    kir_best = "KIR3DL3,KIR2DL4,KIR3DL2,KIR2DL2,KIR2DS2,KIR3DL1,KIR2DS4"
    kir_neutral = "KIR3DL3,KIR2DL4,KIR3DL2,KIR2DL1,KIR2DL3,KIR3DL1,KIR2DS4"
    data = case(
        [
            donor("F1", sex="F"),
            donor("M-neutral", kir_genotype=kir_neutral),
            donor("M-best", kir_genotype=kir_best),
            donor("M-best-2", kir_genotype=kir_best),
        ]
    )
    r = rank_case(load_case(data))
    assert [(d.donor_id, d.rank) for d in r.donors] == [
        ("M-best", 1),
        ("M-best-2", 1),
        ("M-neutral", 3),
        ("F1", 4),
    ]
    assert r.donors[0].tied_with == ["M-best-2"]
    assert "tied with M-best-2" in (r.donors[0].decided_by or "")
    assert r.donors[1].decided_by == "above M-neutral by kir_b_content"
    assert r.donors[2].decided_by == "above F1 by male"


def test_dpb1_permissive_preferred() -> None:
    perm = f"{HAP1}+{HAP3}"  # recipient DPB1 04:01(3)+02:01(3); donor 04:01+04:02 (3,3)
    nonperm = f"{HAP1}+{HAP3}".replace("DPB1*04:02", "DPB1*09:01")  # donor has group 1 -> HvG
    r = rank_case(load_case(case([donor("NP", hla_typing=nonperm), donor("P", hla_typing=perm)])))
    assert [d.donor_id for d in r.donors] == ["P", "NP"]
    assert r.donors[0].decided_by == "above NP by dpb1_permissive"


def test_preferences_reorderable_and_exclusions_switchable() -> None:
    data = case([donor("Old-M", age=50), donor("Young-F", age=20, sex="F")])
    assert [i for i, _ in ranked(data)] == ["Young-F", "Old-M"]
    data["settings"] = {"preferences": ["male", "younger"]}
    assert [i for i, _ in ranked(data)] == ["Old-M", "Young-F"]
    data2 = case([donor("Old", age=60)], settings={"exclusions": ["dsa_positive"]})
    assert ranked(data2) == [("Old", 1)]


@pytest.mark.parametrize(
    "bad",
    [
        {"acceptable_mismatch_x12": [8, 5]},
        {"acceptable_mismatch_x12": [5]},
        {"preferences": ["tallest"]},
        {"dsa_positive_mfi": 6000},
        {"age_band_years": 0},
        {"colour": "blue"},
    ],
)
def test_invalid_settings(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        settings_from_dict(bad)


def test_case_errors_name_the_field() -> None:
    data = case([donor("D1"), donor("D2", hla_typing="A*01:01+A*2:01")])
    with pytest.raises(ValidationError) as exc:
        load_case(data)
    assert exc.value.field == "donors[1].hla_allele"
    data = case([donor("D1"), donor("D1")])
    with pytest.raises(ValidationError, match="duplicate"):
        load_case(data)
    data = case([donor("D1", age=30, kir_genotype="KIR2DL1,KIRX")])
    with pytest.raises(ValidationError) as exc:
        load_case(data)
    assert exc.value.field == "donors[0].kir_genotype"
    bad = copy.deepcopy(case([donor("D1")]))
    bad["patient"]["antibodies"] = [{"specificity": "A2"}]
    with pytest.raises(ValidationError):
        load_case(bad)


runner = CliRunner()


def test_cli_rank_json_and_text(tmp_path: Path) -> None:
    res = runner.invoke(app, ["donors", "rank", str(VIGNETTE), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [d["donor_id"] for d in out["donors"]][:2] == ["D-daughter", "D-son"]
    res = runner.invoke(app, ["donors", "rank", str(VIGNETTE), "--text"])
    assert res.exit_code == 0
    assert "EXCLUDED: age 62 outside 18–55" in res.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(case([donor("D1", hla_typing="A*01:01")])))
    res = runner.invoke(app, ["donors", "rank", str(bad), "--json"])
    assert res.exit_code == 2


def test_cli_hla_mismatch() -> None:
    res = runner.invoke(app, ["hla", "mismatch", RECIPIENT, f"{HAP1}+{HAP3}", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["totals"]["x12"]["gvh"]["value"] == 6
    assert out["totals"]["x10"]["bidirectional"]["value"] == 5
    res = runner.invoke(app, ["hla", "mismatch", RECIPIENT, "A*01:01+A*99:01", "--json"])
    assert res.exit_code == 2


def test_cli_hla_mismatch_antigen_level_and_text() -> None:
    rec, don = "B*44:02+B*08:01", "B*44:03+B*08:01"
    res = runner.invoke(app, ["hla", "mismatch", rec, don, "--json", "--level", "antigen"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["loci"]["B"]["gvh"]["value"] == 0
    res = runner.invoke(app, ["hla", "mismatch", rec, don])
    assert res.exit_code == 0
    assert res.stdout.splitlines()[2].split()[:4] == ["B", "1", "1", "1"]
    res = runner.invoke(app, ["hla", "mismatch", rec, don, "--level", "serology"])
    assert res.exit_code == 2


# --- issue 14 item 5: HLA-identical donors are outside MST (004 §2, §2.1; 002 5/12–7/12) ---


def test_hla_identical_sibling_ranks_after_every_mismatched_donor() -> None:
    data = case(
        [
            donor("sib-identical", relationship="sibling", age=20, hla_typing=f"{HAP2}+{HAP1}"),
            donor("unrelated-6", relationship="unrelated", sex="F", age=50),
            donor("child-6", age=45),
            donor("sib-12", relationship="sibling", hla_typing=f"{HAP4}+{HAP5}"),
        ]
    )
    r = rank_case(load_case(data))
    assert [(d.donor_id, d.rank) for d in r.donors] == [
        ("child-6", 1),
        ("sib-12", 2),
        ("unrelated-6", 3),
        ("sib-identical", 4),
    ]
    ident = r.donors[-1]
    assert r.donors[-2].decided_by == "above sib-identical by hla_mismatched"
    warn = [x for x in ident.reasons if x.rule == "hla_identical"]
    assert warn and warn[0].effect == "warn" and "004" in warn[0].source
    assert ident.to_dict()["hla_identical"] == "yes"
    assert r.donors[0].to_dict()["hla_identical"] == "no"


def test_possibly_identical_when_a_locus_is_untyped() -> None:
    no_dp = "^".join(p for p in f"{HAP2}+{HAP1}".split("^")).replace("~DPB1*02:01", "")
    no_dp = no_dp.replace("~DPB1*04:01", "")
    r = rank_case(load_case(case([donor("D", hla_typing=no_dp), donor("M")])))
    assert [d.donor_id for d in r.donors] == ["M", "D"]
    assert r.donors[1].to_dict()["hla_identical"] == "possible"


# --- issue 14 item 7: homozygous shared = ranked penalty, configurable exclusion, DPB1 apart;
# age year by year (002 18-55; Kollman 2016); male cites Wang 2014 -------------------------

HOMO_A = f"{HAP1}+{HAP3}".replace("A*03:01", "A*01:01")  # donor A*01:01 homozygous, shared
HOMO_DP = f"{HAP1}+{HAP3}".replace("DPB1*04:02", "DPB1*04:01")  # homozygous shared at DPB1 only


def test_homozygous_shared_is_a_penalty_by_default_and_an_optional_exclusion() -> None:
    donors = [donor("hom-A", age=20, hla_typing=HOMO_A), donor("plain", age=50)]
    r = rank_case(load_case(case(donors)))
    assert [(d.donor_id, d.rank) for d in r.donors] == [("plain", 1), ("hom-A", 2)]
    assert r.donors[0].decided_by == "above hom-A by avoid_homozygous_shared"
    excl = case(donors, settings={"exclusions": ["dsa_positive", "homozygous_shared_locus"]})
    r2 = rank_case(load_case(excl))
    assert [(d.donor_id, d.rank) for d in r2.donors] == [("plain", 1), ("hom-A", None)]
    assert [e.rule for e in r2.donors[1].exclusions] == ["homozygous_shared_locus"]


def test_dpb1_homozygosity_is_separate_and_last() -> None:
    donors = [donor("hom-DP", age=20, hla_typing=HOMO_DP), donor("plain", age=21)]
    r = rank_case(load_case(case(donors)))
    # age decides before the DPB1 penalty
    assert [(d.donor_id, d.rank) for d in r.donors] == [("hom-DP", 1), ("plain", 2)]
    same_age = [donor("hom-DP", hla_typing=HOMO_DP), donor("plain")]
    r2 = rank_case(load_case(case(same_age)))
    assert [d.donor_id for d in r2.donors] == ["plain", "hom-DP"]
    assert r2.donors[0].decided_by == "above hom-DP by avoid_homozygous_shared_dpb1"
    excl = case(same_age, settings={"exclusions": ["homozygous_shared_locus"]})
    assert [i for i, rank in ranked(excl)] == ["plain", "hom-DP"]  # DPB1 not excluded
    excl_dp = case(same_age, settings={"exclusions": ["homozygous_shared_dpb1_locus"]})
    assert ranked(excl_dp) == [("plain", 1), ("hom-DP", None)]


@pytest.mark.parametrize(("older", "younger_wins"), [(31, True), (30, False)])
def test_age_is_compared_year_by_year(older: int, younger_wins: bool) -> None:
    data = case([donor("old", age=older, sex="M"), donor("young", age=30, sex="F")])
    first = ranked(data)[0][0]
    assert first == ("young" if younger_wins else "old")  # tie on age -> male decides
    banded = case(data["donors"], settings={"age_band_years": 5})
    assert ranked(banded)[0][0] == "old"  # 30 and 31 share a band: male decides


def test_rule_sources_are_the_supporting_ones() -> None:
    from mst.donors.settings import rule_source

    assert "Wang Y et al., Blood 2014;124:843" in rule_source("male")
    assert "Kollman" in rule_source("younger")
    assert "004 §2.1" in rule_source("avoid_homozygous_shared")


# --- issue 14 item 9: streamed JSON, full explanations for the top N, output linear in n ---


def test_streamed_json_equals_the_dict_form() -> None:
    from mst.donors.ranking import DEFAULT_EXPLAIN

    r = rank_case(load_case(json.loads(VIGNETTE.read_text())))
    for explain in (None, 0, 2, DEFAULT_EXPLAIN):
        text = "".join(r.iter_json(explain))
        assert json.loads(text) == json.loads(json.dumps(r.to_dict(explain=explain)))
    short = json.loads("".join(r.iter_json(2)))
    assert [d["explained"] for d in short["donors"]] == [True, True, False, False, False]
    assert short["explained"] == 2 and short["n_donors"] == 5
    assert "reasons" not in short["donors"][2] and short["donors"][2]["exclusions"] == []


def test_large_tie_output_grows_linearly() -> None:
    sizes = {}
    for n in (300, 600):
        data = case([donor(f"D{i:04d}") for i in range(n)])
        r = rank_case(load_case(data))
        assert r.donors[0].tie_group is r.donors[-1].tie_group  # one shared list, not n² ids
        text = "".join(r.iter_json())
        out = json.loads(text)
        assert out["donors"][0]["tied_count"] == n - 1
        assert len(out["donors"][0]["tied_with"]) == 20
        sizes[n] = len(text)
    per_donor = (sizes[600] - sizes[300]) / 300
    assert per_donor < 600  # summaries: a few hundred bytes each, whatever n


def test_cli_explain_option(tmp_path: Path) -> None:
    res = runner.invoke(app, ["donors", "rank", str(VIGNETTE), "--json", "--explain", "all"])
    assert res.exit_code == 0, res.output
    assert all(d["explained"] for d in json.loads(res.stdout)["donors"])
    res = runner.invoke(app, ["donors", "rank", str(VIGNETTE), "--text", "--explain", "1"])
    assert res.exit_code == 0 and "reasons shown for the first 1 of 5 donors" in res.stdout
    for bad in ("-1", "some"):
        res = runner.invoke(app, ["donors", "rank", str(VIGNETTE), "--explain", bad])
        assert res.exit_code == 2 and "--explain" in res.output


def test_ngs_vignette() -> None:
    """docs/examples/donor_case_ngs.json: G groups, 1-field, null, DRB4 copy, identical sibling."""
    data = json.loads((ROOT / "docs" / "examples" / "donor_case_ngs.json").read_text())
    r = rank_case(load_case(data))
    assert [(d.donor_id, d.rank) for d in r.donors] == [
        ("D-daughter", 1),
        ("D-son-null", 2),  # A*24:09N: functionally homozygous for the shared A*01:01
        ("D-sib-identical", 3),  # A*02:09 = A*02:01:01G at the ARD level: 0/12, ranked last
        ("D-nephew-lowres", None),  # A*24 may be A*24:02 (possible DSA) and B7 definite
    ]
    by_id = {d.donor_id: d for d in r.donors}
    son = by_id["D-son-null"]
    assert son.mismatch.loci["A"].donor_homozygous_shared == "yes"
    assert (son.mismatch.loci["A"].gvh.value, son.mismatch.loci["A"].hvg.value) == (1, 0)
    assert son.dsa.possible_status == "negative"  # G-typed B*08:01:01G is B8, not possibly B7
    assert by_id["D-sib-identical"].to_dict()["hla_identical"] == "yes"
    certainty = {m["specificity"]: m["certainty"] for m in by_id["D-nephew-lowres"].dsa.matches}
    assert certainty == {"A*24:02": "possible", "B7": "definite"}
