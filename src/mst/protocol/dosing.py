"""Body-surface area and per-course doses of a catalog regimen.

BSA by Mosteller (default) or DuBois, no cap unless configured. A dose is the
catalog unit dose × BSA (mg/m², U/m²), × weight (mg/kg) or flat (mg), rounded
by a configurable rule. Dose ranges of the source (e.g. idarubicin 8–12 mg/m²)
stay ranges until the prescriber chooses a value inside them. Venetoclax with
CYP3A inhibitors (posaconazole, voriconazole…) is flagged with the labelled
adjustment.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mst.errors import ValidationError
from mst.protocol._data import rules
from mst.protocol.catalog import DoseBasis, Regimen, RegimenItem
from mst.protocol.notes import Note

BsaMethod = Literal["mosteller", "dubois"]


def bsa(height_cm: float, weight_kg: float, method: str = "mosteller") -> float:
    """Body-surface area in m².

    Parameters
    ----------
    height_cm : float
        Height in cm (> 0).
    weight_kg : float
        Weight in kg (> 0).
    method : {"mosteller", "dubois"}
        Mosteller: sqrt(height × weight / 3600) (Mosteller RD, N Engl J Med
        1987;317:1098). DuBois: 0.007184 × weight^0.425 × height^0.725 (DuBois D,
        DuBois EF, Arch Intern Med 1916;17:863).

    Returns
    -------
    float
        Unrounded BSA in m².

    Raises
    ------
    mst.errors.ValidationError
        For a missing, zero, negative or non-finite height or weight, or an unknown method.
    """
    for name, v in (("height_cm", height_cm), ("weight_kg", weight_kg)):
        if v is None:
            raise ValidationError(name, v, "is required to compute the body-surface area")
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise ValidationError(name, v, "must be a finite number > 0")
    if method == "mosteller":
        return math.sqrt(height_cm * weight_kg / 3600.0)
    if method == "dubois":
        return 0.007184 * weight_kg**0.425 * height_cm**0.725
    raise ValidationError("bsa_method", method, "must be 'mosteller' or 'dubois'")


class DoseOptions(BaseModel):
    """How doses are computed and rounded.

    Attributes
    ----------
    bsa_method : {"mosteller", "dubois"}
    bsa_cap_m2 : float or None
        Cap applied to the BSA (none by default).
    bsa_decimals : int or None
        BSA rounded half-up to this many decimals before dosing (2 by default; None: unrounded).
    rounding_step : float
        Each administered dose is rounded to a multiple of this (mg or U; default 1).
    rounding_mode : {"nearest", "down"}
        Nearest (half up) or down to the step.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bsa_method: BsaMethod = "mosteller"
    bsa_cap_m2: float | None = Field(default=None, gt=0)
    bsa_decimals: int | None = Field(default=2, ge=0, le=4)
    rounding_step: float = Field(default=1.0, gt=0)
    rounding_mode: Literal["nearest", "down"] = "nearest"


def round_dose(value: float, step: float = 1.0, mode: str = "nearest") -> float:
    """Round ``value`` to a multiple of ``step`` (half up, or down).

    Parameters
    ----------
    value : float
        Dose to round (≥ 0).
    step : float
        Rounding step (> 0), e.g. 1 mg, 5 mg, 0.5 mg.
    mode : {"nearest", "down"}

    Returns
    -------
    float
        The rounded dose.
    """
    if step <= 0:
        raise ValidationError("rounding_step", step, "must be > 0")
    q = Decimal(repr(value)) / Decimal(repr(step))
    rounding = ROUND_HALF_UP if mode == "nearest" else ROUND_DOWN
    if mode not in ("nearest", "down"):
        raise ValidationError("rounding_mode", mode, "must be 'nearest' or 'down'")
    n = q.quantize(Decimal(1), rounding=rounding)
    return float(n * Decimal(repr(step)))


def effective_bsa(height_cm: float, weight_kg: float, options: DoseOptions) -> tuple[float, float]:
    """BSA as used for dosing: (raw BSA, BSA after cap and rounding)."""
    raw = bsa(height_cm, weight_kg, options.bsa_method)
    used = raw if options.bsa_cap_m2 is None else min(raw, options.bsa_cap_m2)
    if options.bsa_decimals is not None:
        used = float(
            Decimal(repr(used)).quantize(Decimal(1).scaleb(-options.bsa_decimals), ROUND_HALF_UP)
        )
    return raw, used


