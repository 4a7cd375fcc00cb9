"""Course calendars, the GPBSC infusion window and the course-sequence rules.

* Infusion: 24–48 h after the last dose of the clock drug (cytarabine,
  decitabine or azacitidine; CPX-351), delay allowed up to 96 h (004 §4.3, §5);
  004 §2.2 words it "usually within 24–72 h … can be delayed to 96 h".
* Next course: first consolidation about 4–6 weeks after induction ends; later
  consolidations 8–12 weeks (4–6 weeks for venetoclax + HMA) after the first
  day of the previous one (004 §5); seed 002 spaced its courses ~3 months.
* Induction: a second induction with the same regimen if no CR/CRi after the
  first; no CR/CRi after two = treatment failure (004 §4.3).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mst.domain import CourseKind, ResponseCategory
from mst.errors import ValidationError
from mst.protocol._data import rules
from mst.protocol.catalog import Phase, Regimen, parse_days
from mst.protocol.dosing import CourseDoses, DoseLine
from mst.protocol.notes import Note

InfusionStatus = Literal["early", "preferred", "delayed", "outside_consensus"]


def _window_rule() -> dict:
    return rules()["infusion_window"]


class InfusionWindow(BaseModel):
    """When the GPBSC infusion may be given, counted from the last clock-drug dose."""

    model_config = ConfigDict(frozen=True)

    clock_drugs: tuple[str, ...]
    last_dose_at: dt.datetime
    earliest: dt.datetime
    preferred_latest: dt.datetime
    latest: dt.datetime
    sources: tuple[str, ...]
    last_dose_time_assumed: bool = False
    if_midnight_end: InfusionWindow | None = None

    def line(self) -> str:
        """The window in words, saying when the last-dose time was assumed."""
        f = "%Y-%m-%d %H:%M"
        text = (
            f"GPBSC infusion: from {self.earliest:{f}}, preferably by "
            f"{self.preferred_latest:{f}}, at the latest {self.latest:{f}} "
            f"({'; '.join(self.sources)})"
        )
        m = self.if_midnight_end
        if self.last_dose_time_assumed and m is not None:
            text += (
                f" — ASSUMED last dose at {self.last_dose_at:%H:%M} (plan.last_dose_time not "
                f"given); if the last dose is a 24-h continuous infusion ending at midnight the "
                f"window is from {m.earliest:{f}}, preferably by {m.preferred_latest:{f}}, at the "
                f"latest {m.latest:{f}}"
            )
        return text


ASSUMED_LAST_DOSE_TIME = dt.time(12, 0)


def infusion_window(last_dose_at: dt.datetime, clock_drugs: tuple[str, ...] = ()) -> InfusionWindow:
    """The consensus infusion window after the last dose of the clock drug.

    Parameters
    ----------
    last_dose_at : datetime.datetime
        Time of the last dose of cytarabine, decitabine, azacitidine (or CPX-351).
    clock_drugs : tuple of str
        For display: which drugs start the clock.

    Returns
    -------
    InfusionWindow
        earliest = +24 h, preferred_latest = +48 h, latest = +96 h (004 §4.3, §5).
    """
    w = _window_rule()
    h = dt.timedelta(hours=1)
    return InfusionWindow(
        clock_drugs=clock_drugs,
        last_dose_at=last_dose_at,
        earliest=last_dose_at + w["earliest_h"] * h,
        preferred_latest=last_dose_at + w["preferred_latest_h"] * h,
        latest=last_dose_at + w["latest_h"] * h,
        sources=tuple(w["sources"]),
    )


class InfusionCheck(BaseModel):
    """Judgement of an (actual or planned) infusion time."""

    model_config = ConfigDict(frozen=True)

    hours_after_last_dose: float
    status: InfusionStatus
    note: Note


def _hours(hours: float) -> str:
    """``23 h 59 min`` rather than ``23.9833 h``."""
    h, rem = divmod(round(hours * 3600), 3600)
    m, sec = divmod(rem, 60)
    return " ".join([f"{h} h"] + ([f"{m} min"] if m or sec else []) + ([f"{sec} s"] if sec else []))


def check_infusion(last_dose_at: dt.datetime, infused_at: dt.datetime) -> InfusionCheck:
    """Classify an infusion time against the consensus window.

    Parameters
    ----------
    last_dose_at : datetime.datetime
        Last dose of the clock drug.
    infused_at : datetime.datetime
        Infusion time.

    Returns
    -------
    InfusionCheck
        ``preferred`` for 24–48 h inclusive; ``delayed`` (warning) for more than
        48 h up to 96 h inclusive; ``outside_consensus`` beyond 96 h;
        ``early`` (warning) before 24 h.

    Raises
    ------
    mst.errors.ValidationError
        If the infusion is not after the last dose.
    """
    w = _window_rule()
    hours = (infused_at - last_dose_at).total_seconds() / 3600.0
    if hours <= 0:
        raise ValidationError(
            "infused_at", infused_at.isoformat(), "must be after the last chemotherapy dose"
        )
    srcs = tuple(w["sources"])
    both = (*srcs, w["section_2_2"]["source"])
    if hours < w["earliest_h"]:
        status: InfusionStatus = "early"
        note = Note(
            level="warning",
            code="infusion_early",
            message=(
                f"infusion {_hours(hours)} after the last dose: "
                "earlier than the 24 h the consensus gives"
            ),
            sources=both,
        )
    elif hours <= w["preferred_latest_h"]:
        status = "preferred"
        note = Note(
            level="info",
            code="infusion_in_window",
            message=f"infusion {_hours(hours)} after the last dose: within the preferred 24–48 h",
            sources=srcs,
        )
    elif hours <= w["latest_h"]:
        status = "delayed"
        note = Note(
            level="warning",
            code="infusion_delayed",
            message=(
                f"infusion {_hours(hours)} after the last dose: beyond the preferred 48 h "
                "(allowed 'if necessary' up to 96 h; 004 §2.2 says usually 24–72 h)"
            ),
            sources=both,
        )
    else:
        status = "outside_consensus"
        note = Note(
            level="outside_consensus",
            code="infusion_outside_window",
            message=(
                f"infusion {_hours(hours)} after the last dose: later than the 96 h of "
                "004 §4.3/§5; 004 §2.2 allows '96 h or longer' only 'in special circumstances' "
                "— document the reason"
            ),
            sources=both,
        )
    return InfusionCheck(hours_after_last_dose=hours, status=status, note=note)


class CalendarEntry(BaseModel):
    """One thing to do on one day."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["drug", "infusion", "check"]
    text: str
    source: str


