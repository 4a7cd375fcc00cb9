"""Response assessment: AML by ELN 2022, multiple myeloma by IMWG 2016.

Thresholds come from ``mst/data/monitoring/response_eln2022.yaml`` (Döhner et
al., Blood 2022;140:1345, Table 6) and ``response_imwg.yaml`` (Kumar et al.,
Lancet Oncol 2016;17:e328, Table 3). Every call returns the criteria that
decided it.

Note: seed 002 defines CR with strict inequalities (ANC > 1.0, platelets > 100)
and requires MRD negativity; ELN 2022 uses ANC >= 1.0 and platelets >= 100 and
reports MRD status separately (CR vs CR MRD−). This module follows ELN 2022.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Callable, Sequence
from decimal import Decimal

from mst.domain import ResponseCategory
from mst.domain.analytes import to_canonical
from mst.errors import ValidationError
from mst.monitoring._data import load


@dataclasses.dataclass(frozen=True, slots=True)
class ResponseCall:
    """A response category with the criteria that decided it.

    ``category`` is a :class:`mst.domain.ResponseCategory`, or the string
    ``"no_response"`` (AML before the landmark) / ``"MR"`` (IMWG minimal
    response), which the registry has no category for.
    """

    category: ResponseCategory | str
    reasons: tuple[str, ...]
    source: str

    @property
    def registry_category(self) -> ResponseCategory | None:
        """The registry category (MR is recorded as SD; no response has none)."""
        if isinstance(self.category, ResponseCategory):
            return self.category
        if self.category == "MR":
            return ResponseCategory.SD
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class AmlAssessment:
    """Findings of one AML response assessment.

    Parameters
    ----------
    marrow_blasts : float
        Bone-marrow blasts, %.
    blood_blasts : bool
        Circulating blasts present.
    extramedullary : bool
        Extramedullary disease present.
    anc, platelets : float
        10⁹/L.
    mrd_negative : bool or None
        MRD below the assay threshold (None = not assessed).
    mrd_level : float or None
        MRD level (copies or %), used for the 1-log rise rule.
    date : date, optional
        Assessment date (needed for the two-blood-samples relapse rule).
    """

    marrow_blasts: float | None
    blood_blasts: bool
    extramedullary: bool
    anc: float | None
    platelets: float | None
    mrd_negative: bool | None = None
    mrd_level: float | None = None
    date: dt.date | None = None


def _check_pct(name: str, v: float | None) -> None:
    if v is not None and not (0 <= v <= 100):
        raise ValidationError(name, v, "must be between 0 and 100 %")


def assess_aml(
    a: AmlAssessment,
    *,
    baseline_marrow_blasts: float | None = None,
    in_remission: bool = False,
    prior_mrd_negative: bool = False,
    previous: Sequence[AmlAssessment] = (),
    at_landmark: bool = False,
) -> ResponseCall:
    """Classify one AML assessment by ELN 2022.

    Parameters
    ----------
    a : AmlAssessment
        The current assessment.
    baseline_marrow_blasts : float, optional
        Pre-treatment marrow blasts (%), needed for PR.
    in_remission : bool
        The patient was in CR/CRh/CRi before: relapse rules apply.
    prior_mrd_negative : bool
        The patient was in CR with MRD negativity: MRD relapse rules apply.
    previous : sequence of AmlAssessment
        Earlier assessments (for the two blood samples >= 1 week apart and
        the consecutive MRD-positive samples rules).
    at_landmark : bool
        The assessment is at the response landmark: "no response" becomes
        "refractory".

    Returns
    -------
    ResponseCall
    """
    t = load("response_eln2022")
    src = t["source"]
    _check_pct("marrow_blasts", a.marrow_blasts)
    _check_pct("baseline_marrow_blasts", baseline_marrow_blasts)
    for name, v in (("anc", a.anc), ("platelets", a.platelets)):
        if v is not None:
            # counts in 10⁹/L; a cells/µL value (ANC 800, platelets 90000) is refused by the
            # plausible range of analytes.yaml, naming the likely unit
            to_canonical(name, v, "10^9/L", name)
    if in_remission:
        if a.marrow_blasts is not None and a.marrow_blasts >= t["relapse_marrow_blasts_ge"]:
            return ResponseCall(
                ResponseCategory.RELAPSE,
                (f"marrow blasts {a.marrow_blasts}% >= {t['relapse_marrow_blasts_ge']}%",),
                src,
            )
        if a.extramedullary:
            return ResponseCall(ResponseCategory.RELAPSE, ("extramedullary disease",), src)
        if a.blood_blasts and a.date is not None:
            gap = t["relapse_blood_blast_interval_days"]
            earlier = [
                p
                for p in previous
                if p.blood_blasts and p.date is not None and (a.date - p.date).days >= gap
            ]
            if earlier:
                return ResponseCall(
                    ResponseCategory.RELAPSE,
                    (
                        f"circulating blasts on {earlier[-1].date} and {a.date} "
                        f"(>= {gap} days apart)",
                    ),
                    src,
                )
        if prior_mrd_negative and a.mrd_negative is False:
            last = previous[-1] if previous else None
            if last is not None and last.mrd_negative is False:
                return ResponseCall(
                    ResponseCategory.MRD_RELAPSE,
                    (
                        "conversion from MRD negativity to MRD positivity confirmed in two "
                        "consecutive samples",
                    ),
                    src,
                )
        if a.mrd_negative is False and a.mrd_level and previous:
            pos = [p for p in previous if p.mrd_negative is False and p.mrd_level]
            if pos and pos[-1].mrd_level:
                rise = math.log10(a.mrd_level / pos[-1].mrd_level)
                if rise >= t["mrd_relapse_log10_rise"]:
                    return ResponseCall(
                        ResponseCategory.MRD_RELAPSE,
                        (
                            f"MRD rose {rise:.2f} log10 (>= {t['mrd_relapse_log10_rise']}) between "
                            "two positive samples",
                        ),
                        src,
                    )
    if a.marrow_blasts is None:
        raise ValidationError("marrow_blasts", None, "is required to assess AML response")
    reasons: list[str] = []
    low_blasts = a.marrow_blasts < t["marrow_blasts_lt"]
    clear = low_blasts and not a.blood_blasts and not a.extramedullary
    anc, plt = a.anc, a.platelets
    if clear:
        reasons.append(
            f"marrow blasts {a.marrow_blasts}% < {t['marrow_blasts_lt']}%, no circulating blasts, "
            "no extramedullary disease"
        )
        cr_counts = (
            anc is not None
            and plt is not None
            and (anc >= t["cr_anc_ge"] and plt >= t["cr_platelets_ge"])
        )
        if cr_counts:
            reasons.append(
                f"ANC {anc} >= {t['cr_anc_ge']} and platelets {plt} >= "
                f"{t['cr_platelets_ge']} x 10^9/L"
            )
            if a.mrd_negative:
                reasons.append("MRD negative")
                return ResponseCall(ResponseCategory.CR_MRD_NEG, tuple(reasons), src)
            reasons.append("MRD positive" if a.mrd_negative is False else "MRD not assessed")
            return ResponseCall(ResponseCategory.CR, tuple(reasons), src)
        if (
            anc is not None
            and plt is not None
            and (anc >= t["crh_anc_ge"] and plt >= t["crh_platelets_ge"])
        ):
            reasons.append(
                f"ANC {anc} >= {t['crh_anc_ge']} and platelets {plt} >= {t['crh_platelets_ge']} "
                "(partial hematologic recovery)"
            )
            return ResponseCall(ResponseCategory.CRH, tuple(reasons), src)
        if (
            anc is not None
            and plt is not None
            and (anc >= t["cr_anc_ge"] or plt >= t["cr_platelets_ge"])
        ):
            reasons.append(
                f"residual neutropenia or thrombocytopenia (ANC {anc}, platelets {plt}), "
                "one lineage recovered"
            )
            return ResponseCall(ResponseCategory.CRI, tuple(reasons), src)
        reasons.append("no hematologic recovery required")
        return ResponseCall(ResponseCategory.MLFS, tuple(reasons), src)
    if (
        baseline_marrow_blasts
        and anc is not None
        and plt is not None
        and anc >= t["cr_anc_ge"]
        and plt >= t["cr_platelets_ge"]
        and t["pr_marrow_blasts_min"] <= a.marrow_blasts <= t["pr_marrow_blasts_max"]
        and a.marrow_blasts <= (1 - t["pr_reduction_ge"]) * baseline_marrow_blasts
        and not a.blood_blasts
    ):
        reasons.append(
            f"CR counts, marrow blasts {a.marrow_blasts}% within "
            f"{t['pr_marrow_blasts_min']}–{t['pr_marrow_blasts_max']}% and reduced by >= "
            f"{t['pr_reduction_ge']:.0%} from {baseline_marrow_blasts}%"
        )
        return ResponseCall(ResponseCategory.PR, tuple(reasons), src)
    reasons.append("criteria for CR, CRh, CRi, MLFS or PR not met")
    if at_landmark:
        reasons.append("at the response landmark: refractory")
        return ResponseCall(ResponseCategory.REFRACTORY, tuple(reasons), src)
    return ResponseCall("no_response", tuple(reasons), src)


@dataclasses.dataclass(frozen=True, slots=True)
class MyelomaAssessment:
    """Findings of one myeloma response assessment (IMWG 2016).

    Units: serum M-protein g/dL, urine M-protein mg/24 h, free light chains
    mg/L, marrow plasma cells %.
    """

    serum_m: float | None = None
    urine_m: float | None = None
    immunofixation_negative: bool = False
    marrow_plasma_cells: float | None = None
    flc_kappa: float | None = None
    flc_lambda: float | None = None
    involved_light_chain: str | None = None  # "kappa" or "lambda"
    clonal_cells_absent: bool = False
    plasmacytoma_present: bool = False
    new_lesion: bool = False
    electrophoresis_negative: bool = False
    date: dt.date | None = None

    @property
    def dflc(self) -> float | None:
        """Difference involved − uninvolved free light chain (mg/L)."""
        if self.flc_kappa is None or self.flc_lambda is None or self.involved_light_chain is None:
            return None
        if self.involved_light_chain == "kappa":
            return self.flc_kappa - self.flc_lambda
        return self.flc_lambda - self.flc_kappa


def _reduction(base: float | None, now: float | None) -> float | None:
    if base is None or now is None or base <= 0:
        return None
    return float(1 - _d(now) / _d(base))


def _d(x: float | int) -> Decimal:
    """The value as the laboratory reported it (shortest decimal that round-trips)."""
    return Decimal(repr(float(x)))


def _reduced_by(base: float | None, now: float | None, fraction: float) -> bool:
    """``now`` is at least ``fraction`` below ``base``, compared exactly on the reported digits."""
    if base is None or now is None or base <= 0:
        return False
    return _d(now) <= (1 - _d(fraction)) * _d(base)


def _measurable(b: MyelomaAssessment, t: dict) -> dict[str, bool]:
    """Which markers were measurable at baseline (IMWG measurable-disease thresholds)."""
    serum = b.serum_m is not None and _d(b.serum_m) >= _d(t["measurable_serum_m_ge"])
    urine = b.urine_m is not None and _d(b.urine_m) >= _d(t["measurable_urine_m_ge"])
    flc = False
    if b.involved_light_chain is not None and b.flc_kappa is not None and b.flc_lambda:
        involved = b.flc_kappa if b.involved_light_chain == "kappa" else b.flc_lambda
        lo, hi = t["flc_ratio_normal"]
        ratio = _d(b.flc_kappa) / _d(b.flc_lambda)
        abnormal = ratio < _d(lo) or ratio > _d(hi)
        flc = abnormal and _d(involved) >= _d(t["measurable_involved_flc_ge"])
    return {"serum": serum, "urine": urine, "flc": flc}


def _check_myeloma(a: MyelomaAssessment, where: str) -> None:
    for name in ("serum_m", "urine_m", "marrow_plasma_cells", "flc_kappa", "flc_lambda"):
        v = getattr(a, name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise ValidationError(f"{where}.{name}", v, "must be a finite number >= 0")
    if a.involved_light_chain not in (None, "kappa", "lambda"):
        raise ValidationError(
            f"{where}.involved_light_chain", a.involved_light_chain, "must be kappa or lambda"
        )


def assess_myeloma(
    a: MyelomaAssessment, baseline: MyelomaAssessment, nadir: MyelomaAssessment | None = None
) -> ResponseCall:
    """Classify one myeloma assessment by IMWG 2016 (unconfirmed).

    Values are compared at the precision the laboratory reports them
    (decimal arithmetic on the reported digits): 0.9 → 1.4 g/dL is exactly
    +0.5 g/dL, 1.2 → 0.9 g/dL exactly −25 %.

    Parameters
    ----------
    a : MyelomaAssessment
        Current findings.
    baseline : MyelomaAssessment
        Pre-treatment findings (reference for reductions, and for which markers
        are measurable).
    nadir : MyelomaAssessment, optional
        Lowest confirmed values so far (reference for progression).

    Returns
    -------
    ResponseCall
        sCR, CR, VGPR, PR, "MR", SD or PD. Use :func:`confirm_imwg` for the
        two-consecutive-assessments rule. A rise of dFLC defines PD only when
        neither serum nor urine M-protein was measurable at baseline; a rise of
        marrow plasma cells only when the involved FLC was not measurable either.
    """
    t = load("response_imwg")
    src = t["source"]
    _check_myeloma(a, "assessment")
    _check_myeloma(baseline, "baseline")
    if nadir is not None:
        _check_myeloma(nadir, "nadir")
    meas = _measurable(baseline, t)
    refs = [r for r in (nadir, baseline) if r is not None]

    def lowest(get: Callable[[MyelomaAssessment], float | None]) -> float | None:
        # IMWG: "from lowest confirmed response value" — per marker, the lower of the nadir and
        # the baseline value that were measured (a marker missing at the nadir visit falls back
        # to the baseline; a nadir above the baseline is not the lowest value)
        vals = [v for v in (get(r) for r in refs) if v is not None]
        return min(vals, key=_d) if vals else None

    pd_reasons: list[str] = []
    inc = _d(t["pd_increase_ge"])
    ref_serum = lowest(lambda r: r.serum_m)
    if a.serum_m is not None and ref_serum is not None:
        high = _d(ref_serum) >= _d(t["pd_serum_high_nadir"])
        need = t["pd_serum_abs_high_nadir_ge"] if high else t["pd_serum_abs_ge"]
        d = _d(a.serum_m) - _d(ref_serum)
        if high and d >= _d(need):
            # IMWG 2006/2016: from a lowest value >= 5 g/dL an increase >= 1 g/dL suffices
            # (with the 25 % rule as well the bullet would have no effect: 25 % of 5 is 1.25)
            pd_reasons.append(
                f"serum M-protein +{d} g/dL from {ref_serum:g} (>= {need}, lowest value >= "
                f"{t['pd_serum_high_nadir']} g/dL)"
            )
        elif not high and d >= _d(need) and _d(a.serum_m) >= (1 + inc) * _d(ref_serum):
            pd_reasons.append(
                f"serum M-protein +{d} g/dL from {ref_serum:g} (>= {need}) and >= +{float(inc):.0%}"
            )
    ref_urine = lowest(lambda r: r.urine_m)
    if a.urine_m is not None and ref_urine is not None:
        d = _d(a.urine_m) - _d(ref_urine)
        if d >= _d(t["pd_urine_abs_ge"]) and _d(a.urine_m) >= (1 + inc) * _d(ref_urine):
            pd_reasons.append(
                f"urine M-protein +{d:f} mg/24 h from {ref_urine:g} (>= {t['pd_urine_abs_ge']}) "
                f"and >= +{float(inc):.0%}"
            )
    no_m_protein = not meas["serum"] and not meas["urine"]
    ref_dflc = lowest(lambda r: r.dflc)
    if no_m_protein and a.dflc is not None and ref_dflc is not None:
        d = _d(a.dflc) - _d(ref_dflc)
        if d > _d(t["pd_dflc_abs_gt"]) and _d(a.dflc) >= (1 + inc) * _d(ref_dflc):
            pd_reasons.append(
                f"dFLC +{d:f} mg/L (> {t['pd_dflc_abs_gt']}) and >= +{float(inc):.0%} "
                "(no measurable serum/urine M-protein)"
            )
    ref_pc = lowest(lambda r: r.marrow_plasma_cells)
    if (
        no_m_protein
        and not meas["flc"]
        and a.marrow_plasma_cells is not None
        and ref_pc is not None
    ):
        d = _d(a.marrow_plasma_cells) - _d(ref_pc)
        if d >= _d(t["pd_marrow_pc_abs_ge"]) and _d(a.marrow_plasma_cells) >= (1 + inc) * _d(
            ref_pc
        ):
            pd_reasons.append(
                f"marrow plasma cells +{d:f} points (>= {t['pd_marrow_pc_abs_ge']}) and >= "
                f"+{float(inc):.0%} (no measurable M-protein or FLC)"
            )
    if a.new_lesion:
        pd_reasons.append("new bone lesion or plasmacytoma")
    if pd_reasons:
        return ResponseCall(ResponseCategory.PD, tuple(pd_reasons), src)
    reasons: list[str] = []
    if (
        a.immunofixation_negative
        and a.marrow_plasma_cells is not None
        and _d(a.marrow_plasma_cells) < _d(t["cr_marrow_plasma_cells_lt"])
        and not a.plasmacytoma_present
    ):
        reasons.append(
            f"negative serum/urine immunofixation, marrow plasma cells {a.marrow_plasma_cells}% < "
            f"{t['cr_marrow_plasma_cells_lt']}%, no plasmacytoma"
        )
        lo, hi = t["flc_ratio_normal"]
        ratio = (
            _d(a.flc_kappa) / _d(a.flc_lambda) if a.flc_kappa is not None and a.flc_lambda else None
        )
        if ratio is not None and _d(lo) <= ratio <= _d(hi) and a.clonal_cells_absent:
            reasons.append(f"FLC ratio {float(ratio):.2f} within {lo}–{hi}, no clonal marrow cells")
            return ResponseCall(ResponseCategory.SCR, tuple(reasons), src)
        return ResponseCall(ResponseCategory.CR, tuple(reasons), src)
    if a.electrophoresis_negative and not a.immunofixation_negative:
        reasons.append("M-protein detectable by immunofixation but not by electrophoresis")
        return ResponseCall(ResponseCategory.VGPR, tuple(reasons), src)
    # IMWG responses are judged on the markers that were measurable at baseline: the serum
    # criterion applies when serum M-protein was measurable, the urine criterion when urine
    # M-protein was (urine-only disease responds by urine alone); a measurable marker that was
    # not measured at this assessment cannot support a response.
    ms, mu = meas["serum"], meas["urine"]
    rs = _reduction(baseline.serum_m, a.serum_m)
    ru = _reduction(baseline.urine_m, a.urine_m)
    unmeasured = [
        n for n, m, v in (("serum_m", ms, a.serum_m), ("urine_m", mu, a.urine_m)) if m and v is None
    ]
    if unmeasured:
        reasons.append(
            f"{' and '.join(unmeasured)} measurable at baseline but not measured at this "
            "assessment: VGPR/PR/MR cannot be judged"
        )
        return ResponseCall(ResponseCategory.SD, tuple(reasons), src)

    def serum(frac: float) -> bool:
        return not ms or _reduced_by(baseline.serum_m, a.serum_m, frac)

    def shown() -> str:
        parts = []
        if ms:
            parts.append(f"serum M-protein reduced {rs:.1%}")
        if mu and ru is not None:
            parts.append(f"urine M-protein reduced {ru:.1%} (now {a.urine_m:g} mg/24 h)")
        return "; ".join(parts)

    if ms or mu:
        urine_vgpr = not mu if a.urine_m is None else _d(a.urine_m) < _d(t["vgpr_urine_lt"])
        if serum(t["vgpr_serum_reduction_ge"]) and urine_vgpr:
            reasons.append(
                f"{shown()}: serum >= {t['vgpr_serum_reduction_ge']:.0%} reduction (if measurable) "
                f"and urine M-protein < {t['vgpr_urine_lt']} mg/24 h"
            )
            return ResponseCall(ResponseCategory.VGPR, tuple(reasons), src)
        urine_pr = (
            not mu
            or _reduced_by(baseline.urine_m, a.urine_m, t["pr_urine_reduction_ge"])
            or _d(a.urine_m) < _d(t["pr_urine_lt"])  # type: ignore[arg-type]
        )
        if serum(t["pr_serum_reduction_ge"]) and urine_pr:
            reasons.append(
                f"{shown()}: serum >= {t['pr_serum_reduction_ge']:.0%} reduction (if measurable); "
                f"urine reduced >= {t['pr_urine_reduction_ge']:.0%} or < {t['pr_urine_lt']} "
                "mg/24 h (if measurable)"
            )
            return ResponseCall(ResponseCategory.PR, tuple(reasons), src)
        urine_mr = not mu or _reduced_by(baseline.urine_m, a.urine_m, t["mr_urine_reduction_ge"])
        if serum(t["mr_serum_reduction_ge"]) and urine_mr:
            reasons.append(
                f"{shown()}: serum 25–49% and/or urine 50–89% reduction: minimal response"
            )
            return ResponseCall("MR", tuple(reasons), src)
    elif meas["flc"]:
        if _reduced_by(baseline.dflc, a.dflc, t["pr_flc_dflc_reduction_ge"]):
            rf = _reduction(baseline.dflc, a.dflc)
            reasons.append(
                f"dFLC reduced {rf:.1%} (>= {t['pr_flc_dflc_reduction_ge']:.0%}; serum and urine "
                "M-protein not measurable)"
            )
            return ResponseCall(ResponseCategory.PR, tuple(reasons), src)
    elif (
        baseline.marrow_plasma_cells is not None
        and _d(baseline.marrow_plasma_cells) >= _d(t["pr_marrow_pc_baseline_ge"])
        and _reduced_by(baseline.marrow_plasma_cells, a.marrow_plasma_cells, 0.5)
    ):
        reasons.append(
            f"marrow plasma cells {baseline.marrow_plasma_cells:g}% -> {a.marrow_plasma_cells:g}% "
            f"(>= 50% reduction from a baseline >= {t['pr_marrow_pc_baseline_ge']}%; no measurable "
            "M-protein or FLC)"
        )
        return ResponseCall(ResponseCategory.PR, tuple(reasons), src)
    reasons.append("criteria for sCR, CR, VGPR, PR, MR or PD not met")
    return ResponseCall(ResponseCategory.SD, tuple(reasons), src)


_IMWG_ORDER = {"PD": 0, "SD": 1, "MR": 2, "PR": 3, "VGPR": 4, "CR": 5, "sCR": 6}


def _rank(call: ResponseCall) -> int:
    cat = call.category
    return _IMWG_ORDER[cat.value if isinstance(cat, ResponseCategory) else cat]


def confirm_imwg(calls: Sequence[ResponseCall]) -> ResponseCall | None:
    """Best confirmed IMWG response over chronological unconfirmed calls.

    IMWG 2016: every response category requires two consecutive assessments
    before new therapy. A pair of consecutive calls confirms the *lower* of
    its two categories; a pair with one PD confirms nothing; the best
    confirmed category wins, except that two consecutive PD calls confirm
    progression, which is returned as soon as it occurs.

    Parameters
    ----------
    calls : sequence of ResponseCall
        Calls from :func:`assess_myeloma`, in date order.

    Returns
    -------
    ResponseCall or None
        None when no pair of consecutive assessments confirms a category.
    """
    src = load("response_imwg")["source"]
    best: tuple[int, ResponseCall] | None = None
    for prev, cur in itertools.pairwise(calls):
        if prev.category == ResponseCategory.PD and cur.category == ResponseCategory.PD:
            return ResponseCall(
                ResponseCategory.PD, ("PD confirmed by two consecutive assessments",), src
            )
        if ResponseCategory.PD in (prev.category, cur.category):
            continue  # a single PD confirms nothing
        low = prev if _rank(prev) <= _rank(cur) else cur
        r = _rank(low)
        if best is None or r > best[0]:
            cat = low.category
            label = cat.value if isinstance(cat, ResponseCategory) else cat
            best = (
                r,
                ResponseCall(
                    cat, (*low.reasons, f"{label} confirmed by two consecutive assessments"), src
                ),
            )
    return None if best is None else best[1]
