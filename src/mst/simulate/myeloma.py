"""Seeded synthetic myeloma MST cohort calibrated to seed 003.

Parameters and targets are in ``mst/data/simulate/myeloma_calibration.yaml`` (each with its
source). Every patient has its own generator derived from ``(seed, k)``, so patient ``k`` is
the same whatever ``n``. Each record holds what a registry would: staging labs and FISH /
bone-disease events at diagnosis, the response category before MST, MST courses with their
infusions, dated IMWG findings (serum M-protein, immunofixation, marrow plasma cells, MRD)
whose categories are computed by :mod:`mst.monitoring.myeloma_course` and recorded as response
assessments, fever/CRS events per course, donor microchimerism, lymphocyte subsets before and
after MST, progression and death.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterator
from importlib import resources
from typing import Any

import numpy as np
import yaml

from mst.domain import (
    Center,
    ClinicalEvent,
    Cohort,
    Course,
    CourseKind,
    DeathCause,
    Diagnosis,
    Donor,
    EventKind,
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
from mst.errors import ValidationError

_DAY = dt.timedelta(days=1)
_TAG = 1803  # separates the myeloma streams from the AML simulator's


@functools.cache
def _raw() -> dict[str, Any]:
    text = resources.files("mst.data").joinpath("simulate/myeloma_calibration.yaml").read_text(
        "utf-8"
    )
    data = yaml.safe_load(text)
    for name, entry in data["parameters"].items():
        if set(entry) != {"value", "source"} or not entry["source"]:
            raise ValueError(f"myeloma_calibration.yaml: {name} needs a value and a source")
    return data


def myeloma_parameters() -> dict[str, Any]:
    """``{name: value}`` of the calibration file."""
    return {k: v["value"] for k, v in _raw()["parameters"].items()}


def myeloma_parameter_sources() -> dict[str, str]:
    """``{name: source}`` of the calibration file."""
    return {k: str(v["source"]) for k, v in _raw()["parameters"].items()}


def clopper_pearson(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) binomial confidence interval for ``x`` of ``n``."""
    from scipy.stats import beta

    a = 1 - level
    lo = 0.0 if x == 0 else float(beta.ppf(a / 2, x, n - x + 1))
    hi = 1.0 if x == n else float(beta.ppf(1 - a / 2, x + 1, n - x))
    return lo, hi


def calibration_targets() -> dict[str, dict[str, Any]]:
    """Seed 003's figures: ``{name: {seed, x, n, estimate, interval, definition}}``."""
    out = {}
    for k, t in _raw()["targets"].items():
        out[k] = {**t, "estimate": t["x"] / t["n"], "interval": clopper_pearson(t["x"], t["n"])}
    return out


