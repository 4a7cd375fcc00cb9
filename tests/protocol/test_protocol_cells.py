"""Cell dose targets (004 §2.2: MNC 2.5 and CD3+ 1 × 10⁸/kg ± 25%) and collection plans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.errors import ValidationError
from mst.protocol.cells import check_cell_dose, collection_plan

BOUNDS = [
    ("mnc", 1.874, "below"), ("mnc", 1.875, "within"), ("mnc", 2.5, "within"),
    ("mnc", 3.125, "within"), ("mnc", 3.126, "above"),
    ("cd3", 0.749, "below"), ("cd3", 0.75, "within"), ("cd3", 1.0, "within"),
    ("cd3", 1.25, "within"), ("cd3", 1.251, "above"),
]  # fmt: skip


@pytest.mark.parametrize("marker,dose,status", BOUNDS)
def test_cell_dose_bounds(marker: str, dose: float, status: str) -> None:
    assert check_cell_dose(marker, dose).status == status


# weight, mnc total, cd3 total (× 10⁸), courses -> covered, at target, second donor,
# per-aliquot MNC and CD3 per kg, spare fraction
PLAN_TABLE = [
    # exactly three target doses in a 60 kg patient, one spare quarter
    (60, 600, 240, 3, 3, 4, False, 2.5, 1.0, 0.25),
    # four courses wanted: a fourth at target fits exactly
    (60, 600, 240, 4, 4, 4, False, 2.5, 1.0, 0.0),
    # five courses: even split gives 2.0 / 0.8 per kg, inside -25%
    (60, 600, 240, 5, 5, 4, False, 2.0, 0.8, 0.0),
    # 004 §2.2 "MNC 2.5 ± 25% × 10^8/kg and/or CD3+ 1 ± 25%": six courses wanted; five
    # aliquots of 20% (2.0 / 0.8 per kg) stay within -25%, a sixth would not (1.67 < 1.875):
    # five courses covered, second donor for the sixth
    (60, 600, 240, 6, 5, 4, True, 2.0, 0.8, 0.0),
    # CD3-poor: CD3 1.0/kg would need MNC 3.33 > 3.125, so the aliquot stops at MNC +25%
    # (3.125) with CD3 0.9375
    (70, 700, 210, 3, 3, 3, False, 3.125, 0.9375, 0.0625),
]


@pytest.mark.parametrize(
    "w,mnc,cd3,courses,covered,at_target,second,mnc_kg,cd3_kg,spare", PLAN_TABLE
)
def test_collection_plan(
    w, mnc, cd3, courses, covered, at_target, second, mnc_kg, cd3_kg, spare
) -> None:
    p = collection_plan(w, mnc_total_1e8=mnc, cd3_total_1e8=cd3, courses=courses)
    assert p.courses_covered == covered
    assert p.courses_at_target == at_target
    assert p.second_donor_needed is second
    assert p.aliquots[0].mnc_1e8_per_kg == pytest.approx(mnc_kg, abs=1e-3)
    assert p.aliquots[0].cd3_1e8_per_kg == pytest.approx(cd3_kg, abs=1e-3)
    assert p.spare_fraction == pytest.approx(spare, abs=1e-6)
    assert [a.product.value for a in p.aliquots] == ["fresh"] + ["cryopreserved"] * (covered - 1)
    assert p.courses_needing_second_donor == tuple(range(covered + 1, courses + 1))
    assert all(a.mnc_status == "within" and a.cd3_status == "within" for a in p.aliquots)


def test_courses_covered_are_maximised_within_minus_25_pct() -> None:
    # 60 kg, MNC only: target 150 per course, lower bound 112.5 (004 §2.2 "2.5 ± 25%")
    p = collection_plan(60, mnc_total_1e8=500, courses=6)  # 500 / 112.5 = 4.44 -> 4 courses
    assert p.basis == "mnc" and p.courses_covered == 4 and p.second_donor_needed
    assert p.aliquots[0].mnc_1e8_per_kg == pytest.approx(500 / 4 / 60, abs=1e-4)
    assert p.courses_needing_second_donor == (5, 6)
    # both sides of five covered courses: 562.5 / 5 = 112.5 exactly; 562.4 / 5 < 112.5
    assert collection_plan(60, mnc_total_1e8=562.5, courses=6).courses_covered == 5
    assert collection_plan(60, mnc_total_1e8=562.4, courses=6).courses_covered == 4
    q = collection_plan(60, mnc_total_1e8=570, courses=6)
    assert q.courses_covered == 5 and q.aliquots[-1].mnc_1e8_per_kg == pytest.approx(1.9)
    assert all(a.mnc_status == "within" for a in q.aliquots)


def test_collection_too_small_for_one_course() -> None:
    p = collection_plan(80, mnc_total_1e8=100, courses=1)
    assert p.courses_covered == 0 and p.second_donor_needed and p.aliquots == ()


def test_even_split_boundary() -> None:
    # 60 kg, 5 courses: 562.5 / 5 = 112.5 per course = exactly 1.875/kg -> all five covered
    assert collection_plan(60, mnc_total_1e8=562.5, courses=5).courses_covered == 5
    assert collection_plan(60, mnc_total_1e8=562.4, courses=5).courses_covered == 4


def test_cd3_only_and_second_donor_note() -> None:
    p = collection_plan(50, cd3_total_1e8=60, courses=2)
    assert p.basis == "cd3" and p.courses_covered == 1
    assert p.aliquots[0].mnc_1e8_per_kg is None
    note = next(n for n in p.notes if n.code == "second_donor_needed")
    assert note.sources == ("004 §2.2",) and "course(s) 2" in note.message


def test_incompatible_markers_fall_back_to_mnc() -> None:
    # CD3 share so high that any MNC-compatible aliquot overdoses CD3 by > 25%
    p = collection_plan(60, mnc_total_1e8=600, cd3_total_1e8=600, courses=1)
    assert "markers_incompatible" in [n.code for n in p.notes]
    assert p.aliquots[0].mnc_1e8_per_kg == pytest.approx(2.5)
    assert p.aliquots[0].cd3_status == "above"


@pytest.mark.parametrize(
    "kwargs,field",
    [({"weight_kg": 0, "mnc_total_1e8": 100}, "weight_kg"),
     ({"weight_kg": 60}, "mnc_total_1e8"),
     ({"weight_kg": 60, "mnc_total_1e8": -1}, "mnc_total_1e8"),
     ({"weight_kg": 60, "mnc_total_1e8": 100, "courses": 0}, "courses"),
     ({"weight_kg": 60, "mnc_total_1e8": 100, "basis": "cd3"}, "cd3_total_1e8")],
)  # fmt: skip
def test_bad_input(kwargs: dict, field: str) -> None:
    weight = kwargs.pop("weight_kg")
    with pytest.raises(ValidationError) as exc:
        collection_plan(weight, **kwargs)
    assert exc.value.field == field


@settings(deadline=None, derandomize=True)
@given(st.floats(30, 150), st.floats(10, 3000), st.floats(5, 1500), st.integers(1, 12))
def test_plan_invariants(w: float, mnc: float, cd3: float, courses: int) -> None:
    p = collection_plan(w, mnc_total_1e8=mnc, cd3_total_1e8=cd3, courses=courses)
    assert sum(a.fraction for a in p.aliquots) <= 1 + 1e-5
    assert p.courses_covered == len(p.aliquots) <= courses
    assert p.second_donor_needed == (p.courses_covered < courses)
    assert all(a.mnc_status == "within" for a in p.aliquots)


# 004 §2.2 doses are × 10⁸ cells per kg of the patient's weight. A weight outside the patient
# model's range (25–250 kg; pounds, grams) or a collection total that is not in units of 10⁸ cells
# (6e12 absolute cells entered as "× 10⁸") would give a meaningless plan: refused, naming the unit.
@pytest.mark.parametrize(
    ("weight", "mnc", "cd3", "field"),
    [(24.9, 600, None, "weight_kg"), (250.1, 600, None, "weight_kg"),
     (60, 100_001, None, "mnc_total_1e8"), (60, None, 50_001, "cd3_total_1e8")],
)  # fmt: skip
def test_collection_plan_refuses_implausible_units_004_2_2(
    weight: float, mnc: float | None, cd3: float | None, field: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        collection_plan(weight, mnc_total_1e8=mnc, cd3_total_1e8=cd3)
    assert exc.value.field == field


@pytest.mark.parametrize(("weight", "mnc", "cd3"), [(25, 100_000, None), (250, None, 50_000)])
def test_collection_plan_accepts_the_plausible_limits(
    weight: float, mnc: float | None, cd3: float | None
) -> None:
    assert collection_plan(weight, mnc_total_1e8=mnc, cd3_total_1e8=cd3).courses_covered == 1
