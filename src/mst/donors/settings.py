"""Donor-selection settings: shipped defaults (``selection_rules.yaml``) and overrides."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from mst.donors.dsa import check_thresholds
from mst.errors import ValidationError

EXCLUSIONS: tuple[str, ...] = (
    "dsa_positive",
    "age_out_of_range",
    "homozygous_shared_locus",
    "homozygous_shared_dpb1_locus",
)
PREFERENCES: tuple[str, ...] = (
    "hla_mismatched",
    "avoid_homozygous_shared",
    "related",
    "mismatch_in_range",
    "younger",
    "male",
    "kir_b_content",
    "dpb1_permissive",
    "avoid_homozygous_shared_dpb1",
)


@lru_cache(maxsize=1)
def selection_rules() -> dict[str, Any]:
    """The shipped rules file ``mst/data/donors/selection_rules.yaml`` (with sources)."""
    text = resources.files("mst.data").joinpath("donors/selection_rules.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@lru_cache(maxsize=64)
def rule_source(rule_id: str) -> str:
    """Citation of an exclusion or preference rule by id."""
    rules = selection_rules()
    for item in rules["exclusions"] + rules["preferences"]:
        if item["id"] == rule_id:
            return str(item["source"])
    raise KeyError(rule_id)


@dataclass(frozen=True, slots=True)
class SelectionSettings:
    """Configurable donor-selection rules (defaults from ``selection_rules.yaml``).

    Attributes
    ----------
    donor_age_min, donor_age_max : int
        Accepted donor age, inclusive (002: 18–55).
    mismatch_min, mismatch_max : int
        Acceptable bidirectional allele-level x/12 mismatch, inclusive (002: 5–7).
    dsa_positive_mfi, dsa_high_risk_mfi : float
        DSA thresholds (MFI ≥ threshold).
    exclusions : tuple of str
        Active exclusion rules (subset of :data:`EXCLUSIONS`).
    preferences : tuple of str
        Preference rules in priority order (subset of :data:`PREFERENCES`).
    age_band_years : int
        "Younger" compares ages in bands of this width from ``donor_age_min``;
        default 1 (age used continuously: no source supports bands).
    include_hla_a_bw4 : bool
        Count Bw4 carried by HLA-A in the KIR-ligand analysis.
    """

    donor_age_min: int = 18
    donor_age_max: int = 55
    mismatch_min: int = 5
    mismatch_max: int = 7
    dsa_positive_mfi: float = 1000.0
    dsa_high_risk_mfi: float = 5000.0
    exclusions: tuple[str, ...] = ("dsa_positive", "age_out_of_range")
    preferences: tuple[str, ...] = PREFERENCES
    age_band_years: int = 1
    include_hla_a_bw4: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["exclusions"] = list(self.exclusions)
        out["preferences"] = list(self.preferences)
        return out


@lru_cache(maxsize=1)
def default_settings() -> SelectionSettings:
    """Settings from the shipped rules file."""
    rules = selection_rules()
    return SelectionSettings(
        donor_age_min=int(rules["donor_age"]["min"]),
        donor_age_max=int(rules["donor_age"]["max"]),
        mismatch_min=int(rules["acceptable_mismatch_x12"]["min"]),
        mismatch_max=int(rules["acceptable_mismatch_x12"]["max"]),
        dsa_positive_mfi=float(rules["dsa"]["positive_mfi"]),
        dsa_high_risk_mfi=float(rules["dsa"]["high_risk_mfi"]),
        exclusions=tuple(item["id"] for item in rules["exclusions"] if item["active"]),
        preferences=tuple(item["id"] for item in rules["preferences"] if item["active"]),
        age_band_years=int(rules["donor_age"]["band_years"]),
    )


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValidationError(f"settings.{name}", value, f"must be an integer {lo}–{hi}")
    return value


def _ids(name: str, value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"settings.{name}", value, "must be a list of rule ids")
    for v in value:
        if v not in allowed:
            raise ValidationError(
                f"settings.{name}", v, f"unknown rule (one of {', '.join(allowed)})"
            )
    if len(set(value)) != len(value):
        raise ValidationError(f"settings.{name}", value, "must not repeat a rule")
    return tuple(value)


def settings_from_dict(overrides: dict[str, Any] | None) -> SelectionSettings:
    """Defaults with ``overrides`` applied and validated.

    Parameters
    ----------
    overrides : dict, optional
        Keys as in :class:`SelectionSettings`; ``acceptable_mismatch_x12`` and
        ``donor_age`` may be given as ``[min, max]``.

    Returns
    -------
    SelectionSettings
        Validated settings.

    Raises
    ------
    mst.errors.ValidationError
        Naming the first invalid setting.
    """
    s = default_settings()
    if not overrides:
        return s
    if not isinstance(overrides, dict):
        raise ValidationError("settings", overrides, "must be an object")
    known = set(SelectionSettings.__dataclass_fields__) | {"acceptable_mismatch_x12", "donor_age"}
    for key in overrides:
        if key not in known:
            raise ValidationError(
                "settings", key, f"unknown setting (one of {', '.join(sorted(known))})"
            )
    values: dict[str, Any] = {}
    for pair_key, (lo_name, hi_name) in {
        "acceptable_mismatch_x12": ("mismatch_min", "mismatch_max"),
        "donor_age": ("donor_age_min", "donor_age_max"),
    }.items():
        if pair_key in overrides:
            pair = overrides[pair_key]
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ValidationError(f"settings.{pair_key}", pair, "must be [min, max]")
            values[lo_name], values[hi_name] = pair
    for key in ("donor_age_min", "donor_age_max", "mismatch_min", "mismatch_max", "age_band_years"):
        if key in overrides:
            values[key] = overrides[key]
    for key in ("dsa_positive_mfi", "dsa_high_risk_mfi"):
        if key in overrides:
            values[key] = overrides[key]
    if "exclusions" in overrides:
        values["exclusions"] = _ids("exclusions", overrides["exclusions"], EXCLUSIONS)
    if "preferences" in overrides:
        values["preferences"] = _ids("preferences", overrides["preferences"], PREFERENCES)
    if "include_hla_a_bw4" in overrides:
        if not isinstance(overrides["include_hla_a_bw4"], bool):
            raise ValidationError(
                "settings.include_hla_a_bw4",
                overrides["include_hla_a_bw4"],
                "must be true or false",
            )
        values["include_hla_a_bw4"] = overrides["include_hla_a_bw4"]
    s = replace(s, **values)
    _int("donor_age_min", s.donor_age_min, 0, 100)
    _int("donor_age_max", s.donor_age_max, s.donor_age_min, 100)
    _int("mismatch_min", s.mismatch_min, 0, 12)
    _int("mismatch_max", s.mismatch_max, s.mismatch_min, 12)
    _int("age_band_years", s.age_band_years, 1, 100)
    for key in ("dsa_positive_mfi", "dsa_high_risk_mfi"):
        v = getattr(s, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValidationError(f"settings.{key}", v, "must be a number")
    check_thresholds(s.dsa_positive_mfi, s.dsa_high_risk_mfi)
    return replace(
        s, dsa_positive_mfi=float(s.dsa_positive_mfi), dsa_high_risk_mfi=float(s.dsa_high_risk_mfi)
    )
