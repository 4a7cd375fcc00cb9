"""ELN 2022 (AML) and IMWG 2016 (myeloma) response calls at their thresholds."""

from __future__ import annotations

import datetime as dt

import pytest

from mst.domain import ResponseCategory
from mst.errors import ValidationError
from mst.monitoring.response import (
    AmlAssessment,
    MyelomaAssessment,
    ResponseCall,
    assess_aml,
    assess_myeloma,
    confirm_imwg,
)

RC = ResponseCategory


def aml(blasts=2.0, pb=False, emd=False, anc=1.5, plt=150.0, mrd=None, level=None, date=None):
    return AmlAssessment(blasts, pb, emd, anc, plt, mrd, level, date)


# (label, assessment, kwargs, expected)
AML_ROWS = [
    ("CR MRD not assessed", aml(), {}, RC.CR),
    ("CR MRD negative", aml(mrd=True), {}, RC.CR_MRD_NEG),
    ("CR MRD positive", aml(mrd=False), {}, RC.CR),
    ("ANC exactly 1.0 and plt exactly 100: CR", aml(anc=1.0, plt=100), {}, RC.CR),
    ("blasts 4.9 CR", aml(blasts=4.9), {}, RC.CR),
    ("blasts 5.0 not CR", aml(blasts=5.0), {}, "no_response"),
    ("circulating blasts: not CR", aml(pb=True), {}, "no_response"),
    ("extramedullary: not CR", aml(emd=True), {}, "no_response"),
    ("ANC 0.99 plt 100: CRh (both >= CRh)", aml(anc=0.99, plt=100), {}, RC.CRH),
    ("ANC 0.5 plt 50: CRh", aml(anc=0.5, plt=50), {}, RC.CRH),
    ("ANC 0.49 plt 100: CRi", aml(anc=0.49, plt=100), {}, RC.CRI),
    ("ANC 1.0 plt 49: CRi", aml(anc=1.0, plt=49), {}, RC.CRI),
    ("ANC 0.49 plt 49: MLFS", aml(anc=0.49, plt=49), {}, RC.MLFS),
    ("PR: 25% from 60%", aml(blasts=25), {"baseline_marrow_blasts": 60}, RC.PR),
    (
        "PR boundary: 25% from 50% (exactly -50%)",
        aml(blasts=25),
        {"baseline_marrow_blasts": 50},
        RC.PR,
    ),
    ("not PR: 25.1%", aml(blasts=25.1), {"baseline_marrow_blasts": 80}, "no_response"),
    ("not PR: reduction < 50%", aml(blasts=20), {"baseline_marrow_blasts": 39.9}, "no_response"),
    (
        "not PR: counts not recovered",
        aml(blasts=10, anc=0.9),
        {"baseline_marrow_blasts": 60},
        "no_response",
    ),
    ("refractory at landmark", aml(blasts=40), {"at_landmark": True}, RC.REFRACTORY),
    ("relapse: blasts 5.0 in remission", aml(blasts=5.0), {"in_remission": True}, RC.RELAPSE),
    ("no relapse: blasts 4.9 in remission", aml(blasts=4.9), {"in_remission": True}, RC.CR),
    ("relapse: extramedullary", aml(emd=True), {"in_remission": True}, RC.RELAPSE),
]


@pytest.mark.parametrize(("label", "a", "kw", "want"), AML_ROWS, ids=[r[0] for r in AML_ROWS])
def test_eln2022_table(label: str, a: AmlAssessment, kw: dict, want: object) -> None:
    call = assess_aml(a, **kw)
    assert call.category == want, call.reasons
    assert "ELN 2022" in call.source and call.reasons


D = dt.date(2024, 3, 1)


@pytest.mark.parametrize(("days_apart", "want"), [(6, RC.CR), (7, RC.RELAPSE)])
def test_circulating_blasts_two_samples_one_week_apart(days_apart: int, want: RC) -> None:
    first = aml(pb=True, date=D)
    second = aml(pb=True, date=D + dt.timedelta(days=days_apart))
    call = assess_aml(second, in_remission=True, previous=[first])
    # with circulating blasts the current sample itself is not a CR; < 7 days -> no relapse yet
    assert call.category == (RC.RELAPSE if want is RC.RELAPSE else "no_response")


