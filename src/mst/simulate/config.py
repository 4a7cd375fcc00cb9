"""Calibrated parameters of the simulator, loaded from ``mst/data/simulate/calibration.yaml``.

Each parameter in the data file has a ``value`` and a ``source`` (the seed figure it is
calibrated to, or "model choice"). :class:`SimConfig` holds the values;
:func:`parameter_sources` returns the sources.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mst.errors import ValidationError

AGE_GROUPS: tuple[str, ...] = ("<60", "60-70", ">70")
_DATA = "simulate/calibration.yaml"


class SimConfig(BaseModel):
    """All parameters of :func:`mst.simulate.simulate_cohort` (frozen).

    The defaults (``SimConfig.default()``) come from the shipped calibration file; every field
    is documented there with its source. Derive a variant with
    ``SimConfig.default().model_copy(update={...})`` or :meth:`with_updates` (validated).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    accrual_start: dt.date
    accrual_end: dt.date
    cutoff_date: dt.date
    p_lost_to_followup: float = Field(ge=0, le=1)
    center_size_decay: float = Field(ge=0)
    centers: tuple[dict[str, str], ...]
    p_age_group: dict[str, float]
    age_range: dict[str, tuple[int, int]]
    p_male: float = Field(ge=0, le=1)
    p_mds: float = Field(ge=0, le=1)
    p_eln_risk: dict[str, float]
    p_fitness: dict[str, dict[str, float]]
    height_cm: dict[str, tuple[float, float]]
    bmi: tuple[float, float]
    diagnosis_to_chemo_days: tuple[int, int]
    p_regimen_ia: float = Field(ge=0, le=1)
    idarubicin_mg_m2: dict[str, float]
    mitoxantrone_mg_m2: dict[str, float]
    cytarabine_induction_mg_m2: dict[str, float]
    cytarabine_consolidation_g_m2: dict[str, float]
    p_early_death: dict[str, float]
    early_death_frail_or: float = Field(gt=0)
    early_death_day: tuple[int, int]
    early_death_causes: dict[str, float]
    p_cr_first_induction: dict[str, float]
    cr_risk_or: dict[str, float]
    p_reinduction: float = Field(ge=0, le=1)
    p_reinduction_death: float = Field(ge=0, le=1)
    p_cr_second_induction: float = Field(ge=0, le=1)
    cr_categories: dict[str, float]
    non_cr_categories: dict[str, float]
    refractory_survival_months: dict[str, Any]
    consolidations_planned: dict[str, dict[str, float]]
    first_consolidation_days: tuple[int, int]
    consolidation_interval_days: tuple[int, int]
    p_course_death: float = Field(ge=0, le=1)
    p_relapse: dict[str, float]
    relapse_risk_multiplier: dict[str, float]
    relapse_months: dict[str, Any]
    post_relapse_survival_months: dict[str, Any]
    background_mortality: dict[str, float]
    nrm_causes: dict[str, float]
    p_relationship: dict[str, float]
    donor_age_range: tuple[int, int]
    child_age_gap: dict[str, tuple[int, int]]
    other_related_donor_age: tuple[int, int]
    unrelated_donor_age: tuple[float, float]
    hla_model: Literal["seed_002", "haplotype"]
    hla_mismatches_10: dict[str, float]
    p_other_related_haploidentical: float = Field(ge=0, le=1)
    p_female_donor: float = Field(ge=0, le=1)
    p_second_donor: float = Field(ge=0, le=1)
    mnc_1e8_per_kg: dict[str, float]
    cd3_1e8_per_kg: dict[str, float]
    cd34_1e6_per_kg: dict[str, float]
    course_dose_sigma: float = Field(ge=0)
    infusion_delay_hours: tuple[int, int]
    p_microchimerism: float = Field(ge=0, le=1)
    microchimerism_pct: tuple[float, float]
    p_gvhd: float = Field(ge=0, le=1)
    gvhd_grades: dict[str, float]
    p_gvhd_death_severe: float = Field(ge=0, le=1)
    p_crs: float = Field(ge=0, le=1)
    anc_recovery_days: dict[str, float]
    platelet_recovery_days: dict[str, float]
    baseline_anc: dict[str, float]
    baseline_platelets: dict[str, float]
    nadir_anc: tuple[float, float]
    nadir_platelets: tuple[float, float]
    lab_noise_sigma: float = Field(ge=0)
    p_missing_lab_day: float = Field(ge=0, lt=1)
    adverse_events: dict[str, float]
    nausea_vomiting: dict[str, float]

    @model_validator(mode="after")
    def _check(self) -> SimConfig:
        if not self.accrual_start <= self.accrual_end < self.cutoff_date:
            raise ValidationError(
                "accrual_end",
                self.accrual_end,
                "must satisfy accrual_start <= accrual_end < cutoff_date",
            )
        for name in (
            "p_age_group",
            "age_range",
            "p_fitness",
            "p_early_death",
            "p_cr_first_induction",
            "p_relapse",
            "consolidations_planned",
            "idarubicin_mg_m2",
            "mitoxantrone_mg_m2",
            "cytarabine_induction_mg_m2",
            "cytarabine_consolidation_g_m2",
            "child_age_gap",
        ):
            keys = set(getattr(self, name))
            if keys != set(AGE_GROUPS):
                raise ValidationError(
                    name, sorted(keys), f"must have exactly the age groups {AGE_GROUPS}"
                )
        for name in (
            "p_age_group",
            "p_eln_risk",
            "early_death_causes",
            "cr_categories",
            "non_cr_categories",
            "nrm_causes",
            "p_relationship",
            "gvhd_grades",
            "hla_mismatches_10",
        ):
            _check_distribution(name, getattr(self, name))
        bad = sorted(set(self.hla_mismatches_10) - {str(k) for k in range(11)})
        if bad:
            raise ValidationError(
                "hla_mismatches_10", bad, "keys must be mismatch counts out of 10 ('0' to '10')"
            )
        if set(self.nausea_vomiting) != {"nausea", "vomiting"}:
            raise ValidationError(
                "nausea_vomiting",
                sorted(self.nausea_vomiting),
                "must have exactly nausea and vomiting",
            )
        for group, dist in self.p_fitness.items():
            _check_distribution(f"p_fitness.{group}", dist)
        for group, dist in self.consolidations_planned.items():
            _check_distribution(f"consolidations_planned.{group}", dist)
        for name, values in (
            ("p_early_death", self.p_early_death),
            ("p_cr_first_induction", self.p_cr_first_induction),
            ("p_relapse", self.p_relapse),
            ("adverse_events", self.adverse_events),
            ("nausea_vomiting", self.nausea_vomiting),
        ):
            for key, p in values.items():
                if not 0 <= p <= 1:
                    raise ValidationError(f"{name}.{key}", p, "must be a probability in [0, 1]")
        lo, hi = self.donor_age_range
        if not 0 < lo <= hi:
            raise ValidationError(
                "donor_age_range", self.donor_age_range, "must be 0 < low <= high"
            )
        for name, (a, b) in (
            *((f"child_age_gap.{g}", v) for g, v in self.child_age_gap.items()),
            ("other_related_donor_age", self.other_related_donor_age),
        ):
            if not 0 <= a <= b:
                raise ValidationError(name, [a, b], "must be 0 <= low <= high")
        a, b = self.other_related_donor_age
        if b < lo or a > hi:
            raise ValidationError(
                "other_related_donor_age", [a, b], f"must overlap donor_age_range [{lo}, {hi}]"
            )
        if self.unrelated_donor_age[1] < 0:
            raise ValidationError(
                "unrelated_donor_age", self.unrelated_donor_age, "the SD must be >= 0"
            )
        return self

    @classmethod
    def default(cls) -> SimConfig:
        """Return (a deep copy of) the calibrated defaults shipped in ``calibration.yaml``."""
        return _default_config().model_copy(deep=True)

    def with_updates(self, **updates: Any) -> SimConfig:
        """Return a validated copy with some parameters replaced.

        Raises
        ------
        mst.errors.ValidationError
            If a replaced value breaks a rule.
        """
        from mst.domain import parse

        return parse(SimConfig, {**self.model_dump(), **updates}, "simconfig")


