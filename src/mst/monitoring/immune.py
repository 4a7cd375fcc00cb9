"""Immune reconstitution before vs after MST courses (003 Results; 004 §2.5).

For each course, the *before* value of an analyte is the last one in the 30
days up to the course start; the *after* value is the last one after the
infusion and before the next course starts (at most 90 days after the
infusion). Analytes: CD3⁺, CD4⁺, CD8⁺, NK (% of lymphocytes) and the
CD4:CD8 ratio computed from CD4⁺ and CD8⁺ measured on the same day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections.abc import Iterable

from mst.domain import PatientRecord

SOURCE = "003 Results (CD3+, CD4+CD8−, CD4:CD8 ratio after MST); 004 §2.5"
ANALYTES = ("cd3_pct", "cd4_pct", "cd8_pct", "nk_pct", "cd4_cd8_ratio")
BEFORE_DAYS = 30
AFTER_DAYS = 90


@dataclasses.dataclass(frozen=True, slots=True)
class ImmuneChange:
    """One analyte before and after one course."""

    patient_id: str
    course_number: int
    analyte: str
    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        """after − before (None when either is missing)."""
        return None if self.before is None or self.after is None else self.after - self.before


@dataclasses.dataclass(frozen=True, slots=True)
class ImmuneSummary:
    """Paired before/after summary of one analyte over courses."""

    analyte: str
    n_pairs: int
    median_before: float | None
    median_after: float | None
    median_change: float | None
    n_increased: int
    source: str = SOURCE


def _series(record: PatientRecord) -> dict[str, list[tuple[dt.date, float]]]:
    out: dict[str, list[tuple[dt.date, float]]] = {a: [] for a in ANALYTES}
    cd4: dict[dt.date, float] = {}
    cd8: dict[dt.date, float] = {}
    for lab in record.labs:
        if lab.analyte in out:
            out[lab.analyte].append((lab.date, lab.value))
        if lab.analyte == "cd4_pct":
            cd4[lab.date] = lab.value
        elif lab.analyte == "cd8_pct":
            cd8[lab.date] = lab.value
    for d in sorted(set(cd4) & set(cd8)):
        if cd8[d] > 0:
            out["cd4_cd8_ratio"].append((d, cd4[d] / cd8[d]))
    for v in out.values():
        v.sort()
    return out


def _last_in(rows: list[tuple[dt.date, float]], lo: dt.date, hi: dt.date) -> float | None:
    vals = [v for d, v in rows if lo <= d <= hi]
    return vals[-1] if vals else None


def immune_changes(record: PatientRecord) -> list[ImmuneChange]:
    """Before/after values of each immune analyte for every course of one patient.

    Parameters
    ----------
    record : PatientRecord

    Returns
    -------
    list of ImmuneChange
        One row per course and analyte (values may be None when not measured).
    """
    series = _series(record)
    courses = sorted(record.courses, key=lambda c: c.number)
    inf = {i.course_number: i.infused_at.date() for i in record.infusions}
    out: list[ImmuneChange] = []
    for k, c in enumerate(courses):
        start = c.start_date
        infused = inf.get(c.number, c.last_chemo_date)
        nxt = courses[k + 1].start_date - dt.timedelta(days=1) if k + 1 < len(courses) else None
        hi = infused + dt.timedelta(days=AFTER_DAYS)
        if nxt is not None:
            hi = min(hi, nxt)
        for a in ANALYTES:
            before = _last_in(series[a], start - dt.timedelta(days=BEFORE_DAYS), start)
            after = _last_in(series[a], infused + dt.timedelta(days=1), hi)
            out.append(ImmuneChange(record.patient.id, c.number, a, before, after))
    return out


def summarize_immune(changes: Iterable[ImmuneChange]) -> list[ImmuneSummary]:
    """Paired medians before/after per analyte.

    Parameters
    ----------
    changes : iterable of ImmuneChange
        Rows from :func:`immune_changes` (any number of patients).

    Returns
    -------
    list of ImmuneSummary
        One per analyte in ``ANALYTES`` order.
    """
    by: dict[str, list[ImmuneChange]] = {a: [] for a in ANALYTES}
    for ch in changes:
        if ch.change is not None and ch.analyte in by:
            by[ch.analyte].append(ch)
    out: list[ImmuneSummary] = []
    for a in ANALYTES:
        rows = by[a]
        if not rows:
            out.append(ImmuneSummary(a, 0, None, None, None, 0))
            continue
        out.append(
            ImmuneSummary(
                a,
                len(rows),
                statistics.median(r.before for r in rows if r.before is not None),
                statistics.median(r.after for r in rows if r.after is not None),
                statistics.median(r.change for r in rows if r.change is not None),
                sum(1 for r in rows if (r.change or 0) > 0),
            )
        )
    return out
