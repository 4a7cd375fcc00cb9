"""Cumulative anthracycline exposure in doxorubicin-equivalents and its thresholds."""

from __future__ import annotations

import pytest

from mst.errors import ValidationError
from mst.protocol.anthracycline import course_anthracycline_mg_m2, cumulative_exposure, factors
from mst.protocol.catalog import get_regimen

# regimen, choices -> anthracycline mg/m² per course, doxorubicin-eq (Feijen 2019 factors:
# daunorubicin 0.6, idarubicin 5, mitoxantrone 10.5)
COURSE_TABLE = [
    ("004-4.1-DA60", {}, {"daunorubicin": 180.0}, 108.0),
    ("004-4.1-IA12", {}, {"idarubicin": 36.0}, 180.0),
    ("004-4.1-MA12", {}, {"mitoxantrone": 36.0}, 378.0),
    ("004-4.1-CPX351", {}, {"daunorubicin": 132.0}, 79.2),
    ("004-4.2-DA-RI", {"daunorubicin": 45}, {"daunorubicin": 135.0}, 81.0),
    ("004-4.2-IA-RI", {}, {"idarubicin": 36.0}, 180.0),  # unchosen range: high end
    ("004-4.2-MA-RI", {"mitoxantrone": 8}, {"mitoxantrone": 24.0}, 252.0),
    ("002-IA", {"idarubicin": 10}, {"idarubicin": 30.0}, 150.0),
    ("002-MA", {"mitoxantrone": 6}, {"mitoxantrone": 18.0}, 189.0),
    ("004-4.1-VEN-AZA", {}, {}, 0.0),
    ("004-5.1-IDAC", {}, {}, 0.0),
    ("002-IDAC", {}, {}, 0.0),
]


@pytest.mark.parametrize("rid,choices,mg,dox", COURSE_TABLE)
def test_course_exposure(rid: str, choices: dict, mg: dict, dox: float) -> None:
    got = course_anthracycline_mg_m2(get_regimen(rid), choices)
    assert got == pytest.approx(mg)
    ex = cumulative_exposure([("c1", d, v) for d, v in got.items()])
    assert ex.total_doxorubicin_eq_mg_m2 == pytest.approx(dox)
    assert ("cardiac_monitoring" in [n.code for n in ex.notes]) is (dox > 0)


def test_unchosen_range_low_assumption() -> None:
    assert course_anthracycline_mg_m2(get_regimen("002-IA"), assume="low") == {"idarubicin": 24.0}


def test_factor_sets() -> None:
    assert factors() == {
        "doxorubicin": 1.0,
        "daunorubicin": 0.6,
        "idarubicin": 5.0,
        "mitoxantrone": 10.5,
        "epirubicin": 0.8,
    }
    assert factors("hematologic_substitution")["mitoxantrone"] == 4.0
    ex = cumulative_exposure([("c", "mitoxantrone", 36.0)], factor_set="hematologic_substitution")
    assert ex.total_doxorubicin_eq_mg_m2 == 144.0
    assert "Feijen" in cumulative_exposure([]).factor_source
    with pytest.raises(ValidationError):
        factors("made_up")


# total doxorubicin-eq -> threshold notes (250 info ESC 2022; 400 with risk factors; 550)
THRESHOLDS = [
    (249.9, False, []),
    (250.0, False, ["anthracycline_high_risk_baseline"]),
    (399.9, True, ["anthracycline_high_risk_baseline"]),
    (400.0, True, ["anthracycline_high_risk_baseline", "anthracycline_with_risk_factors"]),
    (400.0, False, ["anthracycline_high_risk_baseline"]),
    (549.9, False, ["anthracycline_high_risk_baseline"]),
    (550.0, False, ["anthracycline_high_risk_baseline", "anthracycline_absolute"]),
]


@pytest.mark.parametrize("total,risk,codes", THRESHOLDS)
def test_thresholds(total: float, risk: bool, codes: list[str]) -> None:
    ex = cumulative_exposure([("x", "doxorubicin", total)], cardiac_risk_factors=risk)
    eq = [n.code for n in ex.notes if n.code.startswith("anthracycline_")]
    assert [c for c in eq if not c.endswith("_limit")] == codes
    assert all(n.sources for n in ex.notes)


