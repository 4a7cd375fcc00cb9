"""Course calendars, infusion window limits, next-course windows and the two-induction rule."""

from __future__ import annotations

import datetime as dt

import pytest

from mst.domain import CourseKind
from mst.errors import ValidationError
from mst.protocol.catalog import get_regimen, load_catalog
from mst.protocol.dosing import course_doses
from mst.protocol.schedule import check_infusion, course_calendar, infusion_window, next_step

D = dt.date
START = D(2026, 12, 1)

# regimen, last chemo date, clock date (last clock-drug dose), next-course window (earliest, latest)
# induction: first consolidation 4-6 weeks after the end of induction (004 §5);
# consolidation: 8-12 weeks (4-6 for venetoclax + HMA) after day 1 (004 §5); 002: 12-14 weeks.
CALENDAR_TABLE = [
    ("004-4.1-DA60", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 4), D(2027, 1, 18)),
    ("004-4.1-IA12", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 4), D(2027, 1, 18)),
    ("004-4.1-MA12", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 4), D(2027, 1, 18)),
    ("004-4.1-VEN-AZA", D(2026, 12, 28), D(2026, 12, 7), D(2027, 1, 25), D(2027, 2, 8)),
    ("004-4.1-VEN-AZA-5+2", D(2026, 12, 28), D(2026, 12, 9), D(2027, 1, 25), D(2027, 2, 8)),
    ("004-4.1-VEN-DEC", D(2026, 12, 28), D(2026, 12, 5), D(2027, 1, 25), D(2027, 2, 8)),
    ("004-4.1-CPX351", D(2026, 12, 5), D(2026, 12, 5), D(2027, 1, 2), D(2027, 1, 16)),
    ("004-4.2-VEN-AZA", D(2026, 12, 28), D(2026, 12, 7), D(2027, 1, 25), D(2027, 2, 8)),
    ("004-4.2-VEN-AZA5", D(2026, 12, 28), D(2026, 12, 5), D(2027, 1, 25), D(2027, 2, 8)),
    ("004-4.2-VEN-DEC", D(2026, 12, 28), D(2026, 12, 5), D(2027, 1, 25), D(2027, 2, 8)),
    ("004-4.2-DA-RI", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 4), D(2027, 1, 18)),
    ("004-4.2-DA-RI-A5", D(2026, 12, 5), D(2026, 12, 5), D(2027, 1, 2), D(2027, 1, 16)),
    ("004-4.2-IA-RI", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 4), D(2027, 1, 18)),
    ("004-4.2-IA-RI-A5", D(2026, 12, 5), D(2026, 12, 5), D(2027, 1, 2), D(2027, 1, 16)),
    ("004-4.2-MA-RI", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 4), D(2027, 1, 18)),
    ("004-4.2-MA-RI-A5", D(2026, 12, 5), D(2026, 12, 5), D(2027, 1, 2), D(2027, 1, 16)),
    ("004-5.1-IDAC", D(2026, 12, 3), D(2026, 12, 3), D(2027, 1, 26), D(2027, 2, 23)),
    ("004-5.1-DA60", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 26), D(2027, 2, 23)),
    ("004-5.1-IA12", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 26), D(2027, 2, 23)),
    ("004-5.1-MA12", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 26), D(2027, 2, 23)),
    ("004-5.2-VEN-AZA", D(2026, 12, 28), D(2026, 12, 7), D(2026, 12, 29), D(2027, 1, 12)),
    ("004-5.2-VEN-AZA-5+2", D(2026, 12, 28), D(2026, 12, 9), D(2026, 12, 29), D(2027, 1, 12)),
    ("004-5.2-VEN-DEC", D(2026, 12, 28), D(2026, 12, 5), D(2026, 12, 29), D(2027, 1, 12)),
    ("004-5.2-IDAC", D(2026, 12, 3), D(2026, 12, 3), D(2027, 1, 26), D(2027, 2, 23)),
    ("002-IA", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 4), D(2027, 1, 18)),
    ("002-MA", D(2026, 12, 7), D(2026, 12, 7), D(2027, 1, 4), D(2027, 1, 18)),
    ("002-IDAC", D(2026, 12, 3), D(2026, 12, 3), D(2027, 2, 23), D(2027, 3, 9)),
]