def _choice(rng: np.random.Generator, dist: dict[str, float]) -> str:
    keys = list(dist)
    p = np.array([dist[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _uint(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(rng.integers(lo, hi + 1))


def _date_between(rng: np.random.Generator, a: dt.date, b: dt.date) -> dt.date:
    return a + _DAY * _uint(rng, 0, (b - a).days)


def _staging(rng: np.random.Generator, pr: dict[str, Any]) -> dict[str, Any]:
    iss = _choice(rng, pr["p_iss"])
    if iss == "III":
        b2m = float(rng.uniform(5.6, 12.0))
        alb = float(rng.uniform(2.5, 4.2))
    elif iss == "I":
        b2m = float(rng.uniform(1.5, 3.4))
        alb = float(rng.uniform(3.6, 4.8))
    else:
        b2m = float(rng.uniform(1.5, 5.4))
        alb = float(rng.uniform(2.5, 3.4)) if b2m < 3.5 else float(rng.uniform(2.8, 4.6))
    fish = [f for f, p in pr["p_fish"].items() if rng.random() < p]
    if "amp1q" in fish and "gain1q" in fish:
        fish.remove("gain1q")
    ds = _choice(rng, pr["p_ds_stage"])
    iga = rng.random() < pr["p_iga"]
    if ds == "I":
        hb, ca, bone = rng.uniform(10.5, 14.0), rng.uniform(8.6, 10.2), _uint(rng, 0, 1)
        m = rng.uniform(1.0, 2.8) if iga else rng.uniform(1.5, 4.8)
    elif ds == "II":
        hb, ca, bone = rng.uniform(8.7, 11.5), rng.uniform(8.6, 11.0), _uint(rng, 2, 3)
        m = rng.uniform(3.2, 4.8) if iga else rng.uniform(5.2, 6.8)
    else:
        hb, ca = rng.uniform(6.5, 8.3), rng.uniform(9.0, 13.5)
        bone = "advanced" if rng.random() < 0.5 else _uint(rng, 4, 12)
        m = rng.uniform(3.2, 6.5) if iga else rng.uniform(4.0, 9.0)
    creat = rng.uniform(2.1, 4.5) if rng.random() < pr["p_renal_b"] else rng.uniform(0.6, 1.6)
    ldh_uln = 250.0
    ldh = rng.uniform(260, 600) if rng.random() < pr["p_ldh_high"] else rng.uniform(120, 240)
    return {"iss": iss, "b2m": b2m, "alb": alb, "fish": fish, "ds": ds, "iga": iga, "hb": hb,
            "ca": ca, "bone": bone, "m": float(m), "creat": creat, "ldh": ldh,
            "ldh_uln": ldh_uln}


_LEVELS = {"CR": (0.0, 0.0), "VGPR": (0.03, 0.08), "PR": (0.18, 0.42), "SD": (0.82, 0.95)}


def _level(rng: np.random.Generator, cat: str, m0: float) -> float:
    lo, hi = _LEVELS[cat]
    return round(float(m0 * rng.uniform(lo, hi)), 3)


def _myeloma_findings(
    rng: np.random.Generator, cat: str, m: float, pid: str, d: dt.date, mrd_negative: bool,
) -> list[LabResult]:
    labs = [LabResult(patient_id=pid, date=d, analyte="serum_m_protein", value=m, unit="g/dL"),
            LabResult(patient_id=pid, date=d, analyte="immunofixation",
                      value=0.0 if cat == "CR" else 1.0, unit="result")]
    if cat == "CR":
        labs.append(LabResult(patient_id=pid, date=d, analyte="marrow_plasma_cells",
                              value=round(float(rng.uniform(0.5, 4.0)), 1), unit="%"))
        mrd = 0.0 if mrd_negative else round(float(rng.uniform(0.002, 0.5)), 4)
        labs.append(LabResult(patient_id=pid, date=d, analyte="mrd", value=mrd, unit="%"))
    return labs


def simulate_myeloma_patient(
    rng: np.random.Generator, pid: str, center_id: str, pr: dict[str, Any] | None = None
) -> PatientRecord:
    """One simulated myeloma patient (see the module docstring)."""
    from mst.monitoring.myeloma_course import MyelomaVisit, myeloma_course

    pr = pr or myeloma_parameters()
    cutoff: dt.date = pr["cutoff_date"]
    sex = Sex.MALE if rng.random() < pr["p_male"] else Sex.FEMALE
    age = _uint(rng, *pr["age_range"])
    first = _date_between(rng, pr["accrual_start"], pr["accrual_end"])
    dx = first - _DAY * _uint(rng, *pr["diagnosis_to_mst_days"])
    st = _staging(rng, pr)
    labs: list[LabResult] = []
    events: list[ClinicalEvent] = []
    responses: list[ResponseAssessment] = []

    def lab(d: dt.date, analyte: str, value: float, unit: str, donor: str | None = None) -> None:
        labs.append(LabResult(patient_id=pid, date=d, analyte=analyte, value=round(value, 3),
                              unit=unit, donor_id=donor))

    for analyte, value, unit in (
        ("beta2_microglobulin", st["b2m"], "mg/L"), ("albumin", st["alb"], "g/dL"),
        ("ldh", st["ldh"], "U/L"), ("ldh_uln", st["ldh_uln"], "U/L"),
        ("hemoglobin", st["hb"], "g/dL"), ("calcium", st["ca"], "mg/dL"),
        ("creatinine", st["creat"], "mg/dL"),
        ("m_protein_iga" if st["iga"] else "m_protein_igg", st["m"], "g/dL"),
        ("marrow_plasma_cells", float(rng.uniform(15, 60)), "%"),
    ):
        lab(dx, analyte, value, unit)
    lab(dx, "serum_m_protein", st["m"], "g/dL")
    lab(dx, "immunofixation", 1.0, "result")
    for f in st["fish"] or ["none"]:
        events.append(ClinicalEvent(patient_id=pid, date=dx, kind=EventKind.CYTOGENETICS,
                                    detail=f))
    events.append(ClinicalEvent(patient_id=pid, date=dx, kind=EventKind.BONE_DISEASE,
                                detail=str(st["bone"])))
    pre = _choice(rng, pr["status_before_mst"])
    pre_date = first - _DAY * 7
    m0 = st["m"]
    pre_m = _level(rng, pre, m0)
    mrd_neg = bool(rng.random() < pr["p_mrd_negative_in_cr"])  # per patient, in CR
    labs.extend(_myeloma_findings(rng, pre, pre_m, pid, pre_date, mrd_neg))
    responses.append(ResponseAssessment(patient_id=pid, date=pre_date,
                                        category=ResponseCategory(pre)))
    for analyte, (mu, sd) in pr["immune_pre"].items():
        lab(pre_date, analyte, float(np.clip(rng.normal(mu, sd), 2, 95)), "%")

    # --- outcome times (days from the first MST)
    responder = rng.random() < pr["p_response"][pre]
    best = _choice(rng, pr["response_depth"][pre]) if responder else "SD"
    hr = pr["progression_hr"]
    rate = pr["progression_rate_per_year"] * (1 if responder else hr["non_responder"])
    rate *= hr["pre_mst_below_vgpr"] if pre in ("PR", "SD") else 1
    rate *= hr["ds_stage_iii"] if st["ds"] == "III" else 1
    high = bool(set(st["fish"]) & {"del17p", "t(4;14)", "t(14;16)", "t(14;20)", "gain1q",
                                    "amp1q"})
    rate *= hr["msmart_high"] if high else 1
    t_prog = float(rng.exponential(365.25 / rate))
    t_nrm = float(rng.exponential(365.25 / pr["nrm_rate_per_year"]))
    planned = int(_choice(rng, pr["cycles"]))
    starts = [0]
    for _ in range(planned - 1):
        starts.append(starts[-1] + _uint(rng, *pr["cycle_interval_days"]))
    end_obs = (cutoff - first).days
    if rng.random() < pr["p_lost_to_followup"]:
        end_obs = min(end_obs, _uint(rng, 60, max(61, end_obs)))
    # progression is detected at a visit: the schedule decides the date
    sched = list(pr["visit_days"])
    while sched[-1] < 365 * 25:
        sched.append(sched[-1] + pr["later_visit_interval_days"])
    prog_visit = next((i for i, d in enumerate(sched) if d >= t_prog), len(sched))
    t_prog_obs = sched[prog_visit] if prog_visit < len(sched) else math.inf
    n_cycles = sum(1 for s in starts if s < min(t_prog_obs, t_nrm, end_obs))
    n_cycles = max(n_cycles, 1)
    php = pr["post_progression_hr"]
    ph_rate = math.log(2) / pr["post_progression_median_years"]
    ph_rate *= php["pre_mst_below_vgpr"] if pre in ("PR", "SD") else 1
    ph_rate *= php["ds_stage_iii"] if st["ds"] == "III" else 1
    ph_rate *= php["per_cycle"] ** (n_cycles - 1)
    t_death_after = float(rng.exponential(365.25 / ph_rate))
    death_t: float | None = None
    cause = None
    if t_nrm < t_prog_obs:
        death_t, cause = t_nrm, DeathCause.INFECTION
    elif t_prog_obs + 30 + t_death_after < t_nrm:
        death_t, cause = t_prog_obs + 30 + t_death_after, DeathCause.RELAPSE
    else:
        death_t, cause = t_nrm, DeathCause.OTHER
    last_day = int(min(end_obs, death_t))
    died = death_t <= end_obs
    last_date = first + _DAY * last_day

    # --- courses, infusions, donor, reactions
    donor_id = f"{pid}-D1"
    rel = Relationship.CHILD if rng.random() < 0.7 else Relationship.SIBLING
    donor = Donor(id=donor_id, patient_id=pid, relationship=rel,
                  sex=Sex.FEMALE if rng.random() < 0.5 else Sex.MALE,
                  age=_uint(rng, *pr["donor_age_range"]))
    courses, infusions = [], []
    for k in range(n_cycles):
        start = first + _DAY * starts[k]
        if start > last_date:
            break
        courses.append(Course(patient_id=pid, number=k + 1,
                              kind=CourseKind.INDUCTION if k == 0 else CourseKind.CONSOLIDATION,
                              regimen_id="003-MM-MST", start_date=start))
        inf_at = dt.datetime.combine(start + _DAY * _uint(rng, 1, 2), dt.time(10, 0))
        if inf_at.date() <= last_date:
            infusions.append(Infusion(
                patient_id=pid, course_number=k + 1, donor_id=donor_id, infused_at=inf_at,
                mnc_1e8_per_kg=round(float(rng.lognormal(math.log(2.5), 0.15)), 2),
                cd3_1e8_per_kg=round(float(rng.lognormal(0.0, 0.15)), 2),
                product=Product.FRESH if k == 0 else Product.CRYOPRESERVED))
        if rng.random() < pr["p_fever_or_crs_per_course"]:
            d = inf_at.date() + _DAY * _uint(rng, 0, 3)
            if d <= last_date:
                if rng.random() < pr["p_crs_given_reaction"]:
                    events.append(ClinicalEvent(patient_id=pid, date=d, kind=EventKind.CRS,
                                                grade=1))
                events.append(ClinicalEvent(patient_id=pid, date=d, kind=EventKind.FEVER))
        if rng.random() < pr["p_gvhd"]:
            d = start + _DAY * _uint(rng, 14, 40)
            if d <= last_date:
                events.append(ClinicalEvent(patient_id=pid, date=d, kind=EventKind.GVHD,
                                            grade=1))
    # --- chimerism and immune subsets after MST
    if infusions:
        inf0 = infusions[0].infused_at.date()
        for day in pr["chimerism_days"]:
            d = inf0 + _DAY * day
            if d <= last_date:
                lo, hi = pr["chimerism_pct"]
                v = float(rng.uniform(lo, hi)) if rng.random() < pr["p_chimerism_detected"] else 0
                lab(d, "donor_chimerism", v, "%", donor_id)
    post_day = first + _DAY * 90
    if post_day <= last_date:
        for analyte in pr["immune_pre"]:
            pre_v = next(x.value for x in labs if x.analyte == analyte and x.date == pre_date)
            v = pre_v + pr["immune_change"][analyte] + rng.normal(0, pr["immune_change_sd"])
            lab(post_day, analyte, float(np.clip(v, 1, 98)), "%")

    # --- IMWG findings after MST: approach the best response, hold it, then progress
    resp_visit = _uint(rng, 0, 2)
    visits_done: list[MyelomaVisit] = []
    path = {"CR": ["PR", "VGPR", "CR"], "VGPR": ["PR", "VGPR"], "PR": ["PR"], "SD": ["SD"]}
    pre_rank = ["SD", "PR", "VGPR", "CR"].index(pre)
    nadir = m0  # the course's nadir: diagnosis baseline and the visits after MST
    cur = pre_m
    for i, day in enumerate(sched):
        d = first + _DAY * day
        if d > last_date:
            break
        if i < prog_visit:
            steps = [c for c in path[best] if ["SD", "PR", "VGPR", "CR"].index(c) >= pre_rank]
            steps = steps or [best]
            cat = steps[min(i * len(steps) // (resp_visit + 1), len(steps) - 1)] if (
                i <= resp_visit) else best
            if cat == pre and i > 0 and pre != "CR":
                m = cur
            else:
                m = _level(rng, cat, m0)
                m = min(m, cur) if cat != "SD" else m
            cur = m
            nadir = min(nadir, m)
            f = _myeloma_findings(rng, cat, m, pid, d, mrd_neg)
        else:
            k = i - prog_visit
            m = round(nadir + max(0.5, 0.25 * nadir) + 0.3 + 0.3 * k, 3)
            f = _myeloma_findings(rng, "PD", m, pid, d, mrd_neg)
        labs.extend(f)
        vals = {x.analyte: x.value for x in f}
        visits_done.append(MyelomaVisit(
            date=d, serum_m=vals["serum_m_protein"],
            immunofixation="negative" if vals["immunofixation"] < 0.5 else "positive",
            marrow_plasma_cells=vals.get("marrow_plasma_cells"), mrd_pct=vals.get("mrd")))
        if i >= prog_visit + 1:
            break
    base = MyelomaVisit(date=dx, serum_m=m0, immunofixation="positive")
    if visits_done:
        course = myeloma_course(base, visits_done, start=first)
        for p in course.points:
            cat = "SD" if p.category == "MR" else p.category
            responses.append(ResponseAssessment(patient_id=pid, date=p.date,
                                                category=ResponseCategory(cat)))
    if died:
        events.append(ClinicalEvent(patient_id=pid, date=last_date, kind=EventKind.DEATH,
                                    cause=cause))
    elif last_day < (cutoff - first).days:
        events.append(ClinicalEvent(patient_id=pid, date=last_date,
                                    kind=EventKind.LOST_TO_FOLLOWUP))
    patient = Patient(id=pid, center_id=center_id, sex=sex, age_at_diagnosis=age,
                      diagnosis=Diagnosis.MYELOMA, diagnosis_date=dx,
                      last_followup_date=last_date)
    keep = [x for x in labs if x.date <= last_date]
    return PatientRecord(patient=patient, donors=(donor,), courses=tuple(courses),
                         infusions=tuple(infusions), labs=tuple(keep),
                         events=tuple(e for e in events if e.date <= last_date),
                         responses=tuple(r for r in responses if r.date <= last_date))


def _check(n: int, seed: int) -> None:
    for name, v in (("n", n), ("seed", seed)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ValidationError(name, v, "must be an integer >= 0")


def iter_myeloma_records(
    n: int, seed: int, *, center_id: str = "C01", id_prefix: str = "MM"
) -> Iterator[PatientRecord]:
    """Yield ``n`` simulated myeloma records (ids ``<center>-MM0001`` …)."""
    _check(n, seed)
    pr = myeloma_parameters()
    for k in range(n):
        ss = np.random.SeedSequence(int(seed), spawn_key=(_TAG, int(k)))
        rng = np.random.Generator(np.random.PCG64(ss))
        yield simulate_myeloma_patient(rng, f"{center_id}-{id_prefix}{k + 1:04d}", center_id, pr)


def simulate_myeloma_cohort(
    n: int, seed: int, *, center: Center | None = None
) -> Cohort:
    """Simulate a single-center myeloma MST cohort calibrated to seed 003.

    Parameters
    ----------
    n : int
        Number of patients (>= 0).
    seed : int
        Seed (>= 0); same ``(n, seed)`` → identical cohort, patient ``k`` independent of ``n``.
    center : Center, optional
        The treating center (default ``C01``, the first simulated AML center's id).

    Returns
    -------
    mst.domain.Cohort
    """
    c = center or Center(id="C01", name="Northbridge University Hospital", country="Utopia")
    return Cohort(centers=(c,), records=tuple(iter_myeloma_records(n, seed, center_id=c.id)))


def calibration_table(n: int = 10_000, seed: int = 2025) -> list[dict[str, Any]]:
    """Simulate ``n`` patients and compare each target with seed 003's Clopper–Pearson interval.

    Returns
    -------
    list of dict
        ``{"target", "seed", "interval", "simulated", "inside", "definition"}`` per target.
    """
    from mst.cohort.myeloma_table import build_myeloma_table
    from mst.stats import kaplan_meier

    df = build_myeloma_table(iter_myeloma_records(n, seed))  # streamed: rows only in memory

    def km6(ep: str) -> float:
        t = df[f"{ep}_months"].to_numpy(dtype=float)
        e = df[f"{ep}_event"].to_numpy(dtype=np.int64)
        keep = ~np.isnan(t)
        curve = next(iter(kaplan_meier(t[keep], e[keep]).curves.values()))
        return float(curve.at([72.0])["survival"][0])

    sim = {
        "orr": float(df["orr"].fillna(False).astype(bool).mean()),
        "os_6y": km6("os"),
        "pfs_6y": km6("pfs"),
        "fever_crs_per_course": float(df["fever_or_crs_courses"].sum() / df["n_courses"].sum()),
        "gvhd": float(df["gvhd"].astype(bool).mean()),
        "nrm": float(df["nrm"].fillna(False).astype(bool).mean()),
    }
    rows = []
    for name, t in calibration_targets().items():
        lo, hi = t["interval"]
        rows.append({"target": name, "seed": t["seed"], "interval": (lo, hi),
                     "simulated": sim[name], "inside": lo <= sim[name] <= hi,
                     "definition": t["definition"]})
    return rows


if __name__ == "__main__":  # pragma: no cover - `python -m mst.simulate.myeloma [n]`
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(f"| target | seed 003 | 95% CP interval | simulated (n = {size:,}) | inside |")
    print("|---|---|---|---|---|")
    for r in calibration_table(size):
        lo, hi = r["interval"]
        print(f"| {r['target']} | {r['seed']} | {lo:.3f}–{hi:.3f} | {r['simulated']:.3f} | "
              f"{'yes' if r['inside'] else 'NO'} |")


#: The demo myeloma cohort loaded by ``mst demo --disease myeloma|all`` (and checked against R).
DEMO_MYELOMA_PATIENTS = 40
DEMO_MYELOMA_SEED = 2025


def demo_myeloma_cohort(center: Center | None = None) -> Cohort:
    """The demo myeloma cohort (:data:`DEMO_MYELOMA_PATIENTS` patients, fixed seed)."""
    return simulate_myeloma_cohort(DEMO_MYELOMA_PATIENTS, DEMO_MYELOMA_SEED, center=center)


def demo_cohort(disease: str, n: int, seed: int, n_centers: int) -> Cohort:
    """The cohort of ``mst demo --disease``: ``aml`` (the simulated AML cohort, unchanged),
    ``myeloma`` (the myeloma demo cohort at the first center, with all the demo centers, whose
    logins the demo creates) or ``all`` (both).

    Raises
    ------
    mst.errors.ValidationError
        For another value of ``disease``.
    """
    from mst.simulate import simulate_cohort, simulated_centers

    if disease not in ("aml", "myeloma", "all"):
        raise ValidationError("--disease", disease, "must be aml, myeloma or all")
    if disease == "myeloma":
        centers = simulated_centers(n_centers)
        return Cohort(centers=centers, records=demo_myeloma_cohort(centers[0]).records)
    aml = simulate_cohort(n=n, seed=seed, n_centers=n_centers)
    if disease == "aml":
        return aml
    mm = demo_myeloma_cohort(aml.centers[0])
    return Cohort(centers=aml.centers, records=aml.records + mm.records)
