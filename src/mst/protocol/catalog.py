"""Regimen catalog: the consensus and seed 002 regimens as validated data.

The catalog lives in ``mst/data/protocol/regimens.yaml``; :func:`load_catalog`
validates it (known drugs and units, day specifications, dose ranges, infusion
clock drugs, sources) and returns the regimens by id.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mst.domain import Fitness
from mst.domain.models import parse
from mst.errors import NotFoundError, ValidationError
from mst.protocol._data import load_yaml

DRUGS = frozenset(
    {
        "idarubicin",
        "daunorubicin",
        "mitoxantrone",
        "cytarabine",
        "venetoclax",
        "azacitidine",
        "decitabine",
        "cpx-351",
    }
)
ROUTES = frozenset({"IV", "PO", "SC"})
_DAYS = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


class Phase(StrEnum):
    """Treatment phase of a regimen (004 §4 induction, §5 post-remission)."""

    INDUCTION = "induction"
    POST_REMISSION = "post_remission"


class Intensity(StrEnum):
    """Intensity class of a regimen."""

    INTENSIVE = "intensive"
    REDUCED = "reduced"
    LOW = "low"


class DoseBasis(StrEnum):
    """Unit of a catalog dose: per m² of BSA, per kg, or flat."""

    MG_M2 = "mg/m2"
    MG_KG = "mg/kg"
    MG = "mg"
    U_M2 = "U/m2"


def parse_days(spec: str) -> tuple[int, ...]:
    """Expand a day specification (``"1-3"``, ``"1,3,5"``, ``"1-5,8-9"``).

    Parameters
    ----------
    spec : str
        Comma-separated days or inclusive ranges, day 1 = first day of the course.

    Returns
    -------
    tuple of int
        Sorted distinct days.

    Raises
    ------
    mst.errors.ValidationError
        On malformed text, day 0, reversed ranges or days beyond 60.
    """
    text = spec.replace(" ", "")
    if not _DAYS.match(text):
        raise ValidationError("days", spec, "must look like '1-3', '1,3,5' or '1-5,8-9'")
    days: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        a, b = int(lo), int(hi or lo)
        if a < 1 or b < a or b > 60:
            raise ValidationError("days", spec, "days run from 1 to 60 and ranges must ascend")
        days.update(range(a, b + 1))
    return tuple(sorted(days))


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegimenItem(_Frozen):
    """One drug at one dose level on given days of a course."""

    drug: str
    dose: float | tuple[float, float]
    unit: DoseBasis
    route: str
    per_day: int = Field(ge=1, le=4)
    days: str
    components: dict[str, float] | None = None

    @field_validator("drug")
    @classmethod
    def _drug(cls, v: str) -> str:
        if v not in DRUGS:
            raise ValueError(f"unknown drug {v!r} (known: {', '.join(sorted(DRUGS))})")
        return v

    @field_validator("route")
    @classmethod
    def _route(cls, v: str) -> str:
        if v not in ROUTES:
            raise ValueError(f"route must be one of {sorted(ROUTES)}")
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: str) -> str:
        parse_days(v)
        return v

    @field_validator("dose", mode="before")
    @classmethod
    def _dose(cls, v: Any) -> Any:
        if isinstance(v, list):
            v = tuple(v)
        if isinstance(v, tuple):
            if len(v) != 2 or not 0 < v[0] < v[1]:
                raise ValueError("a dose range is [low, high] with 0 < low < high")
        elif not isinstance(v, int | float) or v <= 0:
            raise ValueError("dose must be > 0")
        return v

    @property
    def day_list(self) -> tuple[int, ...]:
        """Days of the course on which this item is given."""
        return parse_days(self.days)

    @property
    def is_range(self) -> bool:
        """True when the source gives a dose range the prescriber must choose in."""
        return isinstance(self.dose, tuple)

    @property
    def dose_low(self) -> float:
        """Lowest dose of the item (the dose itself when fixed)."""
        return self.dose[0] if isinstance(self.dose, tuple) else self.dose

    @property
    def dose_high(self) -> float:
        """Highest dose of the item (the dose itself when fixed)."""
        return self.dose[1] if isinstance(self.dose, tuple) else self.dose


class Cycles(_Frozen):
    """Number of courses the source gives for a regimen."""

    min: int = Field(ge=1)
    max: int | None = None

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.max is not None and self.max < self.min:
            raise ValueError("cycles.max must be >= cycles.min")
        return self


class Spacing(_Frozen):
    """Weeks between the first days of consecutive post-remission courses."""

    weeks_min: int = Field(ge=1)
    weeks_max: int = Field(ge=1)
    source: str

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.weeks_max < self.weeks_min:
            raise ValueError("spacing.weeks_max must be >= weeks_min")
        return self


class Regimen(_Frozen):
    """A regimen of the catalog (see ``mst/data/protocol/regimens.yaml``)."""

    id: str = Field(pattern=r"^(004-[45]\.[0-9]|002)-[A-Za-z0-9+\-]+$")
    name: str
    phase: Phase
    fitness: tuple[Fitness, ...]
    intensity: Intensity
    source: str
    clock_drugs: tuple[str, ...]
    cycles: Cycles
    items: tuple[RegimenItem, ...]
    spacing: Spacing | None = None
    alternative_of: str | None = None
    cycles_note: str | None = None
    spacing_note: str | None = None
    infusion_after_h: int | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        drugs = {i.drug for i in self.items}
        for d in self.clock_drugs:
            if d not in drugs:
                raise ValueError(f"clock drug {d!r} is not among the regimen's drugs")
        if self.phase is Phase.POST_REMISSION and self.spacing is None:
            raise ValueError("a post-remission regimen needs its spacing")
        if self.phase is Phase.INDUCTION and self.spacing is not None:
            raise ValueError("induction spacing is the global first-consolidation rule")
        if not self.items:
            raise ValueError("a regimen needs at least one item")
        if not self.source.startswith(("004 §", "002 ")):
            raise ValueError("source must cite seed 004 (§) or seed 002")
        for drug in drugs:
            lines = [i for i in self.items if i.drug == drug]
            seen: set[int] = set()
            for line in lines:
                if seen & set(line.day_list):
                    raise ValueError(f"{drug} is listed twice on the same day")
                seen |= set(line.day_list)
        return self

    @property
    def drugs(self) -> tuple[str, ...]:
        """Distinct drugs in catalog order."""
        return tuple(dict.fromkeys(i.drug for i in self.items))

    @property
    def length_days(self) -> int:
        """Last day on which any drug is given."""
        return max(max(i.day_list) for i in self.items)

    @property
    def clock_day(self) -> int:
        """Course day of the last dose of a clock drug (starts the infusion clock)."""
        return max(max(i.day_list) for i in self.items if i.drug in self.clock_drugs)


class Catalog(_Frozen):
    """The validated catalog file."""

    version: str
    sources: dict[str, str]
    regimens: tuple[Regimen, ...]


def _validate(doc: dict[str, Any]) -> dict[str, Regimen]:
    catalog = parse(Catalog, doc, "regimens.yaml")
    out: dict[str, Regimen] = {}
    for r in catalog.regimens:
        if r.id in out:
            raise ValidationError("regimens.yaml: id", r.id, "regimen ids must be unique")
        if r.source not in catalog.sources:
            raise ValidationError(
                f"regimens.yaml: {r.id}.source", r.source, "must be listed in sources"
            )
        out[r.id] = r
    for r in out.values():
        if r.alternative_of is not None and r.alternative_of not in out:
            raise ValidationError(
                f"regimens.yaml: {r.id}.alternative_of", r.alternative_of, "names no regimen"
            )
    return out


@functools.cache
def _catalog() -> tuple[str, dict[str, Regimen]]:
    doc = load_yaml("regimens.yaml")
    return str(doc.get("version")), _validate(doc)


def load_catalog() -> dict[str, Regimen]:
    """Load and validate the regimen catalog.

    Returns
    -------
    dict of str to Regimen
        Regimens by id, in catalog order (a fresh dict; the regimens are immutable).

    Raises
    ------
    mst.errors.ValidationError
        If the catalog file breaks its schema.
    """
    return dict(_catalog()[1])


def catalog_version() -> str:
    """Version string of the regimen catalog file."""
    return _catalog()[0]


def validate_catalog(doc: dict[str, Any]) -> dict[str, Regimen]:
    """Validate a catalog document (the parsed YAML) without caching it.

    Parameters
    ----------
    doc : dict
        A document with ``version``, ``sources`` and ``regimens``.

    Returns
    -------
    dict of str to Regimen
        Regimens by id.

    Raises
    ------
    mst.errors.ValidationError
        Naming the offending field.
    """
    return _validate(doc)


def get_regimen(regimen_id: str) -> Regimen:
    """Return one regimen by id.

    Raises
    ------
    mst.errors.NotFoundError
        If the id is not in the catalog (the message lists the known ids).
    """
    regimens = _catalog()[1]
    try:
        return regimens[regimen_id]
    except KeyError:
        raise NotFoundError(
            f"unknown regimen {regimen_id!r}; known: {', '.join(regimens)}"
        ) from None