def test_calendar_table_covers_every_regimen() -> None:
    assert {row[0] for row in CALENDAR_TABLE} == set(load_catalog())


@pytest.mark.parametrize("rid,last_chemo,clock,nxt_lo,nxt_hi", CALENDAR_TABLE)
def test_calendar_dates(rid, last_chemo, clock, nxt_lo, nxt_hi) -> None:
    cal = course_calendar(get_regimen(rid), START)
    assert cal.last_chemo_date == last_chemo
    w = cal.infusion
    assert w.last_dose_at == dt.datetime.combine(clock, dt.time(12))
    assert w.earliest == w.last_dose_at + dt.timedelta(hours=24)
    assert w.preferred_latest == w.last_dose_at + dt.timedelta(hours=48)
    assert w.latest == w.last_dose_at + dt.timedelta(hours=96)
    assert w.sources == ("004 §4.3", "004 §5")
    assert (cal.next_course.earliest, cal.next_course.latest) == (nxt_lo, nxt_hi)
    assert cal.days[0].date == START and cal.days[-1].day == len(cal.days)


def test_vignette_002_ia_day_by_day() -> None:
    r = get_regimen("002-IA")
    doses = course_doses(r, 165, 60, dose_choices={"idarubicin": 10, "cytarabine": 100})
    cal = course_calendar(r, START, doses=doses, last_dose_time=dt.time(18, 0))
    by_date = {d.date: [e.text for e in d.entries] for d in cal.days}
    assert by_date[D(2026, 12, 1)] == [
        "idarubicin 17 mg (10 mg/m2) IV",
        "cytarabine 166 mg (100 mg/m2) IV",
    ]
    assert by_date[D(2026, 12, 4)] == ["cytarabine 166 mg (100 mg/m2) IV"]
    assert by_date[D(2026, 12, 8)][0].startswith("GPBSC infusion window opens 18:00")
    assert by_date[D(2026, 12, 9)][0].startswith("GPBSC infusion preferred by 18:00")
    assert "(warning: > 48 h)" in by_date[D(2026, 12, 10)][0]
    assert by_date[D(2026, 12, 11)][0].startswith("last moment for GPBSC infusion 18:00 (96 h)")
    assert by_date[D(2026, 12, 12)] == []
    assert by_date[D(2026, 12, 14)] == ["blood counts (count recovery)"]
    assert len(by_date[D(2026, 12, 28)]) == 2
    assert cal.course_kind is CourseKind.INDUCTION
    codes = [n.code for n in cal.notes]
    assert codes == ["seed_protocol_infusion", "two_induction_rule", "reassess_fitness_after_cr"]


def test_calendar_without_doses_shows_unit_doses() -> None:
    cal = course_calendar(get_regimen("004-5.1-IDAC"), START)
    assert cal.days[0].entries[0].text == "cytarabine 500–1000 mg/m2 IV q12h"
    assert cal.course_kind is CourseKind.CONSOLIDATION


def test_calendar_unchosen_range_is_marked() -> None:
    r = get_regimen("004-4.2-IA-RI")
    cal = course_calendar(r, START, doses=course_doses(r, 170, 70))
    assert cal.days[0].entries[0].text == "idarubicin 15–22 mg (8–12 mg/m2) IV — dose to choose"


@pytest.mark.parametrize(
    "rid,kind,number",
    [("002-IA", "consolidation", 1), ("002-IDAC", "induction", 1), ("002-IDAC", "reinduction", 2),
     ("002-IA", "induction", 0)],
)  # fmt: skip
def test_calendar_bad_kind_or_number(rid: str, kind: str, number: int) -> None:
    with pytest.raises(ValidationError):
        course_calendar(get_regimen(rid), START, kind=kind, course_number=number)


def test_calendar_rejects_doses_of_another_regimen() -> None:
    doses = course_doses(get_regimen("002-MA"), 170, 70)
    with pytest.raises(ValidationError, match="another regimen"):
        course_calendar(get_regimen("002-IA"), START, doses=doses)


