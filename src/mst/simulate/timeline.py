"""Stage 1 of the simulation: one patient's clinical course as a timeline of day offsets.

The multi-state model (diagnosis → induction → CR / no CR / early death → re-induction →
consolidation courses → relapse / death without relapse / alive at last follow-up) is drawn
here, with days counted from the diagnosis date. :mod:`mst.simulate.records` turns the timeline
into domain records. All randomness comes from the generator passed in, in a fixed order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mst.simulate.config import SimConfig

DAYS_PER_MONTH = 30.4375


@dataclass
class CourseSpec:
    """One simulated course (days from diagnosis; ``day`` 1 of the course = ``start``)."""

    number: int
    kind: str  # induction / reinduction / consolidation
    regimen: str  # 002-IA / 002-MA / 002-IDAC
    start: int
    donor_index: int
    infusion_hours: int  # hours after 10:00 on the last chemotherapy day
    onset: int  # course day of cytopenia onset (002 Study endpoints)
    anc_recovery: int  # course day of neutrophil recovery
    plt_recovery: int  # course day of platelet recovery
    anc_base: float
    plt_base: float
    anc_nadir: float
    plt_nadir: float
    anc_final: float
    plt_final: float
    lab_extra_days: int
    chimerism_pct: float
    response_offset: int | None = None  # days after start of the response assessment
    response: str | None = None  # response category after an induction-type course

    @property
    def chemo_days(self) -> int:
        """Days of chemotherapy (7 for IA/MA, 3 for intermediate-dose cytarabine)."""
        return 3 if self.regimen == "002-IDAC" else 7

    @property
    def last_chemo(self) -> int:
        """Day offset (from diagnosis) of the last chemotherapy dose."""
        return self.start + self.chemo_days - 1

    @property
    def infusion_day(self) -> int:
        """Day offset (from diagnosis) of the infusion (10:00 on the last day + hours)."""
        return self.last_chemo + (10 + self.infusion_hours) // 24

    @property
    def recovery(self) -> int:
        """Day offset (from diagnosis) of count recovery (both lineages)."""
        return self.start + max(self.anc_recovery, self.plt_recovery) - 1


@dataclass
class Timeline:
    """A patient's simulated history in day offsets from diagnosis."""

    age_group: str
    courses: list[CourseSpec] = field(default_factory=list)
    cr_day: int | None = None
    relapse_day: int | None = None
    death_day: int | None = None
    death_cause: str | None = None
    death_detail: str | None = None
    lost_day: int | None = None
    gvhd: tuple[int, int] | None = None  # (onset day, grade)
    crs: tuple[int, int] | None = None  # (day, grade)
    events: list[tuple[int, str]] = field(default_factory=list)  # adverse events (day, kind)


def choice(rng: np.random.Generator, dist: dict[str, float]) -> str:
    """Draw a key of ``dist`` (keys taken in sorted order, so independent of dict order)."""
    keys = sorted(dist)
    u = rng.random()
    acc = 0.0
    for k in keys:
        acc += dist[k]
        if u < acc:
            return k
    return keys[-1]


def uniform_int(rng: np.random.Generator, bounds: tuple[int, int] | list[int]) -> int:
    """Integer uniformly drawn from the inclusive range ``bounds``."""
    lo, hi = int(bounds[0]), int(bounds[1])
    return int(rng.integers(lo, hi + 1))


def lognormal(rng: np.random.Generator, median: float, sigma: float) -> float:
    """Log-normal draw with the given median and log-scale SD."""
    return float(median * math.exp(sigma * rng.standard_normal()))


def odds_adjust(p: float, odds_ratio: float) -> float:
    """Probability ``p`` with its odds multiplied by ``odds_ratio``."""
    if p <= 0 or p >= 1:
        return p
    o = p / (1 - p) * odds_ratio
    return o / (1 + o)