def test_mrd_relapse_needs_two_consecutive_positive_samples() -> None:
    pos1 = aml(mrd=False, date=D)
    pos2 = aml(mrd=False, date=D + dt.timedelta(days=28))
    one = assess_aml(pos1, in_remission=True, prior_mrd_negative=True, previous=[aml(mrd=True)])
    assert one.category == RC.CR
    two = assess_aml(pos2, in_remission=True, prior_mrd_negative=True, previous=[pos1])
    assert two.category == RC.MRD_RELAPSE


@pytest.mark.parametrize(("level", "want"), [(0.0099, RC.CR), (0.01, RC.MRD_RELAPSE)])
def test_mrd_one_log_rise(level: float, want: RC) -> None:
    prev = aml(mrd=False, level=0.001)
    call = assess_aml(aml(mrd=False, level=level), in_remission=True, previous=[prev])
    assert call.category == want


def test_aml_rejects_bad_values() -> None:
    with pytest.raises(ValidationError):
        assess_aml(aml(blasts=120))
    with pytest.raises(ValidationError):
        assess_aml(aml(blasts=None))


BASE = MyelomaAssessment(
    serum_m=4.0,
    urine_m=1000,
    marrow_plasma_cells=40,
    flc_kappa=300,
    flc_lambda=10,
    involved_light_chain="kappa",
)


def mm(**kw) -> MyelomaAssessment:
    d = {
        "serum_m": 4.0,
        "urine_m": 1000.0,
        "marrow_plasma_cells": 40.0,
        "flc_kappa": 300.0,
        "flc_lambda": 10.0,
        "involved_light_chain": "kappa",
    }
    d.update(kw)
    return MyelomaAssessment(**d)


IMWG_ROWS = [
    (
        "sCR",
        mm(
            serum_m=0,
            urine_m=0,
            immunofixation_negative=True,
            marrow_plasma_cells=2,
            flc_kappa=15,
            flc_lambda=12,
            clonal_cells_absent=True,
        ),
        RC.SCR,
    ),
    (
        "CR, FLC ratio 1.66 abnormal",
        mm(
            serum_m=0,
            urine_m=0,
            immunofixation_negative=True,
            marrow_plasma_cells=2,
            flc_kappa=16.6,
            flc_lambda=10,
            clonal_cells_absent=True,
        ),
        RC.CR,
    ),
    (
        "CR needs plasma cells < 5: 5.0 is not CR",
        mm(serum_m=0.3, urine_m=50, immunofixation_negative=True, marrow_plasma_cells=5.0),
        RC.VGPR,
    ),
    ("VGPR: -90% serum, urine 99", mm(serum_m=0.4, urine_m=99), RC.VGPR),
    ("not VGPR: urine 100", mm(serum_m=0.4, urine_m=100), RC.PR),
    ("not VGPR: -89.75%", mm(serum_m=0.41, urine_m=50), RC.PR),
    (
        "VGPR: IFE+ electrophoresis-",
        mm(serum_m=0, urine_m=0, electrophoresis_negative=True),
        RC.VGPR,
    ),
    ("PR: -50% serum, urine -90%", mm(serum_m=2.0, urine_m=100), RC.PR),
    ("PR: urine 199 mg", mm(serum_m=2.0, urine_m=199), RC.PR),
    ("not PR: urine 200 and -80%", mm(serum_m=2.0, urine_m=200), "MR"),
    ("not PR: serum -49.75%", mm(serum_m=2.01, urine_m=50), "MR"),
    ("MR: -25% serum, urine -50%", mm(serum_m=3.0, urine_m=500), "MR"),
    ("SD: -24.75% serum", mm(serum_m=3.01, urine_m=500), RC.SD),
    ("SD: urine only -49.9%", mm(serum_m=3.0, urine_m=501), RC.SD),
]


@pytest.mark.parametrize(("label", "a", "want"), IMWG_ROWS, ids=[r[0] for r in IMWG_ROWS])
def test_imwg_table(label: str, a: MyelomaAssessment, want: object) -> None:
    call = assess_myeloma(a, BASE)
    assert call.category == want, call.reasons
    assert "IMWG" in call.source


NADIR = mm(serum_m=2.0, urine_m=400, marrow_plasma_cells=10, flc_kappa=110, flc_lambda=10)

