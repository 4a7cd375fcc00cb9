"""Myeloma staging calculators at every threshold, both sides (src/mst/data/myeloma/staging.yaml).

ISS: Greipp 2005 stage definitions; R-ISS: Palumbo 2015 Table 1; R2-ISS: D'Agostino 2022
scoring table; Durie–Salmon 1975 staging criteria; mSMART 3.0 (Mayo 2018).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.errors import ValidationError
from mst.monitoring.myeloma_staging import (
    StagingInput,
    parse_staging_input,
    stage_durie_salmon,
    stage_iss,
    stage_msmart,
    stage_myeloma,
    stage_r2_iss,
    stage_r_iss,
    staging_json,
)

runner = CliRunner()


def _x(**kw: Any) -> StagingInput:
    return parse_staging_input(kw)


# ---------------------------------------------------------------- ISS (Greipp 2005)
@pytest.mark.parametrize(
    ("b2m", "alb", "stage"),
    [
        (3.49, 3.5, "I"),    # b2m < 3.5 and albumin >= 3.5 (both on the I side)
        (3.5, 3.5, "II"),    # b2m = 3.5: not < 3.5
        (3.49, 3.49, "II"),  # albumin < 3.5
        (5.49, 4.0, "II"),   # b2m just below 5.5
        (5.5, 4.0, "III"),   # b2m = 5.5: III
        (5.5, None, "III"),  # III needs no albumin
    ],
)
def test_iss_boundaries(b2m: float, alb: float | None, stage: str) -> None:
    s = stage_iss(_x(beta2m_mg_l=b2m, albumin_g_dl=alb))
    assert s.stage == stage
    assert "Greipp" in s.source and "beta2m_mg_l" in s.decided_by


def test_iss_missing_values_give_reasons() -> None:
    assert "beta2m_mg_l missing" in (stage_iss(_x(albumin_g_dl=4.0)).reason or "")
    s = stage_iss(_x(beta2m_mg_l=3.49))
    assert s.stage is None and "albumin" in (s.reason or "")


@pytest.mark.parametrize(("b2m", "stage"), [(3.49, None), (3.5, "II"), (5.49, "II"), (5.5, "III")])
def test_iss_ii_needs_no_albumin_when_beta2m_3_5_to_5_5(b2m: float, stage: str | None) -> None:
    """Greipp 2005: stage I needs beta2M < 3.5 mg/L, so 3.5 <= beta2M < 5.5 is II whatever
    the albumin; only beta2M < 3.5 leaves I or II open."""
    s = stage_iss(_x(beta2m_mg_l=b2m))
    assert s.stage == stage
    r = staging_json({"beta2m_mg_l": b2m, "fish": [], "ldh_elevated": False})
    if stage == "II":
        assert r["r_iss"]["stage"] == "II" and r["r2_iss"]["stage"] == "II"


def test_units_converted_on_entry() -> None:
    x = _x(albumin_g_l=35, hemoglobin_g_l=100, calcium_mmol_l=2.5, creatinine_umol_l=176.84,
           igg_g_l=50)
    assert x.albumin_g_dl == pytest.approx(3.5)
    assert x.hemoglobin_g_dl == pytest.approx(10.0)
    assert x.calcium_mg_dl == pytest.approx(10.02)
    assert x.creatinine_mg_dl == pytest.approx(2.0, abs=1e-4)
    assert x.igg_g_dl == pytest.approx(5.0)
    assert stage_iss(_x(beta2m_mg_l=3.0, albumin_g_l=35)).stage == "I"
    assert stage_iss(_x(beta2m_mg_l=3.0, albumin_g_l=34.9)).stage == "II"


# ---------------------------------------------------------------- R-ISS (Palumbo 2015, Table 1)
@pytest.mark.parametrize(
    ("b2m", "fish", "ldh", "uln", "stage"),
    [
        (3.0, [], 250, 250, "I"),             # LDH = ULN is normal
        (3.0, [], 251, 250, "II"),            # LDH > ULN
        (3.0, ["del17p"], 200, 250, "II"),
        (3.0, ["t(4;14)"], 200, 250, "II"),
        (3.0, ["t(14;16)"], 200, 250, "II"),
        (3.0, ["gain1q", "t(14;20)"], 200, 250, "I"),  # not R-ISS high-risk CA
        (4.0, ["del17p"], 300, 250, "II"),    # ISS II stays II
        (6.0, [], 250, 250, "II"),            # ISS III, standard CA, normal LDH
        (6.0, [], 251, 250, "III"),
        (6.0, ["t(14;16)"], 100, 250, "III"),
    ],
)
def test_r_iss(b2m: float, fish: list[str], ldh: float, uln: float, stage: str) -> None:
    s = stage_r_iss(_x(beta2m_mg_l=b2m, albumin_g_dl=3.6, fish=fish, ldh_u_l=ldh,
                       ldh_uln_u_l=uln))
    assert s.stage == stage
    assert "Palumbo" in s.source


def test_r_iss_missing() -> None:
    assert stage_r_iss(_x(beta2m_mg_l=3.0, albumin_g_dl=4, ldh_elevated=False)).stage is None
    # a known high-risk value decides without the missing one
    assert stage_r_iss(_x(beta2m_mg_l=6.0, ldh_elevated=True)).stage == "III"
    assert stage_r_iss(_x(beta2m_mg_l=3.0, albumin_g_dl=4, fish=["del17p"])).stage == "II"
    s = stage_r_iss(_x(beta2m_mg_l=6.0, fish=[]))
    assert s.stage is None and "LDH" in (s.reason or "")


# ---------------------------------------------------------------- R2-ISS (D'Agostino 2022)
@pytest.mark.parametrize(
    ("b2m", "fish", "ldh", "points", "stage"),
    [
        (3.0, [], False, 0.0, "I"),
        (3.0, ["gain1q"], False, 0.5, "II"),          # lower end of II
        (4.0, [], False, 1.0, "II"),                   # ISS II = 1: upper end of II
        (6.0, [], False, 1.5, "III"),                  # ISS III = 1.5: lower end of III
        (3.0, ["del17p", "amp1q"], False, 1.5, "III"),
        (6.0, ["t(4;14)"], False, 2.5, "III"),         # upper end of III
        (3.0, ["del17p", "t(4;14)"], True, 3.0, "IV"),  # lower end of IV
        (6.0, ["del17p", "t(4;14)", "gain1q"], True, 5.0, "IV"),  # maximum
        (3.0, ["t(14;16)", "t(14;20)"], False, 0.0, "I"),  # not scored by R2-ISS
    ],
)
def test_r2_iss(b2m: float, fish: list[str], ldh: bool, points: float, stage: str) -> None:
    s = stage_r2_iss(_x(beta2m_mg_l=b2m, albumin_g_dl=3.6, fish=fish, ldh_elevated=ldh))
    assert (s.stage, s.points) == (stage, points)
    assert "D'Agostino" in s.source


def test_r2_iss_needs_every_input() -> None:
    assert "fish" in (stage_r2_iss(_x(beta2m_mg_l=3.0, albumin_g_dl=4,
                                      ldh_elevated=False)).reason or "")
    assert "LDH" in (stage_r2_iss(_x(beta2m_mg_l=3.0, albumin_g_dl=4, fish=[])).reason or "")


# ---------------------------------------------------------------- Durie–Salmon (1975)
BASE_I = {"hemoglobin_g_dl": 12.0, "calcium_mg_dl": 9.5, "bone_lesions": 0, "igg_g_dl": 3.0,
          "creatinine_mg_dl": 1.0}


@pytest.mark.parametrize(
    ("change", "stage"),
    [
        ({}, "IA"),
        ({"hemoglobin_g_dl": 10.01}, "IA"),   # Hb > 10
        ({"hemoglobin_g_dl": 10.0}, "IIA"),   # Hb = 10: not I
        ({"hemoglobin_g_dl": 8.5}, "IIA"),    # Hb = 8.5: not III
        ({"hemoglobin_g_dl": 8.49}, "IIIA"),  # Hb < 8.5
        ({"calcium_mg_dl": 12.0}, "IA"),      # calcium <= 12 normal
        ({"calcium_mg_dl": 12.01}, "IIIA"),   # calcium > 12
        ({"bone_lesions": 1}, "IA"),          # solitary lesion
        ({"bone_lesions": 2}, "IIA"),
        ({"bone_lesions": 3}, "IIA"),
        ({"bone_lesions": 4}, "IIIA"),        # > 3 lesions: advanced (local reading)
        ({"bone_lesions": "advanced"}, "IIIA"),
        ({"igg_g_dl": 4.99}, "IA"),
        ({"igg_g_dl": 5.0}, "IIA"),
        ({"igg_g_dl": 7.0}, "IIA"),
        ({"igg_g_dl": 7.01}, "IIIA"),
        ({"igg_g_dl": None, "iga_g_dl": 2.99}, "IA"),
        ({"igg_g_dl": None, "iga_g_dl": 3.0}, "IIA"),
        ({"igg_g_dl": None, "iga_g_dl": 5.0}, "IIA"),
        ({"igg_g_dl": None, "iga_g_dl": 5.01}, "IIIA"),
        ({"urine_light_chain_g_24h": 3.99}, "IA"),
        ({"urine_light_chain_g_24h": 4.0}, "IIA"),
        ({"urine_light_chain_g_24h": 12.0}, "IIA"),
        ({"urine_light_chain_g_24h": 12.01}, "IIIA"),
        ({"creatinine_mg_dl": 1.99}, "IA"),
        ({"creatinine_mg_dl": 2.0}, "IB"),    # B: creatinine >= 2.0
    ],
)
def test_durie_salmon(change: dict[str, Any], stage: str) -> None:
    s = stage_durie_salmon(_x(**{**BASE_I, **change}))
    assert s.stage == stage
    assert "Durie" in s.source


def test_durie_salmon_missing() -> None:
    no_m = {k: v for k, v in BASE_I.items() if k != "igg_g_dl"}
    assert "M-component" in (stage_durie_salmon(_x(**no_m)).reason or "")
    no_cr = {k: v for k, v in BASE_I.items() if k != "creatinine_mg_dl"}
    assert "creatinine" in (stage_durie_salmon(_x(**no_cr)).reason or "")
    # a stage III criterion decides although haemoglobin is missing
    s = stage_durie_salmon(_x(calcium_mg_dl=13, igg_g_dl=3, creatinine_mg_dl=1))
    assert s.stage == "IIIA"
    s = stage_durie_salmon(_x(calcium_mg_dl=9, igg_g_dl=6, creatinine_mg_dl=1))
    assert s.stage is None and "hemoglobin_g_dl" in (s.reason or "")


@pytest.mark.parametrize(
    ("change", "stage"),
    [
        ({"hemoglobin_g_dl": 8.49}, "IIIA"),
        ({"calcium_mg_dl": 12.01}, "IIIA"),
        ({"bone_lesions": "advanced"}, "IIIA"),
        ({"hemoglobin_g_dl": 8.5}, None),  # no stage III criterion: M-component needed
    ],
)
def test_durie_salmon_stage_iii_criterion_without_m_component(
    change: dict[str, Any], stage: str | None
) -> None:
    """Durie & Salmon 1975: stage III is "one or more" of its criteria, so Hb < 8.5 g/dL,
    calcium > 12 mg/dL or advanced lesions decide it without an IgG/IgA/urine M-component
    (IgD, IgM or non-secretory myeloma)."""
    no_m = {k: v for k, v in BASE_I.items() if k != "igg_g_dl"}
    s = stage_durie_salmon(_x(**{**no_m, **change}))
    assert s.stage == stage
    if stage is None:
        assert "M-component" in (s.reason or "")
    else:
        assert "M-component not given" in s.assumptions[0]


def test_igm_igd_keys_refused_with_the_durie_salmon_rule() -> None:
    with pytest.raises(ValidationError, match=r"igd_g_dl.*IgG, IgA or urine light chain"):
        _x(igd_g_dl=2)


def test_error_lists_are_words_not_python_lists() -> None:
    for bad in ({"albumin": 3.5}, {"fish": ["del(17p)"]}):
        with pytest.raises(ValidationError) as e:
            parse_staging_input(bad)
        assert "[" not in str(e.value) and "'" not in str(e.value).split("—")[1]


# ---------------------------------------------------------------- mSMART 3.0
@pytest.mark.parametrize("finding", ["del17p", "t(4;14)", "t(14;16)", "t(14;20)", "gain1q",
                                     "amp1q"])
def test_msmart_high_risk_findings(finding: str) -> None:
    s = stage_msmart(_x(beta2m_mg_l=2.0, albumin_g_dl=4, fish=[finding], ldh_elevated=False))
    assert s.stage == "high" and "mSMART 3.0" in s.source


@pytest.mark.parametrize("finding", ["t(11;14)", "t(6;14)", "trisomies"])
def test_msmart_standard(finding: str) -> None:
    s = stage_msmart(_x(beta2m_mg_l=2.0, albumin_g_dl=4, fish=[finding], ldh_elevated=False))
    assert s.stage == "standard"


def test_msmart_r_iss_iii_and_hits() -> None:
    assert stage_msmart(_x(beta2m_mg_l=6.0, fish=[], ldh_elevated=True)).stage == "high"
    assert stage_msmart(_x(beta2m_mg_l=6.0, fish=[], ldh_elevated=False)).stage == "standard"
    s = stage_msmart(_x(beta2m_mg_l=2.0, albumin_g_dl=4, ldh_elevated=False,
                        fish=["del17p", "t(4;14)", "gain1q"]))
    assert s.decided_by["genetic_hits"] == 3 and "triple hit" in s.rule
    assert stage_msmart(_x(beta2m_mg_l=2.0, albumin_g_dl=4, ldh_elevated=False)).stage is None


@pytest.mark.parametrize(
    ("data", "stage"),
    [
        ({"beta2m_mg_l": 3.0, "fish": [], "ldh_elevated": None}, "standard"),  # R-ISS I or II
        ({"beta2m_mg_l": 5.49, "fish": ["t(11;14)"]}, "standard"),
        ({"beta2m_mg_l": 5.5, "fish": []}, None),          # ISS III: LDH decides R-ISS III
        ({"beta2m_mg_l": 5.5, "fish": [], "ldh_elevated": False}, "standard"),
        ({"fish": [], "ldh_elevated": False}, "standard"),  # no HR CA, normal LDH: never III
        ({"fish": [], "ldh_elevated": True}, None),
    ],
)
def test_msmart_standard_when_r_iss_cannot_be_iii(data: dict[str, Any], stage: str | None) -> None:
    """mSMART 3.0: high risk = high-risk FISH or R-ISS III; Palumbo 2015: R-ISS III needs ISS
    III (beta2M >= 5.5 mg/L) and a high-risk CA or LDH > ULN. Without a high-risk finding, a
    beta2M < 5.5 or a normal LDH rules R-ISS III out, whatever is missing."""
    assert stage_msmart(_x(**data)).stage == stage


@pytest.mark.parametrize(
    ("data", "stage"),
    [
        ({"beta2m_mg_l": 3.49, "fish": ["del17p"]}, "II"),
        ({"beta2m_mg_l": 3.49, "ldh_elevated": True}, "II"),
        ({"beta2m_mg_l": 3.49, "fish": [], "ldh_elevated": False}, None),  # I or II open
    ],
)
def test_r_iss_ii_when_albumin_missing_and_high_risk(
    data: dict[str, Any], stage: str | None
) -> None:
    """Palumbo 2015: ISS I with high-risk CA or high LDH is R-ISS II, as is all of ISS II; so
    beta2M < 3.5 with albumin missing and such a finding is R-ISS II."""
    assert stage_r_iss(_x(**data)).stage == stage


# ---------------------------------------------------------------- input rules and CLI
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"beta2m": 3}, "beta2m"),
        ({"albumin_g_dl": 3.5, "albumin_g_l": 35}, "albumin_g_l"),
        ({"fish": ["del(17p)"]}, "fish"),
        ({"beta2m_mg_l": "high"}, "beta2m_mg_l"),
        ({"beta2m_mg_l": True}, "beta2m_mg_l"),
        ({"hemoglobin_g_dl": 100}, "hemoglobin_g_dl"),
        ({"ldh_u_l": 300}, "ldh_uln_u_l"),
        ({"ldh_u_l": 300, "ldh_uln_u_l": 250, "ldh_elevated": False}, "ldh_elevated"),
        ({"bone_lesions": 2.5}, "bone_lesions"),
        ({"bone_lesions": "many"}, "bone_lesions"),
    ],
)
def test_bad_input_names_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_staging_input(data)
    assert exc.value.field == field


def test_missing_codes_read_alike() -> None:
    for na in (None, "", "NA", " na "):
        assert parse_staging_input({"albumin_g_dl": na}).albumin_g_dl is None


def test_all_systems_and_null_reasons() -> None:
    out = staging_json({"beta2m_mg_l": 4.0, "albumin_g_dl": 3.0})
    assert out["iss"]["stage"] == "II" and out["r_iss"]["stage"] == "II"  # ISS II decides
    for k in ("r2_iss", "durie_salmon", "msmart"):
        assert out[k] is None and out["not_staged"][k]
    assert set(stage_myeloma({})) == {"iss", "r_iss", "r2_iss", "durie_salmon", "msmart"}


def test_cli_json_and_text(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps({
        "beta2m_mg_l": 3.0, "albumin_g_dl": 3.8, "ldh_u_l": 180, "ldh_uln_u_l": 250,
        "fish": ["t(11;14)"], "hemoglobin_g_dl": 11.2, "calcium_mg_dl": 9.4,
        "bone_lesions": 0, "igg_g_dl": 3.1, "urine_light_chain_g_24h": 0.2,
        "creatinine_mg_dl": 0.9}))
    res = runner.invoke(app, ["stage", "myeloma", str(f), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["iss"]["stage"] == "I" and out["r_iss"]["stage"] == "I"
    assert out["r2_iss"]["stage"] == "I" and out["r2_iss"]["points"] == 0.0
    assert out["durie_salmon"]["stage"] == "IA" and out["msmart"]["stage"] == "standard"
    text = runner.invoke(app, ["stage", "myeloma", str(f)])
    assert text.exit_code == 0 and "Durie-Salmon  IA" in text.stdout


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text('{"beta2m_mg_l": "x"}')
    res = runner.invoke(app, ["stage", "myeloma", str(f)])
    assert res.exit_code == 2 and "beta2m_mg_l" in res.stderr and "Traceback" not in res.output
    f.write_text("{not json")
    res = runner.invoke(app, ["stage", "myeloma", str(f)])
    assert res.exit_code == 2 and "not valid JSON" in res.stderr


@pytest.mark.parametrize(("umol", "stage"), [(176.83, "IA"), (176.84, "IB")])
def test_durie_salmon_subclass_in_umol_per_l(umol: float, stage: str) -> None:
    # 2.0 mg/dL = 176.84 umol/L (factor 88.42): the boundary falls on the same side in either unit
    data = {k: v for k, v in BASE_I.items() if k != "creatinine_mg_dl"}
    assert stage_durie_salmon(_x(**data, creatinine_umol_l=umol)).stage == stage


@pytest.mark.parametrize(("ca", "ok"), [(4.99, False), (5.0, True), (3.5, False)])
def test_calcium_in_mmol_under_the_mg_dl_key_is_refused(ca: float, ok: bool) -> None:
    """A hypercalcaemic 3.5 mmol/L (14 mg/dL, Durie-Salmon III) typed under calcium_mg_dl
    must not read as a normal calcium (stage I criterion <= 12 mg/dL)."""
    if ok:
        assert _x(calcium_mg_dl=ca).calcium_mg_dl == ca
    else:
        with pytest.raises(ValidationError, match=r"calcium_mg_dl.*physiological range"):
            _x(calcium_mg_dl=ca)


def test_range_error_names_the_key_as_entered() -> None:
    with pytest.raises(ValidationError, match=r"^albumin_g_l: 80 rejected .*albumin_g_dl"):
        _x(albumin_g_l=80)


def test_fish_text_keeps_translocations_whole() -> None:
    """t(4;14) carries a semicolon (ISCN notation): a text list split on ";" must not cut it."""
    assert _x(fish="del17p; t(4;14)").fish == ("del17p", "t(4;14)")
    assert _x(fish="t(14;16),gain1q").fish == ("t(14;16)", "gain1q")


def test_cli_missing_file_exits_2_in_words(tmp_path: Path) -> None:
    r = runner.invoke(app, ["stage", "myeloma", str(tmp_path / "absent.json")])
    assert r.exit_code == 2
    assert "no such file" in r.output and "Errno" not in r.output


@pytest.mark.parametrize(
    ("entered", "stage"),
    [
        ({"calcium_mmol_l": 2.994}, "IA"),    # 12.0 mg/dL (x 4.008): still normal
        ({"calcium_mmol_l": 2.995}, "IIIA"),  # 12.004 mg/dL > 12
        ({"hemoglobin_g_l": 100.1}, "IA"),    # > 10 g/dL
        ({"hemoglobin_g_l": 100}, "IIA"),     # 10 g/dL is not > 10
        ({"hemoglobin_g_l": 85}, "IIA"),      # 8.5 g/dL is not < 8.5
        ({"hemoglobin_g_l": 84.9}, "IIIA"),
        ({"igg_g_l": 49.9}, "IA"),
        ({"igg_g_l": 50}, "IIA"),
        ({"igg_g_l": 70.1}, "IIIA"),
        ({"igg_g_dl": None, "urine_light_chain_mg_24h": 3999}, "IA"),
        ({"igg_g_dl": None, "urine_light_chain_mg_24h": 4000}, "IIA"),
        ({"igg_g_dl": None, "urine_light_chain_mg_24h": 12001}, "IIIA"),
    ],
)
def test_durie_salmon_boundaries_in_si_units(entered: dict[str, Any], stage: str) -> None:
    """Durie & Salmon 1975 thresholds (g/dL, mg/dL, g/24 h) entered in SI units fall on the
    same side after conversion."""
    base = dict(BASE_I)
    for k in entered:
        for canon in ("calcium_mg_dl", "hemoglobin_g_dl", "igg_g_dl"):
            if k.startswith(canon.rsplit("_", 2)[0]):
                base.pop(canon, None)
    data = {k: v for k, v in {**base, **entered}.items() if v is not None}
    assert stage_durie_salmon(_x(**data)).stage == stage


@pytest.mark.parametrize("bone", ["many", [1], -1, 2.5, True])
def test_bone_lesions_refusal_names_count_or_advanced(bone: Any) -> None:
    with pytest.raises(ValidationError, match=r'bone_lesions.*whole count.*"advanced"'):
        _x(bone_lesions=bone)
