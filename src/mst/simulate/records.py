"""Stage 2 of the simulation: a patient's characteristics and timeline as domain records.

Records dated after the last follow-up (death, administrative cut-off or loss to follow-up)
are left out, as a registry would not hold them.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from mst.cohort.endpoints import age_group
from mst.domain import (
    ClinicalEvent,
    Course,
    CourseKind,
    DeathCause,
    Diagnosis,
    Donor,
    DoseUnit,
    DrugAdministration,
    ElnRisk,
    EventKind,
    Fitness,
    Infusion,
    LabResult,
    Patient,
    PatientRecord,
    Product,
    Relationship,
    ResponseAssessment,
    ResponseCategory,
    Sex,
)
from mst.simulate.config import SimConfig
from mst.simulate.hla import (
    Haplotype,
    donor_haplotypes_with_mismatches,
    gl_string,
    kir_genotype,
    random_haplotype,
)
from mst.simulate.timeline import (
    CourseSpec,
    choice,
    lognormal,
    nausea_vomiting,
    simulate_timeline,
    uniform_int,
)

_DAY = dt.timedelta(days=1)


def bsa_mosteller(height_cm: float, weight_kg: float) -> float:
    """Body-surface area (m²) by Mosteller: sqrt(height_cm × weight_kg / 3600).

    Raises
    ------
    mst.errors.ValidationError
        If height or weight is not positive.
    """
    from mst.errors import ValidationError

    if height_cm <= 0:
        raise ValidationError("height_cm", height_cm, "must be > 0")
    if weight_kg <= 0:
        raise ValidationError("weight_kg", weight_kg, "must be > 0")
    return math.sqrt(height_cm * weight_kg / 3600.0)


def _donor(
    rng: np.random.Generator,
    cfg: SimConfig,
    donor_id: str,
    pid: str,
    age: int,
    recipient: tuple[Haplotype, Haplotype],
    hla_rng: np.random.Generator,
    group: str,
) -> Donor:
    lo, hi = cfg.donor_age_range
    feasible = dict(cfg.p_relationship)
    if age - 15 > hi:
        feasible["sibling"] = 0.0  # a sibling within 15 years of the patient would be > 55
    if age + lo > hi:
        feasible["parent"] = 0.0
    total = sum(feasible.values())
    rel = choice(rng, {k: v / total for k, v in feasible.items()})
    if rel == "child":
        d_age = min(max(age - uniform_int(rng, cfg.child_age_gap[group]), lo), hi)
    elif rel == "sibling":
        d_age = uniform_int(rng, (max(lo, age - 15), hi))
    elif rel == "parent":
        d_age = uniform_int(rng, (age + lo, hi))
    elif rel == "other_related":
        a, b = cfg.other_related_donor_age
        d_age = uniform_int(rng, (max(lo, a), min(hi, b)))
    else:
        mean, sd = cfg.unrelated_donor_age
        d_age = min(max(round(mean + sd * rng.standard_normal()), lo), hi)
    sex = Sex.FEMALE if rng.random() < cfg.p_female_donor else Sex.MALE
    share = rel in ("child", "sibling", "parent") or (
        rel == "other_related" and rng.random() < cfg.p_other_related_haploidentical
    )
    if share:
        shared = recipient[int(rng.integers(0, 2))]
        haps = (shared, random_haplotype(rng))
    else:
        haps = (random_haplotype(rng), random_haplotype(rng))
    if cfg.hla_model == "seed_002":
        # 002 Table 1: every donor 5/10 or 6/10 mismatched. Drawn from the patient's HLA
        # stream; the draws above still consume the clinical stream, so the clinical course
        # is the same under either HLA model.
        target = int(choice(hla_rng, cfg.hla_mismatches_10))
        haps = donor_haplotypes_with_mismatches(
            hla_rng, recipient, target, haploidentical=share
        )
    return Donor(
        id=donor_id,
        patient_id=pid,
        relationship=Relationship(rel),
        sex=sex,
        age=int(d_age),
        hla_typing=gl_string(*haps),
        kir_genotype=kir_genotype(rng),
    )


def _administrations(
    c: CourseSpec, cfg: SimConfig, group: str, bsa: float
) -> tuple[DrugAdministration, ...]:
    out: list[DrugAdministration] = []
    if c.regimen == "002-IDAC":
        dose = round(cfg.cytarabine_consolidation_g_m2[group] * 1000 * bsa / 10) * 10
        for day in (1, 2, 3):
            for _ in range(2):  # q12h
                out.append(
                    DrugAdministration(
                        drug="cytarabine", dose=dose, unit=DoseUnit.MG, day=day, route="IV"
                    )
                )
        return tuple(out)
    if c.regimen == "002-IA":
        drug, per_m2 = "idarubicin", cfg.idarubicin_mg_m2[group]
    else:
        drug, per_m2 = "mitoxantrone", cfg.mitoxantrone_mg_m2[group]
    anthra = round(per_m2 * bsa, 1)
    ara = round(cfg.cytarabine_induction_mg_m2[group] * bsa / 5) * 5
    for day in range(1, 8):
        if day <= 3:
            out.append(
                DrugAdministration(drug=drug, dose=anthra, unit=DoseUnit.MG, day=day, route="IV")
            )
        out.append(
            DrugAdministration(drug="cytarabine", dose=ara, unit=DoseUnit.MG, day=day, route="IV")
        )
    return tuple(out)


def _curve(days: np.ndarray, knots: list[tuple[float, float]]) -> np.ndarray:
    xs = [k[0] for k in knots]
    ys = [math.log(k[1]) for k in knots]
    return np.exp(np.interp(days, xs, ys))


def _counts(
    rng: np.random.Generator, cfg: SimConfig, c: CourseSpec, last_day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Daily ANC and platelets for course days 1..last_day (some days missing)."""
    days = np.arange(1, last_day + 1, dtype=float)
    ra, rp, o = c.anc_recovery, c.plt_recovery, c.onset
    anc_knots = [(1.0, c.anc_base)]
    plt_knots = [(1.0, c.plt_base)]
    if o > 1:
        anc_knots.append((o, min(c.anc_base, 1.6)))
        plt_knots.append((o, min(c.plt_base, 80.0)))
    anc_knots += [
        ((o + ra) / 2, min(c.anc_nadir, 0.3)),
        (ra - 1, 0.4),
        (ra, 0.7),
        (ra + 6, c.anc_final),
    ]
    plt_knots += [
        ((o + rp) / 2, min(c.plt_nadir, 22.0)),
        (rp - 1, 24.0),
        (rp, 40.0),
        (rp + 8, c.plt_final),
    ]
    anc_knots = _increasing(anc_knots)
    plt_knots = _increasing(plt_knots)
    noise = np.exp(cfg.lab_noise_sigma * rng.standard_normal((2, days.size)))
    anc = np.clip(np.round(_curve(days, anc_knots) * noise[0], 2), 0.0, 100.0)
    plt = np.clip(np.round(_curve(days, plt_knots) * noise[1], 0), 0.0, 1500.0)
    keep = rng.random(days.size) >= cfg.p_missing_lab_day
    keep[0] = True
    return days[keep].astype(int), anc[keep], plt[keep]