class CalendarDay(BaseModel):
    """One day of the course calendar (day 1 = start date)."""

    model_config = ConfigDict(frozen=True)

    day: int
    date: dt.date
    entries: tuple[CalendarEntry, ...]


class NextCourse(BaseModel):
    """When the next course is due, and under which condition."""

    model_config = ConfigDict(frozen=True)

    kind: str
    earliest: dt.date | None
    latest: dt.date | None
    condition: str
    sources: tuple[str, ...]


class CourseCalendar(BaseModel):
    """Day-by-day plan of one MST course."""

    model_config = ConfigDict(frozen=True)

    regimen_id: str
    course_kind: CourseKind
    course_number: int
    start_date: dt.date
    last_chemo_date: dt.date
    infusion: InfusionWindow
    days: tuple[CalendarDay, ...]
    next_course: NextCourse
    notes: tuple[Note, ...]


def _fmt(x: float) -> str:
    return f"{x:g}"


def _drug_text(line: DoseLine) -> str:
    unit_dose = line.unit_dose
    per = (
        f"{_fmt(unit_dose[0])}–{_fmt(unit_dose[1])}"
        if isinstance(unit_dose, tuple)
        else _fmt(unit_dose)
    )
    freq = " q12h" if line.per_day == 2 else (f" ×{line.per_day}/day" if line.per_day > 2 else "")
    if line.dose is not None:
        chosen = _fmt(line.chosen_unit_dose) if line.chosen_unit_dose is not None else per
        basis = "" if line.unit == "mg" else f" ({chosen} {line.unit})"
        text = f"{line.drug} {_fmt(line.dose)} {line.dose_unit}{basis} {line.route}{freq}"
    elif line.dose_range is not None:
        lo, hi = line.dose_range
        text = (
            f"{line.drug} {_fmt(lo)}–{_fmt(hi)} {line.dose_unit} ({per} {line.unit}) "
            f"{line.route}{freq} — dose to choose"
        )
    else:  # pragma: no cover - a line has either a dose or a range
        text = f"{line.drug} {per} {line.unit} {line.route}{freq}"
    if line.components:
        text += " [" + ", ".join(f"{k} {_fmt(v)} mg" for k, v in line.components.items()) + "]"
    return text


