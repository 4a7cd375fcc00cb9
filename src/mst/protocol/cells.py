"""GPBSC cell dose and collection plan (004 §2.2).

Target per infusion: MNC 2.5 × 10⁸/kg ± 25% and/or CD3⁺ 1 × 10⁸/kg ± 25%.
The first aliquot is infused fresh; the rest is cryopreserved; when the
collection cannot cover the planned courses, a second donor is allowed.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mst.domain import Patient, Product
from mst.errors import ValidationError
from mst.protocol._data import rules
from mst.protocol.notes import Note

_EPS = 1e-9
Basis = Literal["both", "mnc", "cd3"]


class CellTargets(BaseModel):
    """Per-infusion targets (× 10⁸ cells/kg) and their tolerance."""

    model_config = ConfigDict(frozen=True)

    mnc_1e8_per_kg: float
    cd3_1e8_per_kg: float
    tolerance: float
    source: str


def cell_targets() -> CellTargets:
    """The consensus targets from ``rules.yaml`` (004 §2.2)."""
    c = rules()["cell_dose"]
    return CellTargets(
        mnc_1e8_per_kg=c["mnc_1e8_per_kg"],
        cd3_1e8_per_kg=c["cd3_1e8_per_kg"],
        tolerance=c["tolerance"],
        source=c["source"],
    )


class DoseCheck(BaseModel):
    """Judgement of one infused dose against its target."""

    model_config = ConfigDict(frozen=True)

    marker: str
    dose_1e8_per_kg: float
    target: float
    low: float
    high: float
    status: Literal["below", "within", "above"]


def check_cell_dose(marker: Literal["mnc", "cd3"], dose_1e8_per_kg: float) -> DoseCheck:
    """Compare an infused dose with the 004 §2.2 target ± 25% (bounds inclusive).

    Parameters
    ----------
    marker : {"mnc", "cd3"}
    dose_1e8_per_kg : float
        Infused cells × 10⁸ per kg (≥ 0).

    Returns
    -------
    DoseCheck
    """
    t = cell_targets()
    if marker not in ("mnc", "cd3"):
        raise ValidationError("marker", marker, "must be 'mnc' or 'cd3'")
    if not math.isfinite(dose_1e8_per_kg) or dose_1e8_per_kg < 0:
        raise ValidationError(
            f"{marker}_1e8_per_kg", dose_1e8_per_kg, "must be a finite number >= 0"
        )
    target = t.mnc_1e8_per_kg if marker == "mnc" else t.cd3_1e8_per_kg
    low, high = target * (1 - t.tolerance), target * (1 + t.tolerance)
    status: Literal["below", "within", "above"]
    if dose_1e8_per_kg < low - _EPS:
        status = "below"
    elif dose_1e8_per_kg > high + _EPS:
        status = "above"
    else:
        status = "within"
    return DoseCheck(
        marker=marker,
        dose_1e8_per_kg=dose_1e8_per_kg,
        target=target,
        low=low,
        high=high,
        status=status,
    )


class Aliquot(BaseModel):
    """One planned infusion bag."""

    model_config = ConfigDict(frozen=True)

    course: int
    fraction: float
    product: Product
    mnc_1e8_per_kg: float | None
    cd3_1e8_per_kg: float | None
    mnc_status: str | None
    cd3_status: str | None


class CollectionPlan(BaseModel):
    """How far one collection goes."""

    model_config = ConfigDict(frozen=True)

    weight_kg: float
    mnc_total_1e8: float | None
    cd3_total_1e8: float | None
    basis: Basis
    courses_planned: int
    courses_at_target: int
    courses_covered: int
    aliquots: tuple[Aliquot, ...]
    spare_fraction: float
    second_donor_needed: bool
    courses_needing_second_donor: tuple[int, ...]
    notes: tuple[Note, ...]


def _positive(name: str, v: float | None, required: bool) -> None:
    if v is None:
        if required:
            raise ValidationError(name, v, "is required")
        return
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise ValidationError(name, v, "must be a finite number > 0")


def _weight_range() -> tuple[float, float]:
    """The weight range of the patient model (one range for every input path)."""
    from annotated_types import Ge, Le

    meta = Patient.model_fields["weight_kg"].metadata
    lo = next(m.ge for m in meta if isinstance(m, Ge))
    hi = next(m.le for m in meta if isinstance(m, Le))
    return float(lo), float(hi)


def _plausible(weight_kg: float, mnc: float | None, cd3: float | None) -> None:
    lo, hi = _weight_range()
    if not lo <= weight_kg <= hi:
        raise ValidationError(
            "weight_kg", weight_kg, f"must be {lo:g}–{hi:g} kg (the patient's weight in kg)"
        )
    c = rules()["cell_dose"]
    for name, v, top in (
        ("mnc_total_1e8", mnc, c["max_mnc_total_1e8"]),
        ("cd3_total_1e8", cd3, c["max_cd3_total_1e8"]),
    ):
        if v is not None and v > top:
            raise ValidationError(
                name,
                v,
                f"must be in units of 10^8 cells (600 = 6 × 10^10 cells; at most {top:g}) — "
                "the value looks like absolute cells",
            )


def collection_plan(
    weight_kg: float,
    *,
    mnc_total_1e8: float | None = None,
    cd3_total_1e8: float | None = None,
    courses: int = 1,
    basis: Basis | None = None,
) -> CollectionPlan:
    """Plan the aliquots of one GPBSC collection.

    Parameters
    ----------
    weight_kg : float
        Patient's weight (> 0).
    mnc_total_1e8, cd3_total_1e8 : float, optional
        Total MNC and CD3⁺ cells collected, in units of 10⁸ cells (e.g. 600 =
        6 × 10¹⁰). At least one is required.
    courses : int
        Number of MST courses the collection should serve (≥ 1).
    basis : {"both", "mnc", "cd3"}, optional
        Which targets an aliquot must meet (default: every marker given —
        the consensus says "and/or").

    Returns
    -------
    CollectionPlan
        The number of courses covered is maximised: as many aliquots as can
        each get at least target − 25% (at most the courses asked for). They
        are at target when the collection allows it, otherwise split evenly
        (below target, within −25%). Courses beyond those get no aliquot and
        need a second donor (004 §2.2). First aliquot fresh, the rest
        cryopreserved.

    Raises
    ------
    mst.errors.ValidationError
        For weight ≤ 0, no or non-positive counts, courses < 1, or a basis
        naming a marker that was not given.
    """
    _positive("weight_kg", weight_kg, True)
    _positive("mnc_total_1e8", mnc_total_1e8, False)
    _positive("cd3_total_1e8", cd3_total_1e8, False)
    _plausible(weight_kg, mnc_total_1e8, cd3_total_1e8)
    if mnc_total_1e8 is None and cd3_total_1e8 is None:
        raise ValidationError(
            "mnc_total_1e8", None, "give the MNC and/or the CD3+ count of the collection"
        )
    if isinstance(courses, bool) or not isinstance(courses, int) or courses < 1:
        raise ValidationError("courses", courses, "must be an integer >= 1")
    given = {"mnc": mnc_total_1e8, "cd3": cd3_total_1e8}
    if basis is None:
        basis = (
            "both"
            if all(v is not None for v in given.values())
            else ("mnc" if mnc_total_1e8 is not None else "cd3")
        )
    if basis not in ("both", "mnc", "cd3"):
        raise ValidationError("basis", basis, "must be 'both', 'mnc' or 'cd3'")
    markers = ["mnc", "cd3"] if basis == "both" else [basis]
    for m in markers:
        if given[m] is None:
            raise ValidationError(f"{m}_total_1e8", None, f"is required for basis {basis}")
    t = cell_targets()
    target = {"mnc": t.mnc_1e8_per_kg, "cd3": t.cd3_1e8_per_kg}
    notes: list[Note] = []
    # fraction of the whole collection that gives exactly the target dose, per marker
    f_target = {m: target[m] * weight_kg / given[m] for m in markers}  # type: ignore[operator]
    lo = max((1 - t.tolerance) * f for f in f_target.values())
    hi = min((1 + t.tolerance) * f for f in f_target.values())
    if lo > hi + _EPS:
        notes.append(
            Note(
                level="warning",
                code="markers_incompatible",
                message=(
                    "no aliquot can meet both the MNC and the CD3+ target within ±25%; "
                    "planned on MNC"
                ),
                sources=(t.source,),
            )
        )
        markers = ["mnc"]
        f_target = {"mnc": f_target["mnc"]}
        lo, hi = (1 - t.tolerance) * f_target["mnc"], (1 + t.tolerance) * f_target["mnc"]
    f_goal = min(max(f_target.values()), hi)
    courses_at_target = math.floor(1 / f_goal + _EPS)
    # 004 §2.2: cover as many courses as the collection allows within ±25% of target (each
    # aliquot >= target − 25%), at target when it is enough, then ask for a second donor.
    n_max = math.floor(1 / lo + _EPS)
    k = min(courses, n_max)
    if k == 0:
        fractions: list[float] = []
    elif k * f_goal <= 1 + _EPS:
        fractions = [f_goal] * k
    else:
        fractions = [1 / k] * k
        notes.append(
            Note(
                level="info",
                code="split_below_target",
                message=(
                    f"collection split evenly over {k} courses: below target but within "
                    "the −25% bound (more courses covered than at full target dose)"
                ),
                sources=(t.source,),
            )
        )
    covered = len(fractions)
    aliquots = []
    for i, f in enumerate(fractions, 1):
        doses = {
            m: (given[m] * f / weight_kg if given[m] is not None else None) for m in ("mnc", "cd3")
        }
        aliquots.append(
            Aliquot(
                course=i,
                fraction=round(f, 6),
                product=Product.FRESH if i == 1 else Product.CRYOPRESERVED,
                mnc_1e8_per_kg=None if doses["mnc"] is None else round(doses["mnc"], 4),
                cd3_1e8_per_kg=None if doses["cd3"] is None else round(doses["cd3"], 4),
                mnc_status=None
                if doses["mnc"] is None
                else check_cell_dose("mnc", doses["mnc"]).status,
                cd3_status=None
                if doses["cd3"] is None
                else check_cell_dose("cd3", doses["cd3"]).status,
            )
        )
    missing = tuple(range(covered + 1, courses + 1))
    if missing:
        notes.append(
            Note(
                level="warning",
                code="second_donor_needed",
                message=(
                    f"the collection covers {covered} of {courses} courses; a second donor "
                    f"is needed for course(s) {', '.join(map(str, missing))}"
                ),
                sources=(t.source,),
            )
        )
    if covered > 1:
        notes.append(
            Note(
                level="info",
                code="cryopreserve",
                message="first aliquot infused fresh; the rest cryopreserved for later courses",
                sources=(t.source,),
            )
        )
    spare = max(0.0, 1 - sum(fractions))
    return CollectionPlan(
        weight_kg=weight_kg,
        mnc_total_1e8=mnc_total_1e8,
        cd3_total_1e8=cd3_total_1e8,
        basis=basis,
        courses_planned=courses,
        courses_at_target=courses_at_target,
        courses_covered=covered,
        aliquots=tuple(aliquots),
        spare_fraction=round(spare, 6),
        second_donor_needed=bool(missing),
        courses_needing_second_donor=missing,
        notes=tuple(notes),
    )