def _increasing(knots: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for x, y in knots:
        if out and x <= out[-1][0]:
            x = out[-1][0] + 0.5
        out.append((x, y))
    return out


def simulate_patient(
    rng: np.random.Generator,
    cfg: SimConfig,
    pid: str,
    center_id: str,
    hla_rng: np.random.Generator,
    ae_rng: np.random.Generator,
) -> PatientRecord:
    """Simulate one patient record.

    Parameters
    ----------
    rng : numpy.random.Generator
        The patient's generator (clinical course).
    cfg : SimConfig
        Calibrated parameters.
    pid, center_id : str
        Pseudonymous patient id and center id.
    hla_rng : numpy.random.Generator
        The patient's generator for the recipient HLA haplotypes (a separate stream, so that
        changes elsewhere in the model leave the typings unchanged); with the default
        ``hla_model`` also the donor typings.
    ae_rng : numpy.random.Generator
        The patient's generator for nausea and vomiting (a third stream, so that adding them
        left every other draw unchanged).

    Returns
    -------
    mst.domain.PatientRecord
        A record that passes :meth:`~mst.domain.PatientRecord.check_consistency`.
    """
    group = choice(rng, cfg.p_age_group)
    age = uniform_int(rng, cfg.age_range[group])
    group = age_group(age)  # the same groups as the flat table (002 Methods)
    sex = Sex.MALE if rng.random() < cfg.p_male else Sex.FEMALE
    span = (cfg.accrual_end - cfg.accrual_start).days
    dx = cfg.accrual_start + dt.timedelta(days=int(rng.integers(0, span + 1)))
    diagnosis = Diagnosis.MDS if rng.random() < cfg.p_mds else Diagnosis.AML
    risk = choice(rng, cfg.p_eln_risk)
    fitness = choice(rng, cfg.p_fitness[group])
    h_mean, h_sd = cfg.height_cm[sex.value]
    height = round(min(max(h_mean + h_sd * rng.standard_normal(), 140.0), 200.0), 1)
    bmi = min(max(cfg.bmi[0] + cfg.bmi[1] * rng.standard_normal(), 17.0), 40.0)
    weight = round(bmi * (height / 100) ** 2, 1)
    bsa = bsa_mosteller(height, weight)
    cutoff_day = (cfg.cutoff_date - dx).days

    recipient = recipient_haplotypes(hla_rng)
    donors = [_donor(rng, cfg, f"{pid}-D1", pid, age, recipient, hla_rng, group)]
    second = rng.random() < cfg.p_second_donor
    donors.append(
        _donor(rng, cfg, f"{pid}-D2", pid, age, recipient, hla_rng, group)
    )  # drawn always (stable stream)
    tl = simulate_timeline(
        rng,
        cfg,
        age=age,
        age_group=group,
        eln_risk=risk,
        fitness=fitness,
        second_donor=second,
        cutoff_day=cutoff_day,
    )
    tl.events.extend(nausea_vomiting(ae_rng, cfg, tl))

    # last follow-up: death, loss to follow-up or administrative cut-off
    end = cutoff_day if tl.death_day is None else min(tl.death_day, cutoff_day)
    first = tl.courses[0].start
    lost = rng.random() < cfg.p_lost_to_followup
    lost_day = uniform_int(rng, (first + 30, max(first + 30, end - 1)))
    if lost and lost_day < end:
        end = lost_day
        tl.lost_day = lost_day
    dead = tl.death_day is not None and tl.death_day <= end

    def date(day: int) -> dt.date:
        return dx + dt.timedelta(days=int(day))

    patient = Patient(
        hla_typing=gl_string(*recipient),
        id=pid,
        center_id=center_id,
        sex=sex,
        age_at_diagnosis=age,
        diagnosis=diagnosis,
        diagnosis_date=dx,
        eln_risk=ElnRisk(risk),
        fitness=Fitness(fitness),
        height_cm=height,
        weight_kg=weight,
        last_followup_date=date(end),
    )
    # cell doses: one collection aliquoted per course (002 Methods), per-course variation
    mnc0 = lognormal(rng, cfg.mnc_1e8_per_kg["median"], cfg.mnc_1e8_per_kg["sigma"])
    cd3_0 = lognormal(rng, cfg.cd3_1e8_per_kg["median"], cfg.cd3_1e8_per_kg["sigma"])
    cd34_0 = lognormal(rng, cfg.cd34_1e6_per_kg["median"], cfg.cd34_1e6_per_kg["sigma"])

    courses: list[Course] = []
    infusions: list[Infusion] = []
    labs: list[LabResult] = []
    responses: list[ResponseAssessment] = []
    used_donors: set[int] = set()
    kept = [c for c in tl.courses if c.infusion_day <= end]
    for i, c in enumerate(kept):
        donor = donors[c.donor_index]
        start = date(c.start)
        courses.append(
            Course(
                patient_id=pid,
                number=c.number,
                kind=CourseKind(c.kind),
                regimen_id=c.regimen,
                start_date=start,
                administrations=_administrations(c, cfg, group, bsa),
            )
        )
        first_for_donor = c.donor_index not in used_donors
        used_donors.add(c.donor_index)
        var = np.exp(cfg.course_dose_sigma * rng.standard_normal(3))
        infused_at = dt.datetime.combine(date(c.last_chemo), dt.time(10, 0)) + dt.timedelta(
            hours=c.infusion_hours
        )
        infusions.append(
            Infusion(
                patient_id=pid,
                course_number=c.number,
                donor_id=donor.id,
                infused_at=infused_at,
                mnc_1e8_per_kg=round(mnc0 * var[0], 2),
                cd34_1e6_per_kg=round(cd34_0 * var[1], 2),
                cd3_1e8_per_kg=round(cd3_0 * var[2], 2),
                product=Product.FRESH if first_for_donor else Product.CRYOPRESERVED,
            )
        )
        limit = end
        if i + 1 < len(kept):
            limit = min(limit, kept[i + 1].start - 1)
        last_day = min(max(c.anc_recovery, c.plt_recovery) + c.lab_extra_days, limit - c.start + 1)
        days, anc, plt = _counts(rng, cfg, c, max(last_day, 1))
        # Values are generated in the canonical unit and inside the physiological range
        # (clipped in _counts): copies of a validated template skip re-validation for speed;
        # tests/simulate re-validate every simulated lab.
        anc_tmpl = LabResult(patient_id=pid, date=start, analyte="anc", value=1.0, unit="10^9/L")
        plt_tmpl = LabResult(
            patient_id=pid, date=start, analyte="platelets", value=1.0, unit="10^9/L"
        )
        for d, a, p in zip(days.tolist(), anc.tolist(), plt.tolist(), strict=True):
            when = start + dt.timedelta(days=d - 1)
            labs.append(anc_tmpl.model_copy(update={"date": when, "value": a}))
            labs.append(plt_tmpl.model_copy(update={"date": when, "value": p}))
        # chimerism at count recovery, before the next course (002 Methods)
        if c.recovery <= limit:
            labs.append(
                LabResult(
                    patient_id=pid,
                    date=date(c.recovery),
                    analyte="donor_chimerism",
                    value=c.chimerism_pct,
                    unit="%",
                    donor_id=donor.id,
                )
            )
        if c.response is not None and c.response_offset is not None:
            r_day = c.start + c.response_offset
            if r_day <= end:
                responses.append(
                    ResponseAssessment(
                        patient_id=pid, date=date(r_day), category=ResponseCategory(c.response)
                    )
                )

    events: list[tuple[dt.date, ClinicalEvent]] = []

    def add(day: int, **kw: object) -> None:
        if day <= end:
            events.append((date(day), ClinicalEvent(patient_id=pid, date=date(day), **kw)))  # type: ignore[arg-type]

    for day, kind in tl.events:
        add(day, kind=EventKind(kind))
    if tl.crs is not None:
        add(tl.crs[0], kind=EventKind.CRS, grade=tl.crs[1])
        add(tl.crs[0], kind=EventKind.FEVER, detail="with CRS")
    if tl.gvhd is not None:
        onset, grade = tl.gvhd
        add(onset, kind=EventKind.GVHD, grade=grade, detail="acute GVHD")
        add(onset, kind=EventKind.FEVER, detail="with GVHD")
        add(onset, kind=EventKind.RASH, detail="with GVHD")
        gvhd_donor = next(
            (x.donor_id for x in reversed(infusions) if x.infused_at.date() <= date(onset)),
            donors[0].id,
        )
        for k, pct in enumerate(
            (round(float(rng.uniform(5, 10)), 3), round(float(rng.uniform(15, 35)), 3))
        ):
            if onset + 7 * k <= end:
                labs.append(
                    LabResult(
                        patient_id=pid,
                        date=date(onset + 7 * k),
                        analyte="donor_chimerism",
                        value=pct,
                        unit="%",
                        donor_id=gvhd_donor,
                    )
                )
    if tl.relapse_day is not None and tl.relapse_day <= end:
        add(tl.relapse_day, kind=EventKind.RELAPSE)
        responses.append(
            ResponseAssessment(
                patient_id=pid, date=date(tl.relapse_day), category=ResponseCategory.RELAPSE
            )
        )
    if dead:
        assert tl.death_day is not None and tl.death_cause is not None
        add(
            tl.death_day,
            kind=EventKind.DEATH,
            cause=DeathCause(tl.death_cause),
            detail=tl.death_detail,
        )
    if tl.lost_day is not None and tl.lost_day == end and not dead:
        add(end, kind=EventKind.LOST_TO_FOLLOWUP)
    events.sort(key=lambda e: (e[0], e[1].kind.value))
    labs.sort(key=lambda x: (x.date, x.analyte))
    responses.sort(key=lambda r: r.date)
    n_donors = 2 if any(c.donor_index == 1 for c in kept) else 1
    return PatientRecord(
        patient=patient,
        donors=tuple(donors[:n_donors]),
        courses=tuple(courses),
        infusions=tuple(infusions),
        labs=tuple(labs),
        events=tuple(e for _, e in events),
        responses=tuple(responses),
    )


def recipient_haplotypes(hla_rng: np.random.Generator) -> tuple[Haplotype, Haplotype]:
    """Draw the recipient's two HLA haplotypes from the patient's HLA stream."""
    return random_haplotype(hla_rng), random_haplotype(hla_rng)