def _drug_text_unit(regimen: Regimen, item_index: int) -> str:
    item = regimen.items[item_index]
    per = f"{_fmt(item.dose_low)}–{_fmt(item.dose_high)}" if item.is_range else _fmt(item.dose_low)
    freq = " q12h" if item.per_day == 2 else ""
    return f"{item.drug} {per} {item.unit.value} {item.route}{freq}"


def next_course_window(regimen: Regimen, start_date: dt.date, kind: CourseKind | str) -> NextCourse:
    """When the course after this one is due.

    Parameters
    ----------
    regimen : Regimen
        Regimen of this course.
    start_date : datetime.date
        Day 1 of this course.
    kind : CourseKind or str
        ``induction``/``reinduction``: the first consolidation 4–6 weeks after the
        last chemotherapy day (after count recovery, CR/CRi required);
        ``consolidation``: the next one ``spacing`` weeks after this course's day 1.

    Returns
    -------
    NextCourse
    """
    kind = CourseKind(kind)
    end = start_date + dt.timedelta(days=regimen.length_days - 1)
    if kind in (CourseKind.INDUCTION, CourseKind.REINDUCTION):
        rule = rules()["first_consolidation"]
        return NextCourse(
            kind="first consolidation",
            earliest=end + dt.timedelta(weeks=rule["weeks_min"]),
            latest=end + dt.timedelta(weeks=rule["weeks_max"]),
            condition=(
                "after hematopoietic recovery and CR/CRi; if no CR/CRi, a second induction "
                "with the "
                "same regimen (treatment failure after two); reassess fitness after CR"
            ),
            sources=(rule["source"], rules()["induction"]["source"]),
        )
    if regimen.spacing is None:
        raise ValidationError(
            "course_kind", kind.value, f"{regimen.id} is an induction regimen, not a consolidation"
        )
    sp = regimen.spacing
    return NextCourse(
        kind="next consolidation",
        earliest=start_date + dt.timedelta(weeks=sp.weeks_min),
        latest=start_date + dt.timedelta(weeks=sp.weeks_max),
        condition=(
            f"{sp.weeks_min}–{sp.weeks_max} weeks after the first day of this course"
            + (f"; {regimen.cycles_note}" if regimen.cycles_note else "")
        ),
        sources=(sp.source,),
    )


