"""Alerts engine: evaluates the monitoring rules on one patient's registry record.

Rules (thresholds and citations in ``mst/data/monitoring/alerts.yaml``):

``gvhd_suspicion`` (004 §2.3)
    Within 5–30 days after a GPBSC infusion, any one of rash (event or rash
    BSA > 0), diarrhea (event or stool >= 500 mL/day) or liver dysfunction
    (ALT, AST or LDH >= 2 × the last value on or before the infusion,
    bilirubin >= 2 mg/dL and above its pre-infusion value, or a
    hepatotoxicity event); high fever (event or temperature >= 38.5 °C) and a
    cytokine rise (IL-2/8/10/6/12, IFN-α/γ >= 2 × the pre-infusion value)
    count only with a second distinct sign (local choice). "Consider acute
    GVHD, test donor chimerism." Dated on the first day the rule is met.
``gvhd_high_risk`` (002 Discussion)
    Donor chimerism > 1% measured 1–14 days after an infusion together with at
    least one of fever, rash, diarrhea or hepatic injury within 30 days of it.
    Dated on the first day both are documented.
``chimerism_rising`` (002 Discussion)
    Two consecutive positive donor-chimerism values with the later one
    higher: "extend the interval before the next course". Dated on the later value.
``gvhd_event`` / ``crs_event``
    Recorded GVHD or CRS events, severity by grade.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterable

from mst.domain import EventKind, PatientRecord
from mst.monitoring._data import load

SEVERITY_ORDER = {"info": 0, "warning": 1, "high": 2}


@dataclasses.dataclass(frozen=True, slots=True)
class Alert:
    """A dated alert with its reason and source citation."""

    date: dt.date
    patient_id: str
    rule: str
    severity: str
    message: str
    source: str
    evidence: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dictionary."""
        return {
            "date": self.date.isoformat(),
            "patient_id": self.patient_id,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "source": self.source,
            "evidence": list(self.evidence),
        }


class _Labs:
    """Labs of one patient indexed by analyte, sorted by date."""

    def __init__(self, record: PatientRecord, as_of: dt.date | None) -> None:
        self.by: dict[str, tuple[list[dt.date], list[float]]] = {}
        rows: dict[str, list[tuple[dt.date, float]]] = {}
        for lab in record.labs:
            if as_of is not None and lab.date > as_of:
                continue
            rows.setdefault(lab.analyte, []).append((lab.date, lab.value))
        for a, r in rows.items():
            r.sort(key=lambda x: x[0])
            self.by[a] = ([d for d, _ in r], [v for _, v in r])

    def window(self, analyte: str, lo: dt.date, hi: dt.date) -> list[tuple[dt.date, float]]:
        ds, vs = self.by.get(analyte, ((), ()))
        i = bisect.bisect_left(ds, lo)
        j = bisect.bisect_right(ds, hi)
        return list(zip(ds[i:j], vs[i:j], strict=True))

    def last_on_or_before(self, analyte: str, day: dt.date) -> float | None:
        ds, vs = self.by.get(analyte, ((), ()))
        i = bisect.bisect_right(ds, day)
        return vs[i - 1] if i else None


def _first_event(
    events: dict[EventKind, list[dt.date]], kind: EventKind, lo: dt.date, hi: dt.date
) -> dt.date | None:
    for d in events.get(kind, ()):
        if lo <= d <= hi:
            return d
    return None


def _earliest(*cands: tuple[dt.date, str] | None) -> tuple[dt.date, str] | None:
    got = [c for c in cands if c is not None]
    return min(got, key=lambda c: c[0]) if got else None


def _first_lab(
    labs: _Labs, analyte: str, lo: dt.date, hi: dt.date, test, label: str
) -> tuple[dt.date, str] | None:
    for d, v in labs.window(analyte, lo, hi):
        if test(v):
            return d, f"{label} {v:g} on {d}"
    return None