def gompertz_years(rng: np.random.Generator, age: float, rate60: float, slope: float) -> float:
    """Time (years) to a death from a Gompertz hazard ``rate60 * exp(slope * (age - 60))``."""
    e = rng.exponential()
    h0 = rate60 * math.exp(slope * (age - 60))
    return math.log1p(e * slope / h0) / slope


def _course(
    rng: np.random.Generator,
    cfg: SimConfig,
    number: int,
    kind: str,
    regimen: str,
    start: int,
    donor_index: int,
) -> CourseSpec:
    phase = "consolidation" if kind == "consolidation" else "induction"
    anc_base = lognormal(rng, cfg.baseline_anc[phase], cfg.baseline_anc["sigma"])
    plt_base = lognormal(rng, cfg.baseline_platelets[phase], cfg.baseline_platelets["sigma"])
    anc_base = min(max(anc_base, 0.05), 15.0)
    plt_base = min(max(plt_base, 5.0), 600.0)
    onset = 1 if (anc_base < 2 and plt_base < 100) else uniform_int(rng, (4, 7))
    t_anc = max(
        5, round(lognormal(rng, cfg.anc_recovery_days[phase], cfg.anc_recovery_days["sigma"]))
    )
    t_plt = max(
        5,
        round(
            lognormal(rng, cfg.platelet_recovery_days[phase], cfg.platelet_recovery_days["sigma"])
        ),
    )
    chim = 0.0
    if rng.random() < cfg.p_microchimerism:
        lo, hi = cfg.microchimerism_pct
        chim = round(float(math.exp(rng.uniform(math.log(lo), math.log(hi)))), 3)
    return CourseSpec(
        number=number,
        kind=kind,
        regimen=regimen,
        start=start,
        donor_index=donor_index,
        infusion_hours=uniform_int(rng, cfg.infusion_delay_hours),
        onset=onset,
        anc_recovery=onset + t_anc,
        plt_recovery=onset + t_plt,
        anc_base=anc_base,
        plt_base=plt_base,
        anc_nadir=float(rng.uniform(*cfg.nadir_anc)),
        plt_nadir=float(rng.uniform(*cfg.nadir_platelets)),
        anc_final=float(rng.uniform(1.8, 4.5)),
        plt_final=float(rng.uniform(100.0, 260.0)),
        lab_extra_days=uniform_int(rng, (3, 5)),
        chimerism_pct=chim,
    )


def _response_offset(rng: np.random.Generator, c: CourseSpec) -> int:
    return max(c.anc_recovery, c.plt_recovery, 21) - 1 + uniform_int(rng, (2, 7))