LAST = dt.datetime(2026, 12, 7, 12, 0)
H = dt.timedelta(hours=1)
INFUSION_TABLE = [  # hours after the last dose -> status, level (004 §4.3, §5)
    (1, "early", "warning"),
    (23.99, "early", "warning"),
    (24, "preferred", "info"),
    (36, "preferred", "info"),
    (48, "preferred", "info"),
    (48.01, "delayed", "warning"),
    (72, "delayed", "warning"),
    (96, "delayed", "warning"),
    (96.01, "outside_consensus", "outside_consensus"),
    (120, "outside_consensus", "outside_consensus"),
]


@pytest.mark.parametrize("hours,status,level", INFUSION_TABLE)
def test_infusion_limits(hours: float, status: str, level: str) -> None:
    c = check_infusion(LAST, LAST + hours * H)
    assert (c.status, c.note.level) == (status, level)
    assert c.hours_after_last_dose == pytest.approx(hours)
    assert "004 §4.3" in c.note.sources
    if status != "preferred":
        assert "004 §2.2" in c.note.sources


@pytest.mark.parametrize("hours", [0, -5])
def test_infusion_before_last_dose_rejected(hours: float) -> None:
    with pytest.raises(ValidationError):
        check_infusion(LAST, LAST + hours * H)


def test_infusion_window_values() -> None:
    w = infusion_window(LAST, ("cytarabine",))
    assert (w.earliest, w.preferred_latest, w.latest) == (
        LAST + 24 * H,
        LAST + 48 * H,
        LAST + 96 * H,
    )


# Two-induction rule (004 §4.3): responses after each induction -> next step
NEXT_STEP_TABLE = [
    ([], "induction"),
    ([None], "await_response"),
    (["CR"], "consolidation"),
    (["CRi"], "consolidation"),
    (["CRh"], "consolidation"),
    (["CR_MRD-"], "consolidation"),
    (["PR"], "second_induction"),
    (["refractory"], "second_induction"),
    (["MLFS"], "second_induction"),
    (["PR", None], "await_response"),
    (["PR", "CR"], "consolidation"),
    (["PR", "CRi"], "consolidation"),
    (["PR", "PR"], "treatment_failure"),
    (["refractory", "MLFS"], "treatment_failure"),
]


@pytest.mark.parametrize("responses,step", NEXT_STEP_TABLE)
def test_two_induction_rule(responses: list, step: str) -> None:
    ns = next_step(responses)
    assert ns.step == step
    if step in ("second_induction", "treatment_failure"):
        assert ns.note.sources == ("004 §4.3",)


@pytest.mark.parametrize("responses", [["PR", "PR", "CR"], ["CR", "PR"], [None, "CR"]])
def test_two_induction_rule_rejects(responses: list) -> None:
    with pytest.raises(ValidationError):
        next_step(responses)


# 004 §4.3 / §5: "GPBSCs should be infused within 24–48 h after completion of chemotherapy …
# If necessary, the GPBSC infusion can be delayed up to 96 h" (004 §2.2: "96 h or longer in special
# circumstances"). Boundaries at the second: 24 h and 48 h and 96 h are inside their band.
@pytest.mark.parametrize(
    ("delta", "status", "shown"),
    [(dt.timedelta(hours=24) - dt.timedelta(seconds=1), "early", "23 h 59 min 59 s"),
     (dt.timedelta(hours=24), "preferred", "24 h"),
     (dt.timedelta(hours=48), "preferred", "48 h"),
     (dt.timedelta(hours=48, minutes=1), "delayed", "48 h 1 min"),
     (dt.timedelta(hours=96), "delayed", "96 h"),
     (dt.timedelta(hours=96, seconds=1), "outside_consensus", "96 h 0 min 1 s")],
)  # fmt: skip
def test_infusion_window_24_48_96_h_boundaries_004_4_3(
    delta: dt.timedelta, status: str, shown: str
) -> None:
    last = dt.datetime(2026, 12, 7, 18, 0)
    c = check_infusion(last, last + delta)
    assert c.status == status
    assert c.note.message.startswith(f"infusion {shown} after the last dose")
    if status == "outside_consensus":
        assert "special circumstances" in c.note.message