def _rise(
    labs: _Labs, analytes: Iterable[str], base_day: dt.date, lo: dt.date, hi: dt.date, fold: float
) -> tuple[dt.date, str] | None:
    best: tuple[dt.date, str] | None = None
    for a in analytes:
        base = labs.last_on_or_before(a, base_day)
        if base is None or base <= 0:
            continue
        hit = _first_lab(
            labs,
            a,
            lo,
            hi,
            lambda v, b=base: v >= fold * b,
            f"{a} >= {fold:g} x pre-infusion {base:g}:",
        )
        best = _earliest(best, hit)
    return best


def _bilirubin(
    labs: _Labs, base_day: dt.date, lo: dt.date, hi: dt.date, bound: float
) -> tuple[dt.date, str] | None:
    base = labs.last_on_or_before("bilirubin", base_day)
    return _first_lab(
        labs,
        "bilirubin",
        lo,
        hi,
        lambda v: v >= bound and (base is None or v > base),
        f"bilirubin >= {bound:g} mg/dL"
        + (f" (pre-infusion {base:g})" if base is not None else "")
        + ":",
    )


def suspicion_date(signs: dict[str, tuple[dt.date, str]], cfg: dict) -> dt.date | None:
    """The first day the 004 §2.3 suspicion rule is met, or None.

    Parameters
    ----------
    signs : dict
        First date (and evidence) of each sign found in the window.
    cfg : dict
        The ``gvhd_suspicion`` rule of ``alerts.yaml``: ``sufficient_alone``
        signs suspect GVHD on their own; ``need_second_sign`` signs only with a
        second distinct sign.

    Returns
    -------
    date or None
    """
    cands = [signs[k][0] for k in cfg["sufficient_alone"] if k in signs]
    if len(signs) >= 2:
        cands.append(sorted(s[0] for s in signs.values())[1])
    return min(cands) if cands else None


def _signs(
    labs: _Labs,
    events: dict[EventKind, list[dt.date]],
    infused: dt.date,
    lo: dt.date,
    hi: dt.date,
    cfg: dict,
    include_cytokines: bool,
) -> dict[str, tuple[dt.date, str]]:
    def ev(kind: EventKind) -> tuple[dt.date, str] | None:
        d = _first_event(events, kind, lo, hi)
        return None if d is None else (d, f"{kind.value} event on {d}")

    out: dict[str, tuple[dt.date, str] | None] = {
        "fever": _earliest(
            ev(EventKind.FEVER),
            _first_lab(labs, "temperature", lo, hi, lambda v: v >= cfg["fever_c"], "temperature"),
        ),
        "rash": _earliest(
            ev(EventKind.RASH),
            _first_lab(labs, "rash_bsa", lo, hi, lambda v: v > cfg["rash_bsa_gt"], "rash BSA %"),
        ),
        "diarrhea": _earliest(
            ev(EventKind.DIARRHEA),
            _first_lab(
                labs, "stool_volume", lo, hi, lambda v: v >= cfg["stool_volume_ge"], "stool mL/day"
            ),
        ),
        "liver": _earliest(
            ev(EventKind.HEPATOTOXICITY),
            _rise(labs, ("alt", "ast", "ldh"), infused, lo, hi, cfg["liver_rise_fold"]),
            _bilirubin(labs, infused, lo, hi, cfg["bilirubin_ge"]),
        ),
    }
    if include_cytokines:
        out["cytokines"] = _rise(labs, cfg["cytokines"], infused, lo, hi, cfg["cytokine_rise_fold"])
    return {k: v for k, v in out.items() if v is not None}