def simulate_timeline(
    rng: np.random.Generator,
    cfg: SimConfig,
    *,
    age: int,
    age_group: str,
    eln_risk: str | None,
    fitness: str,
    second_donor: bool,
    cutoff_day: int,
) -> Timeline:
    """Draw one patient's clinical course.

    Parameters
    ----------
    rng : numpy.random.Generator
        The patient's own generator.
    cfg : SimConfig
        Calibrated parameters.
    age, age_group, eln_risk, fitness : various
        Patient characteristics (drawn by the caller).
    second_donor : bool
        Whether courses from number 4 on use a second donor (004 §2.2).
    cutoff_day : int
        Administrative end of follow-up, in days from diagnosis.

    Returns
    -------
    Timeline
        Day offsets from diagnosis; nothing is censored yet.
    """
    tl = Timeline(age_group=age_group)
    risk = eln_risk or "intermediate"
    regimen = "002-IA" if rng.random() < cfg.p_regimen_ia else "002-MA"
    s1 = uniform_int(rng, cfg.diagnosis_to_chemo_days)
    c1 = _course(rng, cfg, 1, "induction", regimen, s1, 0)
    tl.courses.append(c1)

    # early death (002 Study endpoints: within 4 weeks of chemotherapy initiation)
    p_ed = cfg.p_early_death[age_group]
    if fitness == "frail":
        p_ed = odds_adjust(p_ed, cfg.early_death_frail_or)
    if rng.random() < p_ed:
        tl.death_day = s1 + uniform_int(rng, cfg.early_death_day)
        tl.death_cause = choice(rng, cfg.early_death_causes)
        tl.death_detail = "early death during induction aplasia"
        if tl.death_cause == "infection":
            tl.events.append((max(s1 + 4, tl.death_day - uniform_int(rng, (1, 4))), "sepsis"))
        _adverse_events(rng, cfg, tl)
        return tl

    # induction response(s) (004 §4.3: at most two inductions)
    p_cr1 = odds_adjust(cfg.p_cr_first_induction[age_group], cfg.cr_risk_or[risk])
    c1.response_offset = _response_offset(rng, c1)
    last_induction = c1
    if rng.random() < p_cr1:
        c1.response = choice(rng, cfg.cr_categories)
    else:
        c1.response = choice(rng, cfg.non_cr_categories)
        if rng.random() < cfg.p_reinduction:
            s2 = s1 + c1.response_offset + uniform_int(rng, (5, 14))
            c2 = _course(rng, cfg, 2, "reinduction", regimen, s2, 0)
            tl.courses.append(c2)
            last_induction = c2
            if rng.random() < cfg.p_reinduction_death:
                tl.death_day = s2 + uniform_int(rng, (10, 30))
                tl.death_cause = choice(rng, cfg.early_death_causes)
                tl.death_detail = "death during re-induction aplasia"
                _adverse_events(rng, cfg, tl)
                return tl
            c2.response_offset = _response_offset(rng, c2)
            if rng.random() < cfg.p_cr_second_induction:
                c2.response = choice(rng, cfg.cr_categories)
            else:
                c2.response = choice(rng, cfg.non_cr_categories)

    assert last_induction.response is not None and last_induction.response_offset is not None
    response_day = last_induction.start + last_induction.response_offset
    if last_induction.response not in cfg.cr_categories:
        rs = cfg.refractory_survival_months
        months = lognormal(rng, rs["median"][age_group], rs["sigma"])
        tl.death_day = response_day + max(7, round(months * DAYS_PER_MONTH))
        tl.death_cause = "relapse"
        tl.death_detail = "refractory disease (no CR after induction)"
        _adverse_events(rng, cfg, tl)
        return tl

    # complete remission: relapse, non-relapse death and consolidation courses
    tl.cr_day = response_day
    p_rel = min(0.95, cfg.p_relapse[age_group] * cfg.relapse_risk_multiplier[risk])
    relapse_day: float = math.inf
    if rng.random() < p_rel:
        rm = cfg.relapse_months
        months = lognormal(rng, rm["median"][age_group], rm["sigma"])
        relapse_day = response_day + max(30, round(months * DAYS_PER_MONTH))
    bm = cfg.background_mortality
    years = gompertz_years(
        rng, age + response_day / 365.25, bm["rate_at_60_per_year"], bm["gompertz_slope_per_year"]
    )
    nrm_day: float = response_day + max(1, round(years * 365.25))
    nrm_cause = choice(rng, cfg.nrm_causes)
    nrm_detail = "non-relapse death"
    n_planned = int(choice(rng, cfg.consolidations_planned[age_group]))
    gvhd_course = uniform_int(rng, (1, n_planned)) if rng.random() < cfg.p_gvhd else 0
    gvhd_death: float = math.inf
    start = max(
        last_induction.last_chemo + uniform_int(rng, cfg.first_consolidation_days), response_day + 3
    )
    number = len(tl.courses)
    for j in range(1, n_planned + 1):
        if start >= min(relapse_day, nrm_day, gvhd_death) or start > cutoff_day:
            break
        number += 1
        donor_index = 1 if (second_donor and number >= 4) else 0
        c = _course(rng, cfg, number, "consolidation", "002-IDAC", start, donor_index)
        tl.courses.append(c)
        if rng.random() < cfg.p_course_death:
            d = start + uniform_int(rng, (10, 30))
            if d < nrm_day:
                nrm_day, nrm_cause, nrm_detail = d, "infection", "treatment-related death after MST"
            break
        if j == gvhd_course:
            onset = c.last_chemo + 1 + uniform_int(rng, (7, 30))
            grade = int(choice(rng, cfg.gvhd_grades))
            tl.gvhd = (onset, grade)
            if grade >= 3 and rng.random() < cfg.p_gvhd_death_severe:
                gvhd_death = onset + uniform_int(rng, (14, 50))
            if grade >= 2:
                break
        start += uniform_int(rng, cfg.consolidation_interval_days)

    relapse_death: float = math.inf
    if relapse_day < math.inf:
        pr = cfg.post_relapse_survival_months
        months = lognormal(rng, pr["median"][age_group], pr["sigma"])
        relapse_death = relapse_day + max(7, round(months * DAYS_PER_MONTH))
    death = min(relapse_death, nrm_day, gvhd_death)
    if relapse_day < death:
        tl.relapse_day = int(relapse_day)
    tl.death_day = int(death)
    if death == gvhd_death:
        tl.death_cause, tl.death_detail = "gvhd", "acute GVHD, multiorgan failure"
    elif death == relapse_death:
        tl.death_cause, tl.death_detail = "relapse", "relapsed leukemia"
    else:
        tl.death_cause, tl.death_detail = nrm_cause, nrm_detail
    if rng.random() < cfg.p_crs:
        c = tl.courses[uniform_int(rng, (0, len(tl.courses) - 1))]
        tl.crs = (c.infusion_day, 1 if rng.random() < 0.8 else 2)
    _adverse_events(rng, cfg, tl)
    return tl


