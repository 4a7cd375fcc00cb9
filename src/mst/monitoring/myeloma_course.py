"""Multiple myeloma response over time (IMWG 2016): confirmation, best response, progression.

Each visit is classified with :func:`mst.monitoring.response.assess_myeloma` (one assessment,
unconfirmed) against the baseline for reductions and against the running nadir for
progression. Over the visits this module applies IMWG 2016's rules
(``mst/data/myeloma/response_course.yaml``):

* a category is *confirmed* by two consecutive assessments; a pair confirms the lower of its
  two calls and is dated at its first assessment;
* progression needs two consecutive PD calls (dated at the first), except a new bone lesion
  or plasmacytoma, which needs none; the nadir is the lowest value measured so far, baseline
  included (a local, safer reading of "lowest confirmed response value");
* best response = the best confirmed category before progression; time to response = start of
  treatment → first confirmed PR or better;
* relapse from CR (after a confirmed CR/sCR): reappearance of M-protein by immunofixation or
  electrophoresis, marrow plasma cells ≥ 5 % or PD, in two consecutive assessments;
* MRD: negative below 10⁻⁵ (0.001 %); sustained MRD negativity = two negative results ≥ 1
  year apart with no positive one between.

The same confirmation rules apply to dated categories alone (:func:`course_from_categories`),
e.g. response assessments read from the registry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
from collections.abc import Sequence
from importlib import resources
from typing import Any

import yaml

from mst.errors import ValidationError
from mst.monitoring.response import MyelomaAssessment, ResponseCall, assess_myeloma


@functools.cache
def course_rules() -> dict[str, Any]:
    """The parsed ``mst/data/myeloma/response_course.yaml`` (cached)."""
    text = resources.files("mst.data").joinpath("myeloma/response_course.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def category_rank(category: str) -> int:
    """Rank of an IMWG category, worst (PD = 0) to best (sCR = 6).

    Raises
    ------
    mst.errors.ValidationError
        If the category is not an IMWG category.
    """
    order: list[str] = course_rules()["order"]
    if category not in order:
        raise ValidationError("category", category, "must be an IMWG category: " + ", ".join(order))
    return order.index(category)


def _label(call: ResponseCall) -> str:
    c = call.category
    return str(getattr(c, "value", c))


@dataclasses.dataclass(frozen=True, slots=True)
class MyelomaVisit:
    """Findings of one dated myeloma assessment.

    Units: serum M-protein g/dL, urine M-protein mg/24 h, free light chains mg/L, marrow plasma
    cells %, MRD % of nucleated marrow cells. ``immunofixation`` is ``"positive"``,
    ``"negative"`` or ``None`` (not done); ``marrow_plasma_cells`` ``None`` = no marrow.
    """

    date: dt.date
    serum_m: float | None = None
    urine_m: float | None = None
    immunofixation: str | None = None
    marrow_plasma_cells: float | None = None
    flc_kappa: float | None = None
    flc_lambda: float | None = None
    involved_light_chain: str | None = None
    clonal_cells_absent: bool = False
    plasmacytoma_present: bool = False
    new_lesion: bool = False
    mrd_pct: float | None = None

    def assessment(self) -> MyelomaAssessment:
        """This visit as the per-assessment input of :func:`assess_myeloma`."""
        if self.immunofixation not in (None, "positive", "negative"):
            raise ValidationError(
                "immunofixation", self.immunofixation, 'must be "positive", "negative" or empty'
            )
        if self.involved_light_chain not in (None, "kappa", "lambda"):
            raise ValidationError(
                "involved_light_chain", self.involved_light_chain, 'must be "kappa" or "lambda"'
            )
        epg_neg = self.serum_m == 0 and self.urine_m in (None, 0)
        return MyelomaAssessment(
            serum_m=self.serum_m,
            urine_m=self.urine_m,
            immunofixation_negative=self.immunofixation == "negative",
            marrow_plasma_cells=self.marrow_plasma_cells,
            flc_kappa=self.flc_kappa,
            flc_lambda=self.flc_lambda,
            involved_light_chain=self.involved_light_chain,
            clonal_cells_absent=self.clonal_cells_absent,
            plasmacytoma_present=self.plasmacytoma_present,
            new_lesion=self.new_lesion,
            electrophoresis_negative=bool(epg_neg),
            date=self.date,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class TimelinePoint:
    """One visit: its unconfirmed call and the category confirmed with the previous visit."""

    date: dt.date
    category: str
    reasons: tuple[str, ...]
    confirmed: str | None
    mrd_negative: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class MyelomaCourse:
    """Response over time of one patient (dates; ``None`` = did not happen / not assessable)."""

    points: tuple[TimelinePoint, ...]
    best_response: str | None
    best_response_date: dt.date | None
    response_date: dt.date | None
    time_to_response_days: int | None
    progression_date: dt.date | None
    progression_reasons: tuple[str, ...]
    cr_date: dt.date | None
    relapse_from_cr_date: dt.date | None
    first_mrd_negative_date: dt.date | None
    sustained_mrd_negative: bool | None
    source: str

    @property
    def responder(self) -> bool:
        """Confirmed PR or better (overall response, IMWG)."""
        return self.best_response in course_rules()["responders"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["responder"] = self.responder
        return d


def _nadir(seen: Sequence[MyelomaAssessment]) -> MyelomaAssessment:
    def low(name: str) -> float | None:
        vals = [getattr(a, name) for a in seen if getattr(a, name) is not None]
        return min(vals) if vals else None

    with_flc = [a for a in seen if a.dflc is not None]
    flc = min(with_flc, key=lambda a: a.dflc or 0.0) if with_flc else None
    return MyelomaAssessment(
        serum_m=low("serum_m"),
        urine_m=low("urine_m"),
        marrow_plasma_cells=low("marrow_plasma_cells"),
        flc_kappa=flc.flc_kappa if flc else None,
        flc_lambda=flc.flc_lambda if flc else None,
        involved_light_chain=flc.involved_light_chain if flc else None,
    )


def _check_dates(dates: Sequence[dt.date]) -> None:
    for i, (a, b) in enumerate(itertools.pairwise(dates), 2):
        if b <= a:
            raise ValidationError(f"assessment {i}.date", b, f"must be after the previous ({a})")


def myeloma_course(
    baseline: MyelomaVisit,
    visits: Sequence[MyelomaVisit],
    start: dt.date | None = None,
) -> MyelomaCourse:
    """Classify every visit and derive confirmed response, progression and relapse.

    Parameters
    ----------
    baseline : MyelomaVisit
        Findings before treatment (reference for reductions; first nadir).
    visits : sequence of MyelomaVisit
        Later visits in date order (dates strictly increasing, after the baseline).
    start : date, optional
        Start of treatment (time to response); default the baseline date.

    Returns
    -------
    MyelomaCourse
    """
    _check_dates([baseline.date, *[v.date for v in visits]])
    base = baseline.assessment()
    seen = [base]
    calls: list[tuple[dt.date, str, tuple[str, ...], bool, MyelomaVisit]] = []
    for v in visits:
        a = v.assessment()
        call = assess_myeloma(a, base, _nadir(seen))
        calls.append((v.date, _label(call), call.reasons, v.new_lesion, v))
        seen.append(a)
    return _derive(
        [(d, c, r, nl) for d, c, r, nl, _ in calls],
        start or baseline.date,
        [v for *_, v in calls],
    )


def course_from_categories(
    dated: Sequence[tuple[dt.date, str]], start: dt.date
) -> MyelomaCourse:
    """The same confirmation rules over dated categories alone (e.g. registry assessments).

    Without the findings, relapse from CR is taken from a confirmed PD after CR, and MRD is
    not known.

    Parameters
    ----------
    dated : sequence of (date, category)
        IMWG categories (``sCR``, ``CR``, ``VGPR``, ``PR``, ``MR``, ``SD``, ``PD``).
    start : date
        Start of treatment.
    """
    rows = sorted(dated)
    for _, c in rows:
        category_rank(c)
    _check_dates([d for d, _ in rows])
    return _derive([(d, c, (), False) for d, c in rows], start, None)


def _derive(
    calls: Sequence[tuple[dt.date, str, tuple[str, ...], bool]],
    start: dt.date,
    visits: Sequence[MyelomaVisit] | None,
) -> MyelomaCourse:
    rules = course_rules()
    src = rules["source"]
    rank = category_rank
    responders = set(rules["responders"])
    confirmed: list[str | None] = [None] * len(calls)
    progression: tuple[dt.date, tuple[str, ...]] | None = None
    for i, (d, c, reasons, new_lesion) in enumerate(calls):
        if c == "PD" and new_lesion:
            progression = (d, (*reasons, "new bone lesion or plasmacytoma: no confirmation needed"))
            confirmed[i] = "PD"
            break
        if i == 0:
            continue
        pd_, pc = calls[i - 1][0], calls[i - 1][1]
        if c == "PD" and pc == "PD":
            progression = (pd_, (*calls[i - 1][2], "PD confirmed by two consecutive assessments"))
            confirmed[i] = "PD"
            break
        if "PD" in (c, pc):
            continue
        confirmed[i] = c if rank(c) <= rank(pc) else pc
    end = len(calls) if progression is None else next(
        i for i, x in enumerate(confirmed) if x == "PD")
    best: str | None = None
    best_date: dt.date | None = None
    resp_date: dt.date | None = None
    cr_date: dt.date | None = None
    for i in range(1, end):
        cat = confirmed[i]
        if cat is None or cat == "PD":
            continue
        d = _run_start(calls, i, cat)
        if best is None or rank(cat) > rank(best):
            best, best_date = cat, d
        if resp_date is None and cat in responders:
            resp_date = d
        if cr_date is None and cat in ("CR", "sCR"):
            cr_date = d
    # relapse from CR
    relapse: dt.date | None = None
    if cr_date is not None:
        cr_idx = next(i for i, x in enumerate(calls) if x[0] == cr_date)
        flags = [
            _reappeared(calls[i], None if visits is None else visits[i])
            for i in range(len(calls))
        ]
        for i in range(cr_idx + 2, len(calls)):
            if flags[i - 1] and flags[i]:
                relapse = calls[i - 1][0]
                break
        if relapse is None and progression is not None and progression[0] > cr_date:
            relapse = progression[0]
    mrd_first: dt.date | None = None
    sustained: bool | None = None
    points = []
    mrd_flags: list[tuple[dt.date, bool]] = []
    lt = rules["mrd_negative_lt_pct"]
    for i, (d, c, reasons, _) in enumerate(calls):
        mrd = None
        if visits is not None and visits[i].mrd_pct is not None:
            mrd = visits[i].mrd_pct < lt
            mrd_flags.append((d, mrd))
        points.append(TimelinePoint(d, c, reasons, confirmed[i], mrd))
    if visits is not None and mrd_flags:
        negs = [d for d, neg in mrd_flags if neg]
        mrd_first = negs[0] if negs else None
        sustained = _sustained(mrd_flags, rules["sustained_mrd_days"])
    return MyelomaCourse(
        points=tuple(points),
        best_response=best,
        best_response_date=best_date,
        response_date=resp_date,
        time_to_response_days=None if resp_date is None else (resp_date - start).days,
        progression_date=None if progression is None else progression[0],
        progression_reasons=() if progression is None else progression[1],
        cr_date=cr_date,
        relapse_from_cr_date=relapse,
        first_mrd_negative_date=mrd_first,
        sustained_mrd_negative=sustained,
        source=src,
    )


def _run_start(
    calls: Sequence[tuple[dt.date, str, tuple[str, ...], bool]], i: int, cat: str
) -> dt.date:
    """Date of the first visit of the unbroken run of calls >= ``cat`` ending at ``i``."""
    j = i
    while j > 0 and calls[j - 1][1] != "PD" and category_rank(calls[j - 1][1]) >= category_rank(
        cat
    ):
        j -= 1
    return calls[j][0]


def _reappeared(
    call: tuple[dt.date, str, tuple[str, ...], bool], v: MyelomaVisit | None
) -> bool:
    if call[1] == "PD":
        return True
    if v is None:
        return False
    ge = course_rules()["relapse_from_cr_marrow_pc_ge"]
    return (
        v.immunofixation == "positive"
        or (v.serum_m is not None and v.serum_m > 0)
        or (v.urine_m is not None and v.urine_m > 0)
        or (v.marrow_plasma_cells is not None and v.marrow_plasma_cells >= ge)
    )


def _sustained(flags: Sequence[tuple[dt.date, bool]], days: int) -> bool:
    run_start: dt.date | None = None
    for d, neg in flags:
        if not neg:
            run_start = None
            continue
        if run_start is None:
            run_start = d
        elif (d - run_start).days >= days:
            return True
    return False