PD_ROWS = [
    ("serum +0.5 (25%)", mm(serum_m=2.5, urine_m=400, marrow_plasma_cells=10, flc_kappa=110), True),
    ("serum +0.49", mm(serum_m=2.49, urine_m=400, marrow_plasma_cells=10, flc_kappa=110), False),
    ("urine +200 (50%)", mm(serum_m=2.0, urine_m=600, marrow_plasma_cells=10, flc_kappa=110), True),
    ("urine +199", mm(serum_m=2.0, urine_m=599, marrow_plasma_cells=10, flc_kappa=110), False),
    (
        "dFLC +101 mg/L ignored: serum M-protein measurable",
        mm(serum_m=2.0, urine_m=400, marrow_plasma_cells=10, flc_kappa=211),
        False,
    ),
    (
        "marrow PC +10% ignored: serum M-protein measurable",
        mm(serum_m=2.0, urine_m=400, marrow_plasma_cells=20, flc_kappa=110),
        False,
    ),
    (
        "new lesion",
        mm(serum_m=2.0, urine_m=400, marrow_plasma_cells=10, flc_kappa=110, new_lesion=True),
        True,
    ),
]


@pytest.mark.parametrize(("label", "a", "pd"), PD_ROWS, ids=[r[0] for r in PD_ROWS])
def test_imwg_progression(label: str, a: MyelomaAssessment, pd: bool) -> None:
    call = assess_myeloma(a, BASE, nadir=NADIR)
    assert (call.category == RC.PD) is pd, call.reasons


@pytest.mark.parametrize(("serum", "pd"), [(6.59, False), (6.6, True), (7.0, True)])
def test_imwg_high_nadir_needs_one_gram(serum: float, pd: bool) -> None:
    # Durie 2006 / IMWG 2016: from a lowest value >= 5 g/dL, +1 g/dL is sufficient (6.6 is
    # +1.0 g/dL but only +18 % from 5.6)
    nadir = mm(serum_m=5.6)  # the lowest value (baseline 6.0 g/dL): >= 5 g/dL needs +1 g/dL
    call = assess_myeloma(mm(serum_m=serum), mm(serum_m=6.0), nadir=nadir)
    assert (call.category == RC.PD) is pd


def _c(cat: object) -> ResponseCall:
    return ResponseCall(cat, (), "IMWG")


@pytest.mark.parametrize(
    ("seq", "want"),
    [
        ([RC.VGPR], None),
        ([RC.VGPR, RC.PR], RC.PR),
        ([RC.PR, RC.VGPR, RC.VGPR], RC.VGPR),
        ([RC.CR, RC.PR, RC.CR], RC.PR),
        ([RC.PR, RC.PD, RC.PR], None),
        ([RC.PR, RC.PD, RC.PR, RC.PR], RC.PR),
        ([RC.PR, RC.PR, RC.PD, RC.PD], RC.PD),
        (["MR", RC.SD], RC.SD),
    ],
)
def test_imwg_confirmation(seq: list, want: object) -> None:
    got = confirm_imwg([_c(s) for s in seq])
    if want is None:
        assert got is None
    else:
        assert got is not None and got.category == want


def test_mr_registry_category() -> None:
    assert _c("MR").registry_category == RC.SD
    assert _c("no_response").registry_category is None


# IMWG 2016 Table 3, PD: "Serum M-protein (absolute increase must be >= 0.5 g/dL)" with a
# >= 25 % increase from the lowest value — compared at the reported precision (0.9 -> 1.4 is
# exactly +0.5 g/dL although 1.4 - 0.9 == 0.49999999999999994 in binary floating point).
@pytest.mark.parametrize(
    ("nadir", "now", "pd"),
    [(0.9, 1.4, True), (0.9, 1.39, False), (0.2, 0.7, True), (0.2, 0.69, False),
     (1.1, 1.6, True), (0.3, 0.8, True)],
)  # fmt: skip
def test_imwg_pd_serum_plus_half_gram_at_reported_precision(
    nadir: float, now: float, pd: bool
) -> None:
    base = MyelomaAssessment(serum_m=3.0)
    call = assess_myeloma(MyelomaAssessment(serum_m=now), base, MyelomaAssessment(serum_m=nadir))
    assert (call.category == RC.PD) is pd, call.reasons


# IMWG 2016 Table 3, MR: ">= 25 % but <= 49 % reduction of serum M-protein" — 1.2 -> 0.9 is
# exactly -25 % (0.9 / 1.2 == 0.7500000000000001 in floating point).
@pytest.mark.parametrize(
    ("base", "now", "want"),
    [(1.2, 0.9, "MR"), (1.2, 0.91, RC.SD), (3.3, 2.475, "MR"), (1.4, 0.7, RC.PR),
     (1.4, 0.71, "MR"), (2.3, 0.23, RC.VGPR), (2.3, 0.24, RC.PR)],
)  # fmt: skip
def test_imwg_reductions_at_reported_precision(base: float, now: float, want: object) -> None:
    call = assess_myeloma(MyelomaAssessment(serum_m=now), MyelomaAssessment(serum_m=base))
    assert call.category == want, call.reasons


