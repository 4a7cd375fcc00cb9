"""ELN 2022 genetic risk (Döhner et al., Blood 2022;140:1345, Table 6) from lesions."""

from __future__ import annotations

import pytest

from mst.domain import ElnRisk
from mst.errors import ValidationError
from mst.protocol.eln import eln2022_risk, lesion_codes, normalize_lesions, targetable

F, M, A = ElnRisk.FAVORABLE, ElnRisk.INTERMEDIATE, ElnRisk.ADVERSE  # M: intermediate
TP53_HI = {"code": "TP53", "vaf_pct": 10}
TP53_LO = {"code": "TP53", "vaf_pct": 9.9}

ELN_TABLE = [
    ([], M),
    (["other"], M),
    (["t(8;21)"], F),
    (["RUNX1::RUNX1T1", "KIT"], F),
    (["inv(16)", "FLT3-ITD"], F),
    (["t(16;16)", "ASXL1"], F),
    (["NPM1"], F),
    (["NPM1", "ASXL1"], F),
    (["NPM1", "FLT3-ITD"], M),
    (["NPM1", "-7"], A),
    (["NPM1", "FLT3-ITD", "complex_karyotype"], A),
    (["CEBPA-bZIP"], F),
    (["CEBPA-bZIP", "RUNX1"], F),
    (["FLT3-ITD"], M),
    (["FLT3-ITD", "ASXL1"], A),
    (["t(9;11)"], M),
    (["t(9;11)", "ASXL1"], M),
    (["t(9;11)", "-7"], A),
    (["t(6;9)"], A),
    (["KMT2A-r"], A),
    (["KMT2A-PTD"], M),
    (["BCR::ABL1"], A),
    (["t(8;16)"], A),
    (["inv(3)"], A),
    (["t(3;3)"], A),
    (["MECOM-r"], A),
    (["-5"], A),
    (["del(5q)"], A),
    (["-17"], A),
    (["abn(17p)"], A),
    (["monosomal_karyotype"], A),
    (["ASXL1"], A), (["BCOR"], A), (["EZH2"], A), (["RUNX1"], A), (["SF3B1"], A),
    (["SRSF2"], A), (["STAG2"], A), (["U2AF1"], A), (["ZRSR2"], A),
    ([TP53_HI], A),
    ([TP53_LO], M),
    (["FLT3-TKD", "IDH1", "IDH2"], M),
]  # fmt: skip


@pytest.mark.parametrize("lesions,risk", ELN_TABLE)
def test_eln2022(lesions: list, risk: ElnRisk) -> None:
    res = eln2022_risk(lesions)
    assert res.risk is risk
    assert "Blood 2022" in res.source


def test_deciding_lesions_and_notes() -> None:
    res = eln2022_risk(["NPM1", "-7", "IDH2"])
    assert res.deciding == ("-7",)
    low = eln2022_risk([TP53_LO])
    assert [n.code for n in low.notes] == ["tp53_below_threshold"]
    fav = eln2022_risk(["NPM1", TP53_HI])
    assert fav.risk is F and [n.code for n in fav.notes] == ["eln_cooccurrence"]


def test_aliases_case_insensitive() -> None:
    assert [x.code for x in normalize_lesions(["npm1", "cbfb::myh11", " t(8;21) "])] == [
        "NPM1",
        "inv(16)",
        "t(8;21)",
    ]


@pytest.mark.parametrize(
    "lesions,field",
    [(["NPM2"], "eln_lesions[0]"), (["TP53"], "eln_lesions[0].vaf_pct"),
     ([{"code": "TP53", "vaf_pct": 120}], "eln_lesions[0].vaf_pct"), ([42], "eln_lesions[0]"),
     ([{"code": "NPM1", "extra": 1}], "eln_lesions[0]")],
)  # fmt: skip
def test_bad_lesions(lesions: list, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        eln2022_risk(lesions)
    assert exc.value.field == field


def test_every_code_classifies() -> None:
    for code in lesion_codes():
        item = {"code": code, "vaf_pct": 50} if code == "TP53" else code
        assert eln2022_risk([item]).risk in (F, M, A)


def test_targetable() -> None:
    assert targetable(["FLT3-ITD", "NPM1", "IDH1"]) == ["FLT3-ITD", "IDH1"]