class DoseLine(BaseModel):
    """Computed dose of one regimen item."""

    model_config = ConfigDict(frozen=True)

    drug: str
    days: tuple[int, ...]
    route: str
    per_day: int
    unit_dose: float | tuple[float, float] = Field(
        description="catalog dose (per m², per kg or flat)"
    )
    unit: str
    chosen_unit_dose: float | None = Field(
        description="the value used; None while a range is unchosen"
    )
    dose: float | None = Field(description="rounded dose per administration (mg or U)")
    dose_range: tuple[float, float] | None = Field(description="rounded per-administration range")
    dose_unit: str
    choice_required: bool
    course_total: float | None
    components: dict[str, float] | None = Field(
        default=None, description="CPX-351: mg of each component per administration"
    )
    adjusted: tuple[tuple[str, float], ...] | None = Field(
        default=None, description="labelled CYP3A-adjusted doses as (days, mg) segments"
    )
    source: str


class CourseDoses(BaseModel):
    """Doses of one course of a regimen for one patient."""

    model_config = ConfigDict(frozen=True)

    regimen_id: str
    height_cm: float
    weight_kg: float
    bsa_method: str
    bsa_m2_raw: float
    bsa_m2: float
    lines: tuple[DoseLine, ...]
    choices_required: tuple[str, ...]
    notes: tuple[Note, ...]


def _scale(item: RegimenItem, value: float, bsa_m2: float, weight_kg: float) -> float:
    if item.unit in (DoseBasis.MG_M2, DoseBasis.U_M2):
        return value * bsa_m2
    if item.unit is DoseBasis.MG_KG:
        return value * weight_kg
    return value


def _check_choices(regimen: Regimen, choices: dict[str, float]) -> None:
    drugs = set(regimen.drugs)
    for drug, value in choices.items():
        if drug not in drugs:
            raise ValidationError(
                f"dose_choices.{drug}",
                value,
                f"{regimen.id} has no {drug} (drugs: {', '.join(sorted(drugs))})",
            )
        ranges = [i for i in regimen.items if i.drug == drug and i.is_range]
        if not ranges:
            raise ValidationError(
                f"dose_choices.{drug}",
                value,
                f"{drug} has a fixed dose in {regimen.id}; no choice to make",
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"dose_choices.{drug}", value, "must be a number")
        for item in ranges:
            lo, hi = item.dose_low, item.dose_high
            if not lo <= value <= hi:
                raise ValidationError(
                    f"dose_choices.{drug}",
                    value,
                    f"must lie in {lo:g}–{hi:g} {item.unit.value} ({regimen.source})",
                )


def _inhibitor_index() -> dict[str, str]:
    table = rules()["venetoclax_cyp3a"]["inhibitors"]
    index: dict[str, str] = {}
    for generic, entry in table.items():
        index[generic] = generic
        for brand in entry.get("brands", ()):
            index[brand] = generic
    return index


def normalise_inhibitor(name: object, field: str = "cyp3a_inhibitors") -> str:
    """The generic name of a CYP3A/P-gp inhibitor as the label table lists it.

    Case, surrounding and repeated whitespace, ® and ™ are ignored; brand names
    (``Noxafil``) map to the generic (``posaconazole``).

    Parameters
    ----------
    name : str
        The name as entered.
    field : str
        Field name used in the error.

    Returns
    -------
    str
        The generic name (a key of ``rules.yaml`` ``venetoclax_cyp3a.inhibitors``).

    Raises
    ------
    mst.errors.ValidationError
        For a name that is not a listed strong or moderate CYP3A inhibitor or
        P-gp inhibitor (unknown means refuse: a missed inhibitor would mean a
        full venetoclax dose).
    """
    if not isinstance(name, str):
        raise ValidationError(field, name, "must be a drug name")
    key = " ".join(name.replace("®", "").replace("™", "").lower().split())
    key = key.replace(" / ", "/")
    index = _inhibitor_index()
    if key in index:
        return index[key]
    raise ValidationError(
        field,
        name,
        "is not a CYP3A or P-gp inhibitor known to the venetoclax label table "
        "(check the spelling, or list only inhibitors; known: "
        + ", ".join(sorted(rules()["venetoclax_cyp3a"]["inhibitors"]))
        + ")",
    )