def evaluate(record: PatientRecord, as_of: dt.date | None = None) -> list[Alert]:
    """Evaluate every alert rule on one patient's record.

    Parameters
    ----------
    record : PatientRecord
        The patient's registry record.
    as_of : date, optional
        Ignore everything dated after this day (what was known then).

    Returns
    -------
    list of Alert
        Sorted by date, then severity (highest first), then rule.
    """
    rules = load("alerts")["rules"]
    pid = record.patient.id
    labs = _Labs(record, as_of)
    events: dict[EventKind, list[dt.date]] = {}
    for e in sorted(record.events, key=lambda e: e.date):
        if as_of is None or e.date <= as_of:
            events.setdefault(e.kind, []).append(e.date)
    alerts: dict[tuple[str, dt.date], Alert] = {}

    def add(a: Alert) -> None:
        alerts.setdefault((a.rule, a.date), a)

    sus, hr = rules["gvhd_suspicion"], rules["gvhd_high_risk"]
    for inf in sorted(record.infusions, key=lambda i: i.infused_at):
        d0 = inf.infused_at.date()
        if as_of is not None and d0 > as_of:
            continue
        lo, hi = (d0 + dt.timedelta(days=x) for x in sus["window_days"])
        signs = _signs(labs, events, d0, lo, hi, sus, include_cytokines=True)
        when = suspicion_date(signs, sus)
        if when is not None:
            ordered = sorted((s for s in signs.values() if s[0] <= when), key=lambda s: s[0])
            add(
                Alert(
                    when,
                    pid,
                    "gvhd_suspicion",
                    sus["severity"],
                    f"Course {inf.course_number} infusion {d0}: {sus['text']}",
                    sus["source"],
                    tuple(s[1] for s in ordered),
                )
            )
        clo, chi = (d0 + dt.timedelta(days=x) for x in hr["chimerism_window_days"])
        chim = [
            (d, v) for d, v in labs.window("donor_chimerism", clo, chi) if v > hr["chimerism_gt"]
        ]
        if chim:
            slo, shi = (d0 + dt.timedelta(days=x) for x in hr["signs_window_days"])
            hsigns = _signs(labs, events, d0, slo, shi, sus, include_cytokines=False)
            if hsigns:
                first_sign = min(hsigns.values(), key=lambda s: s[0])
                when = max(chim[0][0], first_sign[0])
                add(
                    Alert(
                        when,
                        pid,
                        "gvhd_high_risk",
                        hr["severity"],
                        f"Course {inf.course_number} infusion {d0}: {hr['text']}",
                        hr["source"],
                        (
                            f"donor chimerism {chim[0][1]:g}% on {chim[0][0]} "
                            f"(> {hr['chimerism_gt']:g}%)",
                            *(s[1] for s in sorted(hsigns.values(), key=lambda s: s[0])),
                        ),
                    )
                )
    rise = rules["chimerism_rising"]
    by_donor: dict[str | None, list[tuple[dt.date, float]]] = {}
    for lab in record.labs:
        if lab.analyte == "donor_chimerism" and (as_of is None or lab.date <= as_of):
            by_donor.setdefault(lab.donor_id, []).append((lab.date, lab.value))
    for donor, rows in by_donor.items():
        rows.sort(key=lambda r: r[0])
        for (d1, v1), (d2, v2) in itertools.pairwise(rows):
            if v1 > 0 and v2 > v1 * rise["min_ratio"]:
                who = f" (donor {donor})" if donor else ""
                add(
                    Alert(
                        d2,
                        pid,
                        "chimerism_rising",
                        rise["severity"],
                        rise["text"] + who,
                        rise["source"],
                        (f"{v1:g}% on {d1} → {v2:g}% on {d2}",),
                    )
                )
    for kind, rule in ((EventKind.GVHD, "gvhd_event"), (EventKind.CRS, "crs_event")):
        cfg = rules[rule]
        for e in record.events:
            if e.kind is kind and e.grade is not None and (as_of is None or e.date <= as_of):
                add(
                    Alert(
                        e.date,
                        pid,
                        rule,
                        cfg["severity_by_grade"][e.grade],
                        f"{cfg['text']} (grade {e.grade})",
                        cfg["source"],
                        (f"{kind.value} grade {e.grade} on {e.date}",),
                    )
                )
    return sorted(alerts.values(), key=lambda a: (a.date, -SEVERITY_ORDER[a.severity], a.rule))


def evaluate_cohort(records: Iterable[PatientRecord], as_of: dt.date | None = None) -> list[Alert]:
    """Alerts of many records, concatenated in record order."""
    out: list[Alert] = []
    for r in records:
        out.extend(evaluate(r, as_of))
    return out
