"""Report configuration (``--config report.toml``); every key is optional (docs/report.md)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mst.errors import ValidationError

TABLE1_DEFAULT = [
    "sex",
    "donor_sex",
    "donor_age",
    "year_of_diagnosis",
    "donor_patient_sex",
    "donor_related",
    "hla_mismatches_10",
    "courses_gt3",
]
TABLE2_DEFAULT = [
    "mnc_1e8_per_kg",
    "cd34_1e6_per_kg",
    "cd3_1e8_per_kg",
    "cr",
    "death",
    "early_death",
    "death_cause",
    "induction_regimen",
    "gvhd",
    "chimerism_positive",
    "neutrophil_recovery_days",
    "platelet_recovery_days",
]
ADVERSE_EVENTS_DEFAULT = [
    "ae_cardiac_failure",
    "ae_arrhythmia",
    "ae_hepatotoxicity",
    "ae_nausea",
    "ae_vomiting",
    "ae_diarrhea",
    "ae_fever",
    "ae_rash",
    "ae_infection",
    "ae_sepsis",
]


@dataclass
class ReportConfig:
    """What the report shows. Defaults reproduce seed 002 (Tables 1–2, Figures 2–3)."""

    title: str = "MST cohort outcome report"
    by: str = "age_group"
    km_groups: list[str] = field(
        default_factory=lambda: ["age_group", "donor_age_group", "courses_gt3"]
    )
    donor_age_cutoff: int = 40
    years: list[float] = field(default_factory=lambda: [1.0, 3.0, 5.0])
    time_unit: str = "months"
    conf_type: str = "log-log"
    table1: list[str] = field(default_factory=lambda: list(TABLE1_DEFAULT))
    table2: list[str] = field(default_factory=lambda: list(TABLE2_DEFAULT))
    adverse_events: list[str] = field(default_factory=lambda: list(ADVERSE_EVENTS_DEFAULT))
    student_t: list[str] = field(default_factory=lambda: ["donor_age"])
    categorical: list[str] = field(
        default_factory=lambda: ["hla_mismatches_10", "hla_mismatches_12"]
    )
    covariates: list[str] = field(
        default_factory=lambda: ["age_group", "sex", "donor_sex", "donor_age", "courses_gt3"]
    )
    reference: dict[str, str] = field(default_factory=dict)
    landmark_months: float = 12.0
    exact_max_n: int = 100

    def __post_init__(self) -> None:
        if self.time_unit not in {"months", "days"}:
            raise ValidationError("time_unit", self.time_unit, "must be 'months' or 'days'")
        if self.conf_type not in {"log-log", "log", "plain"}:
            raise ValidationError("conf_type", self.conf_type, "must be log-log, log or plain")
        if not self.years or any(y <= 0 for y in self.years):
            raise ValidationError("years", self.years, "must be a non-empty list of years > 0")
        if self.landmark_months <= 0:
            raise ValidationError("landmark_months", self.landmark_months, "must be > 0")
        if self.donor_age_cutoff <= 0:
            raise ValidationError("donor_age_cutoff", self.donor_age_cutoff, "must be > 0")

    @property
    def unit_per_year(self) -> float:
        """Time units per year (12 months, 365.25 days)."""
        return 12.0 if self.time_unit == "months" else 365.25

    @property
    def times(self) -> list[float]:
        """The report's time points in the time unit."""
        return [y * self.unit_per_year for y in self.years]

    def column(self, endpoint: str) -> str:
        """Time column of an endpoint prefix (``os``, ``lfs``, ``crs``) in the time unit."""
        return f"{endpoint}_{self.time_unit}"


def load_config(path: str | Path | None, **overrides: Any) -> ReportConfig:
    """Read a TOML config (all keys optional), then apply non-None ``overrides``.

    Raises
    ------
    ValidationError
        Unknown key, wrong type or invalid value.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ValidationError("config", str(p), "no such file")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError("config", str(p), f"invalid TOML ({exc})") from exc
        data = data.get("report", data)
    names = {f.name: f for f in fields(ReportConfig)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValidationError("config", unknown, f"unknown key(s); allowed: {sorted(names)}")
    data.update({k: v for k, v in overrides.items() if v is not None})
    default = ReportConfig()
    for k, v in data.items():
        ref = getattr(default, k)
        ok = (
            isinstance(v, list)
            if isinstance(ref, list)
            else isinstance(v, dict)
            if isinstance(ref, dict)
            else isinstance(v, int | float) and not isinstance(v, bool)
            if isinstance(ref, int | float)
            else isinstance(v, str)
        )
        if not ok:
            raise ValidationError(f"config.{k}", v, f"must be a {type(ref).__name__}")
    if "years" in data:
        data["years"] = [float(y) for y in data["years"]]
    return ReportConfig(**data)