def _adverse_events(rng: np.random.Generator, cfg: SimConfig, tl: Timeline) -> None:
    """Patient-level adverse events (002 Results), each on one course, day 3–20."""
    for kind in sorted(cfg.adverse_events):
        u = rng.random()
        k = uniform_int(rng, (0, len(tl.courses) - 1))
        day = tl.courses[k].start + uniform_int(rng, (3, 20))
        if u < cfg.adverse_events[kind]:
            if tl.death_day is not None:
                day = min(day, tl.death_day)
            tl.events.append((day, kind))


def nausea_vomiting(
    rng: np.random.Generator, cfg: SimConfig, tl: Timeline
) -> list[tuple[int, str]]:
    """Nausea and vomiting (002 Supplementary Table 1) of one patient as ``(day, kind)``.

    One uniform draw decides both (``u < p``), so a patient with the rarer symptom has the
    commoner one too; both fall on one day of chemotherapy of one course (not after death).
    Always four draws from ``rng``, whatever the outcome.

    Parameters
    ----------
    rng : numpy.random.Generator
        The patient's stream for these events.
    cfg : SimConfig
        Parameters (``nausea_vomiting``).
    tl : Timeline
        The patient's timeline (courses, death day).

    Returns
    -------
    list of tuple
        ``[(day, "nausea"), (day, "vomiting")]`` or fewer.
    """
    u = rng.random()
    k = uniform_int(rng, (0, len(tl.courses) - 1))
    course = tl.courses[k]
    day = course.start + uniform_int(rng, (0, course.chemo_days - 1))
    later = uniform_int(rng, (0, 1))  # vomiting on the same or the next day
    if tl.death_day is not None:
        day = min(day, tl.death_day)
    out = []
    if u < cfg.nausea_vomiting["nausea"]:
        out.append((day, "nausea"))
    if u < cfg.nausea_vomiting["vomiting"]:
        v = day + later if tl.death_day is None else min(day + later, tl.death_day)
        out.append((v, "vomiting"))
    return out