def course_calendar(
    regimen: Regimen,
    start_date: dt.date,
    *,
    kind: CourseKind | str | None = None,
    course_number: int = 1,
    doses: CourseDoses | None = None,
    last_dose_time: dt.time | None = None,
) -> CourseCalendar:
    """Day-by-day calendar of one course from its start date.

    Parameters
    ----------
    regimen : Regimen
        Catalog regimen.
    start_date : datetime.date
        Day 1.
    kind : CourseKind or str, optional
        Defaults to ``induction`` for induction regimens and ``consolidation`` otherwise.
    course_number : int
        Number of the course in the patient's sequence (≥ 1).
    doses : CourseDoses, optional
        When given, the calendar shows the patient's doses in mg; otherwise the
        catalog unit doses.
    last_dose_time : datetime.time, optional
        Clock time of the last dose of the clock drug, from which the 24/48/96 h
        limits run. When absent, 12:00 is assumed and every window line says
        so, with the window a 24-h continuous infusion ending at midnight would
        give (12 h later).

    Returns
    -------
    CourseCalendar
        Chemotherapy days, the infusion window (opening, preferred limit, last
        day), blood-count checks, marrow assessment, next-course window, notes.

    Raises
    ------
    mst.errors.ValidationError
        For a course kind that does not match the regimen's phase, a course
        number < 1 or doses computed for another regimen.
    """
    if kind is None:
        kind = (
            CourseKind.INDUCTION if regimen.phase is Phase.INDUCTION else CourseKind.CONSOLIDATION
        )
    kind = CourseKind(kind)
    is_induction = kind in (CourseKind.INDUCTION, CourseKind.REINDUCTION)
    if is_induction != (regimen.phase is Phase.INDUCTION):
        raise ValidationError(
            "course_kind",
            kind.value,
            f"does not match the phase of {regimen.id} ({regimen.phase.value})",
        )
    if course_number < 1:
        raise ValidationError("course_number", course_number, "must be >= 1")
    if doses is not None and doses.regimen_id != regimen.id:
        raise ValidationError(
            "doses", doses.regimen_id, f"were computed for another regimen than {regimen.id}"
        )
    w = _window_rule()
    rc = rules()["recovery_checks"]
    clock_date = start_date + dt.timedelta(days=regimen.clock_day - 1)
    assumed = last_dose_time is None
    if last_dose_time is None:
        last_dose_time = ASSUMED_LAST_DOSE_TIME
    window = infusion_window(dt.datetime.combine(clock_date, last_dose_time), regimen.clock_drugs)
    if assumed:
        midnight = infusion_window(
            dt.datetime.combine(clock_date + dt.timedelta(days=1), dt.time(0, 0)),
            regimen.clock_drugs,
        )
        window = window.model_copy(
            update={"last_dose_time_assumed": True, "if_midnight_end": midnight}
        )
    by_day: dict[int, list[CalendarEntry]] = {}

    def add(day: int, entry: CalendarEntry) -> None:
        by_day.setdefault(day, []).append(entry)

    for idx, item in enumerate(regimen.items):
        text = _drug_text(doses.lines[idx]) if doses is not None else _drug_text_unit(regimen, idx)
        adjusted = doses.lines[idx].adjusted if doses is not None else None
        for d in item.day_list:
            day_text = text
            for spec, mg in adjusted or ():
                if d in parse_days(spec):
                    ln = doses.lines[idx] if doses is not None else None
                    std = f"{_fmt(ln.dose)} mg" if ln is not None and ln.dose is not None else ""
                    day_text = (
                        f"{item.drug} {_fmt(mg)} mg {item.route} — CYP3A/P-gp inhibitor "
                        f"label-adjusted dose (standard {std})"
                    )
            add(d, CalendarEntry(kind="drug", text=day_text, source=regimen.source))
    src_w = ", ".join(w["sources"])
    clock = regimen.clock_day
    last = "/".join(regimen.clock_drugs)
    ew, pw, lw = w["earliest_h"] // 24, w["preferred_latest_h"] // 24, w["latest_h"] // 24
    t = last_dose_time.strftime("%H:%M")
    if assumed:
        t += " (ASSUMED: last-dose time not given; +12 h if a 24-h infusion ends at midnight)"
    add(
        clock + ew,
        CalendarEntry(
            kind="infusion",
            source=src_w,
            text=f"GPBSC infusion window opens {t} (24 h after the last {last} dose)",
        ),
    )
    add(
        clock + pw,
        CalendarEntry(
            kind="infusion", source=src_w, text=f"GPBSC infusion preferred by {t} (48 h)"
        ),
    )
    for d in range(clock + pw + 1, clock + lw):
        add(
            d,
            CalendarEntry(
                kind="infusion",
                source=src_w,
                text="GPBSC infusion only if delayed 'if necessary' (warning: > 48 h)",
            ),
        )
    add(
        clock + lw,
        CalendarEntry(
            kind="infusion",
            source=src_w,
            text=f"last moment for GPBSC infusion {t} (96 h); later is outside the consensus",
        ),
    )
    for d in rc["blood_count_days"]:
        add(
            d,
            CalendarEntry(kind="check", source=rc["source"], text="blood counts (count recovery)"),
        )
    add(
        rc["marrow_assessment_day"],
        CalendarEntry(
            kind="check",
            source=rc["source"],
            text=(
                "bone-marrow response assessment at count recovery (CR/CRi?)"
                if is_induction
                else "blood counts before the next course; MRD per center"
            ),
        ),
    )
    horizon = max(max(by_day), regimen.length_days)
    days = tuple(
        CalendarDay(
            day=d, date=start_date + dt.timedelta(days=d - 1), entries=tuple(by_day.get(d, ()))
        )
        for d in range(1, horizon + 1)
    )
    notes: list[Note] = []
    if assumed:
        m = window.if_midnight_end
        assert m is not None
        notes.append(
            Note(
                level="warning",
                code="last_dose_time_assumed",
                message=(
                    f"the time of the last {last} dose was not given: 12:00 assumed for the "
                    f"24/48/96 h window; a 24-h continuous infusion ending at midnight would "
                    f"move it 12 h later (opens {m.earliest:%Y-%m-%d %H:%M}, last moment "
                    f"{m.latest:%Y-%m-%d %H:%M}) — enter plan.last_dose_time"
                ),
                sources=src_w.split(", "),
            )
        )
    if regimen.infusion_after_h is not None:
        notes.append(
            Note(
                level="info",
                code="seed_protocol_infusion",
                message=(
                    f"the seed protocol infused {regimen.infusion_after_h} h after the last dose"
                ),
                sources=(regimen.source,),
            )
        )
    if is_induction:
        ind = rules()["induction"]
        notes.append(
            Note(
                level="info",
                code="two_induction_rule",
                message=(
                    "no CR/CRi after this induction: a second induction with the same "
                    "regimen and GPBSC infusion; no CR/CRi after two: treatment failure"
                ),
                sources=(ind["source"],),
            )
        )
        notes.append(
            Note(
                level="info",
                code="reassess_fitness_after_cr",
                message="reassess fitness after CR: an 'unfit' patient may now be 'fit'",
                sources=(rules()["reassess_fitness_after_cr"]["source"],),
            )
        )
    return CourseCalendar(
        regimen_id=regimen.id,
        course_kind=kind,
        course_number=course_number,
        start_date=start_date,
        last_chemo_date=start_date + dt.timedelta(days=regimen.length_days - 1),
        infusion=window,
        days=days,
        next_course=next_course_window(regimen, start_date, kind),
        notes=tuple(notes),
    )