def normalise_inhibitors(
    names: tuple[str, ...] | list[str], field: str = "cyp3a_inhibitors"
) -> tuple[str, ...]:
    """Normalise every name (see :func:`normalise_inhibitor`), keeping order, without repeats."""
    out: list[str] = []
    for i, n in enumerate(names):
        g = normalise_inhibitor(n, f"{field}[{i}]")
        if g not in out:
            out.append(g)
    return tuple(out)


def _cyp3a(inhibitors: tuple[str, ...]) -> tuple[str | None, dict | None]:
    table = rules()["venetoclax_cyp3a"]["inhibitors"]
    known = [(name, table[name]) for name in inhibitors]
    strong = [(n, t) for n, t in known if t["strength"] == "strong"]
    if strong:
        # the lowest labelled maintenance dose wins (posaconazole 70 mg)
        return min(strong, key=lambda nt: nt[1]["maintenance_mg"])
    if known:
        return max(known, key=lambda nt: nt[1]["reduce_fraction"])
    return None, None


def venetoclax_adjusted(day: int, inhibitor: str, standard_mg: float | None = None) -> float | None:
    """Labelled venetoclax dose on a course day with a CYP3A or P-gp inhibitor.

    Parameters
    ----------
    day : int
        Course day (1 = first).
    inhibitor : str
        Drug name (generic or brand; see :func:`normalise_inhibitor`).
    standard_mg : float, optional
        The regimen's dose that day (100/200/400 mg); needed for moderate
        CYP3A and P-gp inhibitors.

    Returns
    -------
    float or None
        mg for a strong inhibitor (ramp 10/20/50 mg, then 70 mg with posaconazole
        or 100 mg with other strong inhibitors); for a moderate CYP3A or a P-gp
        inhibitor the standard dose reduced by the labelled 50 % (None when
        ``standard_mg`` is not given).

    Raises
    ------
    mst.errors.ValidationError
        For a name that is not a known inhibitor.
    """
    entry = rules()["venetoclax_cyp3a"]["inhibitors"][normalise_inhibitor(inhibitor)]
    if entry["strength"] != "strong":
        if standard_mg is None:
            return None
        return float(standard_mg) * (1 - float(entry["reduce_fraction"]))
    ramp = entry["ramp_mg"]
    return float(ramp[day - 1]) if day <= len(ramp) else float(entry["maintenance_mg"])


def days_text(days: tuple[int, ...] | list[int]) -> str:
    """Compress sorted days into the catalog notation (``1-5,8-9``)."""
    parts: list[str] = []
    run: list[int] = []
    for d in sorted(days):
        if run and d == run[-1] + 1:
            run.append(d)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [d]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(parts)


def _segments(pairs: list[tuple[int, float | None]]) -> tuple[tuple[str, float], ...]:
    out: list[tuple[list[int], float]] = []
    for day, mg in pairs:
        assert mg is not None
        if out and out[-1][1] == mg and out[-1][0][-1] == day - 1:
            out[-1][0].append(day)
        else:
            out.append(([day], mg))
    return tuple((days_text(days), mg) for days, mg in out)