# IMWG 2016 Table 3, PD: dFLC "In patients without measurable serum and urine M-protein levels"
# (absolute increase > 10 mg/dL); marrow plasma cells "In patients without measurable serum and
# urine M-protein levels and without measurable involved FLC levels" (absolute increase >= 10 %).
# Measurable: serum M >= 1 g/dL, urine M >= 200 mg/24 h, involved FLC >= 100 mg/L, abnormal ratio.
@pytest.mark.parametrize(
    ("serum", "urine", "pd"),
    [(1.0, None, False), (0.9, None, True), (None, 200, False), (None, 199, True)],
)
def test_imwg_pd_dflc_only_without_measurable_m_protein(
    serum: float | None, urine: float | None, pd: bool
) -> None:
    base = MyelomaAssessment(
        serum_m=serum, urine_m=urine, flc_kappa=300, flc_lambda=10, involved_light_chain="kappa"
    )
    nadir = MyelomaAssessment(
        serum_m=serum, urine_m=urine, flc_kappa=110, flc_lambda=10, involved_light_chain="kappa"
    )
    for kappa, rises in ((211, True), (210, False)):  # dFLC +101 vs +100 mg/L (> 100 needed)
        now = MyelomaAssessment(
            serum_m=serum, urine_m=urine, flc_kappa=kappa, flc_lambda=10,
            involved_light_chain="kappa",
        )  # fmt: skip
        call = assess_myeloma(now, base, nadir)
        assert (call.category == RC.PD) is (pd and rises), call.reasons


@pytest.mark.parametrize(
    ("kappa", "lam", "pd"),
    [(100, 10, False), (99, 10, True), (150, 100, True)],  # measurable FLC / not / normal ratio
)
def test_imwg_pd_marrow_plasma_cells_only_without_measurable_flc(
    kappa: float, lam: float, pd: bool
) -> None:
    def at(pc: float) -> MyelomaAssessment:
        return MyelomaAssessment(
            serum_m=0.4, urine_m=50, flc_kappa=kappa, flc_lambda=lam,
            involved_light_chain="kappa", marrow_plasma_cells=pc,
        )  # fmt: skip

    for pc, rises in ((30.0, True), (29.9, False)):  # +10 % vs +9.9 % from 20 %
        call = assess_myeloma(at(pc), at(40.0), at(20.0))
        assert (call.category == RC.PD) is (pd and rises), call.reasons


def test_imwg_unknown_light_chain_is_refused() -> None:
    with pytest.raises(ValidationError, match="involved_light_chain"):
        assess_myeloma(MyelomaAssessment(serum_m=1, involved_light_chain="gamma"), BASE)


# ELN 2022 Table 6 counts are in 10⁹/L (CR: ANC >= 1.0, platelets >= 100). An ANC of 800 or
# platelets of 90000 are cells/µL: read as 10⁹/L they would turn a CRh into a CR. Values outside
# the plausible 10⁹/L range (analytes.yaml: ANC <= 200, platelets <= 3000) are refused.
@pytest.mark.parametrize(("anc", "plt", "field"), [(800, 150, "anc"), (1.5, 90000, "platelets")])
def test_eln2022_counts_must_be_in_1e9_per_l(anc: float, plt: float, field: str) -> None:
    with pytest.raises(ValidationError) as ei:
        assess_aml(aml(anc=anc, plt=plt))
    assert ei.value.field == field


def test_eln2022_counts_at_plausible_limit_accepted() -> None:
    assert assess_aml(aml(anc=200, plt=3000)).category == RC.CR


