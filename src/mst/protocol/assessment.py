"""Candidate assessment: who the consensus recommends MST for, and with what.

Inputs: age band (< 60, 60–74, ≥ 75), fitness (entered, or derived from
documented criteria), ELN 2022 genetic risk (entered, or derived from
lesions), exclusions (APL; uninterrupted immunosuppression; relapsed or
refractory disease), allo-HSCT eligibility, and the course history (which
decides the phase: first induction, second induction, consolidation,
treatment failure). Output: options with reasons and citations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mst.domain import CourseKind, Diagnosis, ElnRisk, Fitness, ResponseCategory
from mst.errors import NotFoundError, ValidationError
from mst.protocol._data import rules
from mst.protocol.catalog import Phase, Regimen, get_regimen, load_catalog
from mst.protocol.eln import apl_lesions, eln2022_risk, targetable
from mst.protocol.fitness import derive_fitness
from mst.protocol.inputs import PlanInput, PriorCourse, read_plan_input
from mst.protocol.notes import Note
from mst.protocol.schedule import next_step

Strength = Literal["preferred", "recommended", "alternative", "consider"]
PhaseName = Literal[
    "induction",
    "second_induction",
    "consolidation",
    "await_response",
    "treatment_failure",
    "not_candidate",
]
_STRENGTH_ORDER = {"preferred": 0, "recommended": 1, "alternative": 2, "consider": 3}


class Option(BaseModel):
    """One recommended option (a catalog regimen, or a non-regimen option)."""

    model_config = ConfigDict(frozen=True)

    regimen_id: str | None
    title: str
    strength: Strength
    reasons: tuple[str, ...]
    sources: tuple[str, ...]


class Assessment(BaseModel):
    """Result of :func:`assess`."""

    model_config = ConfigDict(frozen=True)

    patient_id: str
    age: int
    age_band: str
    fitness: Fitness | None
    fitness_basis: Literal["entered", "derived", "missing"]
    fitness_criteria_met: tuple[str, ...]
    eln_risk: ElnRisk | None
    eln_basis: Literal["entered", "derived", "missing"]
    eln_deciding: tuple[str, ...]
    phase: PhaseName
    candidate: bool
    course_number: int
    options: tuple[Option, ...]
    notes: tuple[Note, ...]


def age_band(age: int) -> dict[str, Any]:
    """The consensus age band of ``age`` (``<60``, ``60-74``, ``>=75``) from ``rules.yaml``."""
    for band in rules()["age_bands"]:
        if band["min"] <= age <= band["max"]:
            return band
    raise ValidationError("age", age, "outside every age band (0–120)")


def _regimen_option(r: Regimen, strength: Strength, reasons: list[str]) -> Option:
    if r.alternative_of is not None and strength == "recommended":
        strength = "alternative"
        reasons = [*reasons, f"alternative schedule of {r.alternative_of}"]
    return Option(
        regimen_id=r.id,
        title=r.name,
        strength=strength,
        reasons=tuple(reasons),
        sources=(r.source,),
    )


_ADJUST_REASON = "75 or older: MST with adjusted (reduced) chemotherapy doses (004 §3)"
_STANDARD_DOSE_SOURCES = ("004 §4.1", "004 §5.1")


def standard_dose(r: Regimen) -> bool:
    """True for the standard-dose regimens of 004 §4.1 and §5.1 (fit patients under 75)."""
    return r.source in _STANDARD_DOSE_SOURCES and Fitness.UNFIT not in r.fitness


def _age_strength(
    age: int, r: Regimen, strength: Strength, reasons: list[str]
) -> tuple[Strength, list[str]]:
    """Apply the consensus age logic to any course (004 §3, §4): the same rule everywhere."""
    band = age_band(age)["id"]
    if band == ">=75":
        if standard_dose(r):
            return "consider", [
                *reasons,
                "75 or older: a standard-dose regimen; the consensus advises adjusted doses "
                "(004 §3) — outside the consensus at full dose",
            ]
        return "consider", [*reasons, _ADJUST_REASON]
    if band == "<60" and strength in ("preferred", "recommended"):
        return "consider", [*reasons, "below the consensus age range"]
    return strength, reasons


def _check_history(p: PlanInput) -> list[tuple[PriorCourse, Regimen]]:
    out = []
    prev_end: dt.date | None = None
    for i, c in enumerate(p.courses):
        where = f"courses[{i}]"
        try:
            r = get_regimen(c.regimen_id)
        except NotFoundError as exc:
            raise ValidationError(f"{where}.regimen_id", c.regimen_id, str(exc)) from None
        induction = c.kind in (CourseKind.INDUCTION, CourseKind.REINDUCTION)
        if induction != (r.phase is Phase.INDUCTION):
            raise ValidationError(
                f"{where}.kind", c.kind.value, f"does not match {r.id} ({r.phase.value})"
            )
        if c.start_date < p.patient.diagnosis_date:
            raise ValidationError(
                f"{where}.start_date", c.start_date.isoformat(), "is before the diagnosis date"
            )
        if prev_end is not None and c.start_date <= prev_end:
            raise ValidationError(
                f"{where}.start_date",
                c.start_date.isoformat(),
                f"starts during the previous course (which ends {prev_end.isoformat()})",
            )
        if out and induction and out[-1][0].kind is CourseKind.CONSOLIDATION:
            raise ValidationError(
                f"{where}.kind",
                c.kind.value,
                "an induction after consolidation is a relapse "
                "treatment, outside the consensus (004 §3)",
            )
        prev_end = c.start_date + dt.timedelta(days=r.length_days - 1)
        out.append((c, r))
    return out


def _fitness(p: PlanInput, notes: list[Note]) -> tuple[Fitness | None, str, tuple[str, ...]]:
    entered = p.patient.fitness
    crit = p.assessment.fitness_criteria
    derived = (
        derive_fitness(
            crit, age=p.patient.age, enable_local=tuple(p.options.fitness_local_criteria)
        )
        if crit is not None
        else None
    )
    if derived is not None and derived.not_applied:
        notes.append(
            Note(
                level="warning",
                code="fitness_criteria_not_applied",
                message=(
                    "documented but not applied to the fitness group: "
                    + "; ".join(derived.not_applied)
                ),
                sources=(derived.source, "local configuration"),
            )
        )
    if entered is not None:
        if derived is not None and derived.fitness is not entered:
            notes.append(
                Note(
                    level="warning",
                    code="fitness_disagrees",
                    message=(
                        f"entered fitness '{entered.value}' differs from the criteria "
                        f"('{derived.fitness.value}': {'; '.join(derived.met) or 'none met'})"
                    ),
                    sources=("004 §3", derived.source),
                )
            )
        return entered, "entered", derived.met if derived else ()
    if derived is not None:
        notes.append(
            Note(
                level="info",
                code="fitness_derived",
                message=(
                    f"fitness derived as '{derived.fitness.value}' from {derived.documented} "
                    "documented criteria; "
                    + (
                        f"met ({len(derived.met)}): {'; '.join(derived.met)}"
                        if derived.met
                        else "none met"
                    )
                ),
                sources=("004 §3", derived.source),
            )
        )
        return derived.fitness, "derived", derived.met
    return None, "missing", ()


def _eln(p: PlanInput, notes: list[Note]) -> tuple[ElnRisk | None, str, tuple[str, ...]]:
    entered = p.patient.eln_risk
    lesions = p.assessment.eln_lesions
    if lesions is None:
        return entered, ("entered" if entered else "missing"), ()
    if apl_lesions(lesions):
        # APL has no ELN 2022 genetic risk group; the APL exclusion applies (see assess)
        return entered, ("entered" if entered else "missing"), ()
    res = eln2022_risk(lesions)
    notes.extend(res.notes)
    if entered is not None and entered is not res.risk:
        notes.append(
            Note(
                level="warning",
                code="eln_disagrees",
                message=(
                    f"entered ELN risk '{entered.value}' differs from the lesions "
                    f"('{res.risk.value}')"
                ),
                sources=(res.source,),
            )
        )
        return entered, "entered", res.deciding
    notes.append(
        Note(
            level="info",
            code="eln_derived",
            message=f"ELN 2022 risk '{res.risk.value}': {res.rule}",
            sources=(res.source,),
        )
    )
    return res.risk, "derived", res.deciding


def _phase(history: list[tuple[PriorCourse, Regimen]], notes: list[Note]) -> PhaseName:
    for c, _ in history:
        if c.response in (ResponseCategory.RELAPSE, ResponseCategory.MRD_RELAPSE):
            notes.append(
                Note(
                    level="outside_consensus",
                    code="relapsed",
                    message="relapsed disease: the consensus makes no clear recommendation",
                    sources=("004 §3",),
                )
            )
            return "not_candidate"
    inductions = [(c, r) for c, r in history if c.kind is not CourseKind.CONSOLIDATION]
    consolidations = [c for c, _ in history if c.kind is CourseKind.CONSOLIDATION]
    if len(inductions) == 2 and inductions[0][1].id != inductions[1][1].id:
        notes.append(
            Note(
                level="warning",
                code="second_induction_regimen",
                message="the second induction should use the same regimen as the first",
                sources=(rules()["induction"]["source"],),
            )
        )
    if consolidations:
        if inductions and not (
            inductions[-1][0].response and inductions[-1][0].response.is_complete_remission
        ):
            raise ValidationError(
                "courses", "consolidation", "consolidation recorded without CR/CRi after induction"
            )
        return "consolidation"
    step = next_step([c.response for c, _ in inductions])
    notes.append(step.note)
    return {
        "induction": "induction",
        "second_induction": "second_induction",
        "consolidation": "consolidation",
        "treatment_failure": "treatment_failure",
        "await_response": "await_response",
    }[step.step]


def _induction_options(age: int, fitness: Fitness) -> list[Option]:
    cat = load_catalog()
    opts: list[Option] = []
    band = age_band(age)
    old = band["id"] == ">=75"
    young = band["id"] == "<60"
    if fitness is Fitness.FRAIL:
        opts.append(
            Option(
                regimen_id=None,
                title="Clinical trial (venetoclax, decitabine or azacitidine)",
                strength="recommended",
                reasons=("frail patient",),
                sources=("004 §4.3",),
            )
        )
        opts.append(
            Option(
                regimen_id=None,
                title="Best supportive care",
                strength="recommended",
                reasons=("frail patient",),
                sources=("004 §4.3",),
            )
        )
        if old:
            opts.append(
                Option(
                    regimen_id=None,
                    title="Low-dose targeted therapy",
                    strength="consider",
                    reasons=("75 or older in poor physical condition",),
                    sources=("004 §4",),
                )
            )
        return opts
    for r in cat.values():
        if r.phase is not Phase.INDUCTION:
            continue
        seed002 = r.source.startswith("002")
        if seed002:
            if age < 60:
                continue
            opts.append(
                _regimen_option(
                    r,
                    "alternative" if not old else "consider",
                    ["seed 002 single-center protocol for patients >= 60 (reduced doses)"],
                )
            )
            continue
        if old:
            # >= 75: dose-adjusted MST worth considering when physical status is good (004 §3)
            if Fitness.UNFIT in r.fitness:
                opts.append(
                    _regimen_option(
                        r,
                        "consider",
                        [
                            f"75 or older, {fitness.value}: reduced-intensity / adjusted doses "
                            "(004 §3)"
                        ],
                    )
                )
            continue
        if fitness in r.fitness:
            strength: Strength = "consider" if young else "recommended"
            reason = f"{fitness.value} patient under 75" + (
                " (below the consensus age range)" if young else ""
            )
            opts.append(_regimen_option(r, strength, [reason]))
    return opts


def _consolidation_options(
    p: PlanInput, fitness: Fitness, history: list[tuple[PriorCourse, Regimen]]
) -> list[Option]:
    cat = load_catalog()
    opts: list[Option] = []
    allo = p.assessment.allo_hsct
    prio = rules()["allo_hsct_priority"]
    if allo.eligible and not allo.declined:
        reasons = ["in CR and able to receive allo-HSCT"]
        if allo.donor_available is False:
            reasons.append("no suitable donor yet: search, MST consolidation meanwhile")
        opts.append(
            Option(
                regimen_id=None,
                title="Allogeneic HSCT",
                strength="preferred",
                reasons=tuple(reasons),
                sources=(prio["source"],),
            )
        )
    if fitness is Fitness.FRAIL:
        opts.append(
            Option(
                regimen_id=None,
                title="Clinical trial or best supportive care",
                strength="recommended",
                reasons=("frail after remission",),
                sources=("004 §4.3",),
            )
        )
        return opts
    consolidations = [(c, r) for c, r in history if c.kind is CourseKind.CONSOLIDATION]
    inductions = [r for c, r in history if c.kind is not CourseKind.CONSOLIDATION]
    if consolidations:
        r = consolidations[-1][1]
        done = len(consolidations)
        if r.cycles.max is None or done < r.cycles.max:
            strength, reasons = _age_strength(
                p.patient.age,
                r,
                "recommended",
                [
                    f"continue the current consolidation (course {done + 1}"
                    + (f" of {r.cycles.min}–{r.cycles.max})" if r.cycles.max else ")")
                ],
            )
            opts.append(
                Option(
                    regimen_id=r.id,
                    title=r.name,
                    strength=strength,
                    reasons=tuple(reasons),
                    sources=(r.source, "004 §3") if strength != "recommended" else (r.source,),
                )
            )
        return opts
    used_seed002 = any(r.source.startswith("002") for r in inductions)
    band = age_band(p.patient.age)["id"]
    for r in cat.values():
        if r.phase is not Phase.POST_REMISSION:
            continue
        if r.source.startswith("002"):
            strength: Strength = "recommended" if used_seed002 else "alternative"
            reasons = [
                "seed 002 consolidation" + (" after a seed 002 induction" if used_seed002 else "")
            ]
            if band == "<60":
                continue  # seed 002 enrolled patients >= 60 only
            if band == ">=75":
                strength = "consider"
                reasons.append(_ADJUST_REASON)
            opts.append(_regimen_option(r, strength, reasons))
            continue
        if band == ">=75":
            # >= 75: MST with adjusted chemotherapy doses (004 §3) — never the standard-dose
            # §5.1 regimens; the reduced-intensity §5.2 ("unfit") regimens are worth considering.
            if Fitness.UNFIT in r.fitness:
                opts.append(
                    _regimen_option(
                        r, "consider", [f"75 or older, {fitness.value}, in CR/CRi", _ADJUST_REASON]
                    )
                )
            continue
        if fitness in r.fitness:
            young = band == "<60"
            opts.append(
                _regimen_option(
                    r,
                    "consider" if young else "recommended",
                    [
                        f"{fitness.value} patient in CR/CRi"
                        + (" (below the consensus age range)" if young else "")
                    ],
                )
            )
    return opts


def assess(data: dict[str, Any] | PlanInput) -> Assessment:
    """Assess a patient against the consensus and list the options.

    Parameters
    ----------
    data : dict or PlanInput
        The plan input (see ``docs/protocol.md``): ``patient`` (the fields of
        :class:`mst.domain.Patient`), ``assessment`` (lesions, fitness criteria,
        exclusions, allo-HSCT, azoles …) and the ``courses`` already given.

    Returns
    -------
    Assessment
        Age band, fitness and ELN risk with their basis, phase (first/second
        induction, consolidation, treatment failure …), whether the patient is
        an MST candidate, options (best first) and cited notes.

    Raises
    ------
    mst.errors.ValidationError
        For invalid input, an inconsistent course history, or no fitness
        (neither entered nor derivable) when a treatment must be chosen.
    """
    p = read_plan_input(data)
    notes: list[Note] = []
    patient = p.patient
    age = patient.age
    band = age_band(age)
    fitness, fbasis, fmet = _fitness(p, notes)
    eln, ebasis, edeciding = _eln(p, notes)
    history = _check_history(p)
    notes.append(
        Note(
            level="info",
            code="age_band",
            message=f"age {age}: band {band['id']} — {band['text']}",
            sources=(band["source"],),
        )
    )
    candidate = True
    if patient.diagnosis is not Diagnosis.AML:
        candidate = False
        notes.append(
            Note(
                level="outside_consensus",
                code="not_aml",
                message=f"diagnosis {patient.diagnosis.value}: the consensus covers elderly AML",
                sources=("004 §1", "004 §4"),
            )
        )
    apl_found = apl_lesions(p.assessment.eln_lesions or [])
    if p.assessment.apl or apl_found:
        candidate = False
        notes.append(
            Note(
                level="outside_consensus",
                code="apl",
                message="acute promyelocytic leukaemia is excluded from MST induction"
                + (f" (lesion {', '.join(apl_found)})" if apl_found else ""),
                sources=("004 §4", "002 Methods"),
            )
        )
    if p.assessment.uninterrupted_immunosuppression:
        candidate = False
        notes.append(
            Note(
                level="outside_consensus",
                code="immunosuppression",
                message="MST should be avoided when uninterrupted immunosuppression is required",
                sources=("004 §2.4",),
            )
        )
    phase = _phase(history, notes) if candidate else "not_candidate"
    if phase == "not_candidate":
        candidate = False
    if (
        candidate
        and phase in ("induction", "second_induction", "consolidation")
        and fitness is None
    ):
        raise ValidationError(
            "patient.fitness",
            None,
            "enter fitness (fit/unfit/frail) or assessment.fitness_criteria (004 §3)",
        )
    options: list[Option] = []
    if candidate and fitness is not None:
        if phase == "induction":
            options = _induction_options(age, fitness)
        elif phase == "second_induction":
            first = history[0][1]
            strength, reasons = _age_strength(
                age,
                first,
                "recommended",
                ["no CR/CRi after the first induction: same regimen and GPBSC infusion"],
            )
            options = [
                Option(
                    regimen_id=first.id,
                    title=first.name,
                    strength=strength,
                    reasons=tuple(reasons),
                    sources=(rules()["induction"]["source"],)
                    + (("004 §3",) if strength != "recommended" else ()),
                )
            ]
        elif phase == "consolidation":
            options = _consolidation_options(p, fitness, history)
            if not p.assessment.fitness_reassessed_after_cr:
                r = rules()["reassess_fitness_after_cr"]
                notes.append(
                    Note(
                        level="action",
                        code="reassess_fitness",
                        message=(
                            "reassess fitness now that CR is reached ('unfit' may become 'fit')"
                        ),
                        sources=(r["source"],),
                    )
                )
    if candidate and fitness is Fitness.FRAIL and phase != "treatment_failure":
        candidate = False
        notes.append(
            Note(
                level="outside_consensus",
                code="frail_no_mst",
                message=(
                    "frail: the consensus offers no MST course — clinical trials (venetoclax, "
                    "decitabine or azacitidine) or best supportive care"
                ),
                sources=("004 §4.3", "004 §4"),
            )
        )
    if phase == "treatment_failure":
        candidate = False
        options = [
            Option(
                regimen_id=None,
                title="Other clinical trials or protocols",
                strength="recommended",
                reasons=("no CR/CRi after two inductions",),
                sources=(rules()["induction"]["source"],),
            )
        ]
    if candidate and phase in ("induction", "second_induction"):
        allo = p.assessment.allo_hsct
        prio = rules()["allo_hsct_priority"]
        if allo.eligible is None:
            notes.append(
                Note(
                    level="action",
                    code="assess_allo_hsct",
                    message="assess allo-HSCT eligibility: it has priority after CR when feasible",
                    sources=(prio["source"], prio["seed002"]["source"]),
                )
            )
        elif allo.eligible and not allo.declined:
            notes.append(
                Note(
                    level="info",
                    code="allo_hsct_after_cr",
                    message="eligible for allo-HSCT: plan it as post-remission therapy after CR"
                    + ("" if allo.donor_available else " (start the donor search)"),
                    sources=(prio["source"],),
                )
            )
        if eln is ElnRisk.ADVERSE:
            notes.append(
                Note(
                    level="info",
                    code="adverse_risk",
                    message=(
                        "adverse genetic risk: consider a more intensive induction or adding a "
                        "targeted drug on the MST platform; more post-remission courses"
                    ),
                    sources=("004 §3", "004 §5"),
                )
            )
    if candidate and phase == "consolidation" and eln is ElnRisk.ADVERSE:
        notes.append(
            Note(
                level="info",
                code="adverse_risk_more_courses",
                message="adverse genetic risk: may benefit from more post-remission MST courses",
                sources=("004 §5",),
            )
        )
    if candidate and p.assessment.eln_lesions and not apl_found:
        tg = targetable(p.assessment.eln_lesions)
        if tg:
            notes.append(
                Note(
                    level="info",
                    code="targetable",
                    message=(
                        f"targetable lesion(s) {', '.join(tg)}: targeted drugs before and "
                        "after MST are commonly employed and encouraged"
                    ),
                    sources=("004 §2.4",),
                )
            )
    if (
        candidate
        and band["id"] == ">=75"
        and phase
        in (
            "induction",
            "second_induction",
            "consolidation",
        )
    ):
        notes.append(
            Note(
                level="action",
                code="adjust_doses_age",
                message=(
                    "75 or older: every MST course uses adjusted (reduced) chemotherapy doses; "
                    "the consensus gives no figures — choose within the reduced-intensity ranges "
                    "and justify the dose"
                ),
                sources=("004 §3", "004 §4"),
            )
        )
    top = rules()["evidence_age_max"]
    if candidate and age > top["age"]:
        notes.append(
            Note(
                level="warning",
                code="above_consensus_age",
                message=f"age {age}: {top['text']}",
                sources=(top["source"],),
            )
        )
    if candidate and age_band(age)["id"] == "<60":
        notes.append(
            Note(
                level="warning",
                code="below_consensus_age",
                message="under 60: the consensus addresses elderly AML; follow NCCN/ELN "
                "standard care "
                "(allo-HSCT where indicated) and use MST within a protocol",
                sources=("004 §1", "004 §3"),
            )
        )
    options.sort(key=lambda o: _STRENGTH_ORDER[o.strength])
    return Assessment(
        patient_id=patient.id,
        age=age,
        age_band=band["id"],
        fitness=fitness,
        fitness_basis=fbasis,
        fitness_criteria_met=fmet,
        eln_risk=eln,
        eln_basis=ebasis,
        eln_deciding=edeciding,
        phase=phase,
        candidate=candidate,
        course_number=len(p.courses) + 1,
        options=tuple(options),
        notes=tuple(notes),
    )