Step = Literal[
    "induction", "second_induction", "consolidation", "treatment_failure", "await_response"
]


class NextStep(BaseModel):
    """What the consensus says comes next, given the induction responses so far."""

    model_config = ConfigDict(frozen=True)

    step: Step
    note: Note


def next_step(induction_responses: list[ResponseCategory | str | None]) -> NextStep:
    """Apply the two-induction rule (004 §4.3).

    Parameters
    ----------
    induction_responses : list
        Response after each induction course given so far, in order (``None``
        when not yet assessed). CR, CR MRD−, CRh and CRi count as remission.

    Returns
    -------
    NextStep
        ``induction`` (none given yet), ``await_response``, ``consolidation``
        (remission reached), ``second_induction`` (no remission after the first)
        or ``treatment_failure`` (no remission after two).

    Raises
    ------
    mst.errors.ValidationError
        For more than two inductions or an induction recorded after remission.
    """
    src = rules()["induction"]["source"]
    max_n = rules()["induction"]["max_courses"]
    cats = [None if r is None else ResponseCategory(r) for r in induction_responses]
    if len(cats) > max_n:
        raise ValidationError(
            "induction_responses", len(cats), f"the consensus allows at most {max_n} inductions"
        )
    for i, c in enumerate(cats[:-1], 1):
        if c is None:
            raise ValidationError(
                f"induction_responses[{i}]", None, "an earlier induction must be assessed"
            )
        if c.is_complete_remission:
            raise ValidationError(
                f"induction_responses[{i - 1}]",
                c,
                "remission reached: no further induction may follow CR/CRi (004 §4.3)",
            )
    if not cats:
        return NextStep(
            step="induction",
            note=Note(
                level="info",
                code="first_induction",
                message="newly diagnosed: first induction",
                sources=("004 §4",),
            ),
        )
    last = cats[-1]
    if last is None:
        return NextStep(
            step="await_response",
            note=Note(
                level="action",
                code="assess_response",
                message=f"assess response after induction {len(cats)} (CR/CRi?)",
                sources=(src,),
            ),
        )
    if last.is_complete_remission:
        return NextStep(
            step="consolidation",
            note=Note(
                level="info",
                code="remission",
                message=(
                    f"{last.value} after induction {len(cats)}: post-remission therapy; "
                    "reassess fitness; allo-HSCT has priority when feasible"
                ),
                sources=("004 §5",),
            ),
        )
    if len(cats) < max_n:
        return NextStep(
            step="second_induction",
            note=Note(
                level="action",
                code="second_induction",
                message=(
                    f"{last.value} after the first induction: "
                    "second induction with the same regimen"
                ),
                sources=(src,),
            ),
        )
    return NextStep(
        step="treatment_failure",
        note=Note(
            level="warning",
            code="treatment_failure",
            message=(
                f"no CR/CRi after {max_n} inductions: treatment failure; other clinical "
                "trials or protocols"
            ),
            sources=(src,),
        ),
    )