def _check_distribution(name: str, dist: dict[str, float]) -> None:
    total = sum(dist.values())
    if any(p < 0 for p in dist.values()) or abs(total - 1.0) > 1e-6:
        raise ValidationError(name, dist, "probabilities must be >= 0 and sum to 1")


def _raw() -> dict[str, Any]:
    text = resources.files("mst.data").joinpath(_DATA).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def _default_config() -> SimConfig:
    from mst.domain import parse

    raw = _raw()["parameters"]
    for name, entry in raw.items():
        if not isinstance(entry, dict) or set(entry) != {"value", "source"} or not entry["source"]:
            raise ValueError(f"calibration.yaml: {name} must have a value and a non-empty source")
    return parse(SimConfig, {k: v["value"] for k, v in raw.items()}, "calibration.yaml")


def parameter_sources() -> dict[str, str]:
    """Return the source cited for each parameter of the calibration file."""
    return {k: str(v["source"]) for k, v in _raw()["parameters"].items()}


def calibration_version() -> str:
    """Return the version string of the shipped calibration file."""
    return str(_raw()["version"])


def calibration_targets() -> dict[str, dict[str, Any]]:
    """The calibration targets: ``{name: {"seed", "range": [low, high], "definition"}}``."""
    return {k: dict(v) for k, v in _raw()["targets"].items()}