# IMWG 2016 (Kumar 2016, Table 3) PD: "Increase of 25% from lowest confirmed response value in one
# or more of the following criteria: … Urine M-protein (absolute increase must be ≥200 mg/24 h)".
# The reference is per marker: a nadir row that did not measure the urine must not hide a urine
# progression (the baseline urine value is then the lowest known value).
def test_imwg_pd_reference_is_per_marker_when_nadir_lacks_it() -> None:
    base = MyelomaAssessment(serum_m=0.4, urine_m=800)
    nadir = MyelomaAssessment(serum_m=0.2)  # urine not measured at the nadir visit
    now = MyelomaAssessment(serum_m=0.2, urine_m=1200)
    call = assess_myeloma(now, base, nadir)
    assert call.category == RC.PD, call.reasons
    # one step below the rule: +199 mg/24 h is not PD
    below = assess_myeloma(MyelomaAssessment(serum_m=0.2, urine_m=999), base, nadir)
    assert below.category != RC.PD


# "lowest confirmed response value": a nadir row higher than the baseline for a marker is not the
# lowest value; progression is measured from the lower of the two (the safer reading).
def test_imwg_pd_reference_is_the_lowest_of_baseline_and_nadir() -> None:
    base = MyelomaAssessment(serum_m=1.0)
    nadir = MyelomaAssessment(serum_m=1.2)
    assert assess_myeloma(MyelomaAssessment(serum_m=1.5), base, nadir).category == RC.PD
    assert assess_myeloma(MyelomaAssessment(serum_m=1.4), base, nadir).category != RC.PD


# IMWG 2016 PD: "Increase of 25% from lowest confirmed response value in one or more of the
# following criteria: … bone marrow plasma-cell percentage irrespective of baseline status
# (absolute increase must be ≥10%)" — both the +25 % and the +10 points are needed
# (non-secretory disease: no measurable M-protein or FLC at baseline).
@pytest.mark.parametrize(("now", "pd"), [(59.9, False), (62.4, False), (62.5, True)])
def test_imwg_pd_marrow_plasma_cells_needs_25_pct_and_10_points(now: float, pd: bool) -> None:
    base = MyelomaAssessment(marrow_plasma_cells=70)
    nadir = MyelomaAssessment(marrow_plasma_cells=50)
    call = assess_myeloma(MyelomaAssessment(marrow_plasma_cells=now), base, nadir)
    assert (call.category == RC.PD) is pd, call.reasons


# IMWG 2016 PR: "≥50% reduction of serum M-protein plus reduction in 24 h urinary M-protein by
# ≥90% or to <200 mg per 24 h" — judged on the markers measurable at baseline (serum ≥ 1 g/dL,
# urine ≥ 200 mg/24 h). Urine-only (Bence Jones) disease responds by urine alone.
@pytest.mark.parametrize(("urine", "cat"), [(199, RC.PR), (100, RC.PR), (99, RC.VGPR),
                                            (1000, "MR"), (1001, RC.SD)])  # fmt: skip
def test_imwg_urine_only_disease_responds_by_urine(urine: float, cat: object) -> None:
    base = MyelomaAssessment(serum_m=0.0, urine_m=2000)
    call = assess_myeloma(MyelomaAssessment(serum_m=0.0, urine_m=urine), base)
    assert call.category == cat, call.reasons


# A marker measurable at baseline that was not measured now cannot support a response.
def test_imwg_measurable_urine_not_measured_gives_no_response() -> None:
    base = MyelomaAssessment(serum_m=2.0, urine_m=800)
    call = assess_myeloma(MyelomaAssessment(serum_m=0.8), base)
    assert call.category == RC.SD and "urine_m" in call.reasons[0]


# Non-measurable serum M-protein (< 1 g/dL) is not a response marker: 0.6 -> 0.2 with an unchanged
# measurable urine is no PR.
def test_imwg_non_measurable_serum_is_not_a_response_marker() -> None:
    base = MyelomaAssessment(serum_m=0.6, urine_m=800)
    assert assess_myeloma(MyelomaAssessment(serum_m=0.2, urine_m=790), base).category == RC.SD


# "If serum and urine M-protein are unmeasurable, and serum free light assay is also unmeasurable,
# ≥50% reduction in plasma cells is required in place of M-protein, provided baseline bone marrow
# plasma-cell percentage was ≥30%".
@pytest.mark.parametrize(("base_pc", "now", "cat"), [(30, 15, RC.PR), (30, 15.1, RC.SD),
                                                     (29.9, 10, RC.SD)])  # fmt: skip
def test_imwg_non_secretory_pr_by_marrow_plasma_cells(
    base_pc: float, now: float, cat: object
) -> None:
    base = MyelomaAssessment(marrow_plasma_cells=base_pc)
    call = assess_myeloma(MyelomaAssessment(marrow_plasma_cells=now), base)
    assert call.category == cat, call.reasons