def course_doses(
    regimen: Regimen,
    height_cm: float,
    weight_kg: float,
    *,
    dose_choices: dict[str, float] | None = None,
    cyp3a_inhibitors: tuple[str, ...] | list[str] = (),
    options: DoseOptions | None = None,
) -> CourseDoses:
    """Compute the doses of one course of ``regimen``.

    Parameters
    ----------
    regimen : Regimen
        A catalog regimen.
    height_cm, weight_kg : float
        Patient's height and weight.
    dose_choices : dict, optional
        Chosen unit dose per drug for the items the source gives as a range
        (e.g. ``{"idarubicin": 10}`` mg/m²); must lie inside the range.
    cyp3a_inhibitors : sequence of str
        Concomitant CYP3A inhibitors (lower case). Venetoclax lines get an
        ``adjusted_dose`` and a warning.
    options : DoseOptions, optional
        BSA method, cap and rounding.

    Returns
    -------
    CourseDoses
        One line per regimen item, with notes (choices required, CYP3A warnings).

    Raises
    ------
    mst.errors.ValidationError
        Missing/invalid height or weight, or a choice outside its range or for a fixed dose.
    """
    options = options or DoseOptions()
    choices = dict(dose_choices or {})
    _check_choices(regimen, choices)
    raw, used = effective_bsa(height_cm, weight_kg, options)
    inhibitors = normalise_inhibitors(cyp3a_inhibitors)
    inhibitor, inhibitor_entry = _cyp3a(inhibitors)
    cyp = rules()["venetoclax_cyp3a"]
    notes: list[Note] = []
    lines: list[DoseLine] = []
    pending: list[str] = []

    def r(x: float) -> float:
        return round_dose(x, options.rounding_step, options.rounding_mode)

    for item in regimen.items:
        dose_unit = "U" if item.unit is DoseBasis.U_M2 else "mg"
        chosen: float | None = choices.get(item.drug) if item.is_range else float(item.dose_low)
        days = item.day_list
        n_admin = len(days) * item.per_day
        dose = r(_scale(item, chosen, used, weight_kg)) if chosen is not None else None
        drange = None
        if item.is_range:
            drange = (
                r(_scale(item, item.dose_low, used, weight_kg)),
                r(_scale(item, item.dose_high, used, weight_kg)),
            )
            if chosen is None and item.drug not in pending:
                pending.append(item.drug)
        components = None
        if item.components and dose is not None:
            components = {k: r(dose * v) for k, v in item.components.items()}
        adjusted = None
        total = None if dose is None else round(dose * n_admin, 6)
        if item.drug == "venetoclax" and inhibitor is not None and dose is not None:
            per_day = [(d, venetoclax_adjusted(d, inhibitor, dose)) for d in days]
            per_day = [(d, r(mg)) for d, mg in per_day if mg is not None]
            adjusted = _segments(per_day)
            total = round(sum(mg for _, mg in per_day) * item.per_day, 6)
        lines.append(
            DoseLine(
                drug=item.drug,
                days=days,
                route=item.route,
                per_day=item.per_day,
                unit_dose=item.dose,
                unit=item.unit.value,
                chosen_unit_dose=chosen,
                dose=dose,
                dose_range=drange,
                dose_unit=dose_unit,
                choice_required=item.is_range and chosen is None,
                course_total=total,
                components=components,
                adjusted=adjusted,
                source=regimen.source,
            )
        )
    for drug in pending:
        item = next(i for i in regimen.items if i.drug == drug and i.is_range)
        notes.append(
            Note(
                level="action",
                code="dose_choice_required",
                message=(
                    f"{drug}: the source gives {item.dose_low:g}–{item.dose_high:g} "
                    f"{item.unit.value}; "
                    "choose a dose inside the range"
                ),
                sources=(regimen.source,),
            )
        )
    if "venetoclax" in regimen.drugs and inhibitor is not None:
        assert inhibitor_entry is not None
        if inhibitor_entry["strength"] == "strong":
            ramp = "/".join(f"{x:g}" for x in inhibitor_entry["ramp_mg"])
            msg = (
                f"venetoclax with {inhibitor} (strong CYP3A inhibitor): labelled ramp-up {ramp} mg "
                f"on days 1–{len(inhibitor_entry['ramp_mg'])}, "
                f"then {inhibitor_entry['maintenance_mg']} mg "
                "daily instead of 100/200/400 mg"
            )
        else:
            kind = (
                "P-gp inhibitor"
                if inhibitor_entry["strength"] == "p-gp"
                else "moderate CYP3A inhibitor"
            )
            pct = int(inhibitor_entry["reduce_fraction"] * 100)
            msg = (
                f"venetoclax with {inhibitor} ({kind}): the label reduces the venetoclax dose "
                f"by at least {pct}% — planned {100 - pct}% of 100/200/400 mg on every dosing day"
            )
        notes.append(
            Note(
                level="warning",
                code="venetoclax_cyp3a",
                message=msg,
                sources=(regimen.source, cyp["source"]),
            )
        )
    if options.bsa_cap_m2 is not None and raw > options.bsa_cap_m2:
        notes.append(
            Note(
                level="info",
                code="bsa_capped",
                message=f"BSA {raw:.2f} m² capped at {options.bsa_cap_m2:g} m² (configured)",
                sources=("local configuration",),
            )
        )
    return CourseDoses(
        regimen_id=regimen.id,
        height_cm=height_cm,
        weight_kg=weight_kg,
        bsa_method=options.bsa_method,
        bsa_m2_raw=raw,
        bsa_m2=used,
        lines=tuple(lines),
        choices_required=tuple(pending),
        notes=tuple(notes),
    )