def test_configurable_thresholds() -> None:
    ex = cumulative_exposure([("x", "doxorubicin", 300.0)], thresholds={"absolute": 300})
    assert "anthracycline_absolute" in [n.code for n in ex.notes]
    with pytest.raises(ValidationError):
        cumulative_exposure([], thresholds={"bogus": 1})
    with pytest.raises(ValidationError):
        cumulative_exposure([], thresholds={"absolute": 0})


def test_two_mitoxantrone_inductions_cross_the_risk_threshold() -> None:
    # Seed 002 MA at 8 mg/m² twice = 48 mg/m² mitoxantrone = 504 doxorubicin-eq
    per = course_anthracycline_mg_m2(get_regimen("002-MA"), {"mitoxantrone": 8})
    ex = cumulative_exposure(
        [("c1", "mitoxantrone", per["mitoxantrone"]), ("c2", "mitoxantrone", per["mitoxantrone"])],
        cardiac_risk_factors=True,
    )
    assert ex.total_doxorubicin_eq_mg_m2 == 504.0
    assert "anthracycline_with_risk_factors" in [n.code for n in ex.notes]


@pytest.mark.parametrize(
    "drug,mg", [("cytarabine", 10.0), ("idarubicin", -1.0), ("idarubicin", float("nan"))]
)
def test_bad_exposure(drug: str, mg: float) -> None:
    with pytest.raises(ValidationError):
        cumulative_exposure([("x", drug, mg)])


# Each drug's own labelled cumulative limit, both sides (labels cited in anthracyclines.yaml):
# daunorubicin "should not exceed 550 mg/m2" (400 after chest irradiation), idarubicin 150,
# mitoxantrone 140, epirubicin 900, doxorubicin 550 (400 with risk factors).
DRUG_LIMITS = [
    ("daunorubicin", 549.9, False, False), ("daunorubicin", 550.0, False, True),
    ("daunorubicin", 399.9, True, False), ("daunorubicin", 400.0, True, True),
    ("idarubicin", 149.9, False, False), ("idarubicin", 150.0, False, True),
    ("mitoxantrone", 139.9, False, False), ("mitoxantrone", 140.0, False, True),
    ("epirubicin", 899.9, False, False), ("epirubicin", 900.0, False, True),
    ("doxorubicin", 399.9, True, False), ("doxorubicin", 400.0, True, True),
]  # fmt: skip


@pytest.mark.parametrize("drug,mg,risk,flag", DRUG_LIMITS)
def test_each_drug_labelled_cumulative_limit(drug: str, mg: float, risk: bool, flag: bool) -> None:
    ex = cumulative_exposure([("a", drug, mg / 2), ("b", drug, mg / 2)], cardiac_risk_factors=risk)
    assert ex.per_drug_mg_m2 == {drug: mg}
    got = [n for n in ex.notes if n.code == f"anthracycline_{drug}_limit"]
    assert bool(got) is flag
    if flag:
        src = got[0].sources[0]
        assert got[0].level == "warning"
        assert "prescribing information" in src or "summary of product characteristics" in src


def test_fifth_da60_course_exceeds_the_daunorubicin_label() -> None:
    # 5 x DA60 = 900 mg/m2 daunorubicin = only 540 doxorubicin-equivalent (x 0.6): the
    # equivalent total stays under 550, the drug's own limit does not.
    per = course_anthracycline_mg_m2(get_regimen("004-5.1-DA60"))["daunorubicin"]
    ex = cumulative_exposure([(f"c{i}", "daunorubicin", per) for i in range(5)])
    assert ex.total_doxorubicin_eq_mg_m2 == 540.0
    assert ex.per_drug_mg_m2 == {"daunorubicin": 900.0}
    codes = [n.code for n in ex.notes]
    assert "anthracycline_absolute" not in codes and "anthracycline_daunorubicin_limit" in codes
    (note,) = [n for n in ex.notes if n.code == "anthracycline_daunorubicin_limit"]
    assert "exceeds" in note.message
