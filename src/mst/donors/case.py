"""A donor-selection case (``CASE.json``): one patient, antibodies, candidate donors.

Schema (``docs/donors.md``; example ``docs/examples/donor_case_vignette.json``)::

    {
      "patient": {"id": "P01", "sex": "F", "hla_typing": "<GL string>",
                  "antibodies": [{"specificity": "A*24:02", "mfi": 6200}]},
      "donors": [{"id": "D1", "relationship": "child", "sex": "M", "age": 34,
                  "hla_typing": "<GL string>", "kir_genotype": "KIR2DL1,KIR2DL3,..."}],
      "settings": {"acceptable_mismatch_x12": [5, 7]}
    }

Donors are validated as :class:`mst.domain.Donor` (``patient_id`` taken from the patient).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic

from mst.domain import Donor, Sex
from mst.donors.dsa import Antibody, parse_antibody
from mst.donors.kir import parse_kir_genotype
from mst.donors.nomenclature import HlaTyping, parse_gl
from mst.donors.settings import SelectionSettings, settings_from_dict
from mst.errors import ValidationError

#: Missing-value codes, read the same way as everywhere in mst (blank, NA, n/a, null, none, .).
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "."})


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in MISSING)


CASE_KEYS = {"patient", "donors", "settings", "schema", "note"}
PATIENT_KEYS = {"id", "sex", "hla_typing", "antibodies", "kir_genotype", "note"}


@dataclass(frozen=True, slots=True)
class DonorCandidate:
    """A validated candidate donor with its parsed typing."""

    donor: Donor
    typing: HlaTyping
    kir: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class DonorCase:
    """A validated donor-selection case."""

    patient_id: str
    patient_sex: Sex | None
    recipient: HlaTyping
    antibodies: tuple[Antibody, ...]
    donors: tuple[DonorCandidate, ...]
    settings: SelectionSettings


def _plain(err: dict[str, Any]) -> str:
    """One pydantic error of a donor field, in plain words (no pydantic phrases)."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of a donor (see docs/donors.md)"
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        if expected == "M, F":
            return "must be M or F"
        return f"must be one of {expected}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("greater_than_equal", "less_than_equal"):
        word, key = ("at least", "ge") if kind == "greater_than_equal" else ("at most", "le")
        return f"must be {word} {ctx.get(key)}"
    if kind in ("string_type", "string_too_short", "string_too_long", "string_pattern_mismatch"):
        return "must be text" if kind == "string_type" else "is too short, too long or malformed"
    msg = str(err.get("msg", "is not valid"))
    return msg[len("Value error, ") :] if msg.startswith("Value error, ") else msg


def _parse_donor(raw: dict[str, Any], where: str) -> Donor:
    """Validate one donor (:class:`mst.domain.Donor`), errors naming ``where.field``."""
    try:
        return Donor.model_validate(raw)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, ValidationError):
            raise ValidationError(f"{where}.{loc}", ctx_error.value, ctx_error.rule) from None
        raise ValidationError(f"{where}.{loc}", err.get("input"), _plain(err)) from None
    except ValidationError as exc:
        raise _with_field(exc, where) from None


def _with_field(exc: ValidationError, where: str) -> ValidationError:
    return ValidationError(f"{where}.{exc.field}", exc.value, exc.rule)


def load_case(data: dict[str, Any]) -> DonorCase:
    """Validate a case dictionary (parsed ``CASE.json``).

    Parameters
    ----------
    data : dict
        See the module docstring.

    Returns
    -------
    DonorCase
        Parsed patient typing, antibodies, donors and settings.

    Raises
    ------
    mst.errors.ValidationError
        Naming the first invalid field (``donors[2].hla_typing`` …).
    """
    if not isinstance(data, dict):
        raise ValidationError("case", type(data).__name__, "must be a JSON object")
    for key in data:
        if key not in CASE_KEYS:
            raise ValidationError(
                "case", key, f"unknown key (allowed: {', '.join(sorted(CASE_KEYS))})"
            )
    patient = data.get("patient")
    if not isinstance(patient, dict):
        raise ValidationError("patient", patient, "is required and must be an object")
    for key in patient:
        if key not in PATIENT_KEYS:
            raise ValidationError(
                "patient", key, f"unknown key (allowed: {', '.join(sorted(PATIENT_KEYS))})"
            )
    pid = patient.get("id")
    if not isinstance(pid, str) or not pid:
        raise ValidationError("patient.id", pid, "is required")
    sex_raw = patient.get("sex")
    try:
        sex = Sex(sex_raw) if sex_raw is not None else None
    except ValueError:
        raise ValidationError("patient.sex", sex_raw, "must be 'M' or 'F'") from None
    if _is_missing(patient.get("hla_typing")):
        raise ValidationError("patient.hla_typing", patient.get("hla_typing"), "is required")
    try:
        recipient = parse_gl(patient["hla_typing"])
    except ValidationError as exc:
        raise _with_field(exc, "patient") from None
    antibodies: list[Antibody] = []
    raw_abs = patient.get("antibodies", [])
    if not isinstance(raw_abs, list):
        raise ValidationError("patient.antibodies", raw_abs, "must be a list")
    for i, ab in enumerate(raw_abs):
        if not isinstance(ab, dict) or set(ab) - {"specificity", "mfi", "note"} or "mfi" not in ab:
            raise ValidationError(f"patient.antibodies[{i}]", ab, "must be {specificity, mfi}")
        try:
            antibodies.append(parse_antibody(ab.get("specificity"), ab["mfi"]))
        except ValidationError as exc:
            raise _with_field(exc, f"patient.antibodies[{i}]") from None
    raw_donors = data.get("donors")
    if not isinstance(raw_donors, list) or not raw_donors:
        raise ValidationError("donors", raw_donors, "must be a non-empty list")
    donors: list[DonorCandidate] = []
    ids: set[str] = set()
    for i, raw in enumerate(raw_donors):
        if not isinstance(raw, dict):
            raise ValidationError(f"donors[{i}]", raw, "must be an object")
        # a missing-value code means "not given": required fields say so, optional ones
        # (kir_genotype) are simply not typed
        raw = {k: v for k, v in raw.items() if not _is_missing(v)}
        raw = {**raw, "patient_id": raw.get("patient_id", pid)}
        donor = _parse_donor(raw, f"donors[{i}]")
        if donor.patient_id != pid:
            raise ValidationError(f"donors[{i}].patient_id", donor.patient_id, f"must be {pid}")
        if donor.id in ids:
            raise ValidationError(f"donors[{i}].id", donor.id, "duplicate donor id")
        ids.add(donor.id)
        if donor.hla_typing is None:
            raise ValidationError(f"donors[{i}].hla_typing", None, "is required for ranking")
        try:
            typing = parse_gl(donor.hla_typing)
        except ValidationError as exc:
            raise _with_field(exc, f"donors[{i}]") from None
        kir = None
        if donor.kir_genotype is not None:
            try:
                kir = parse_kir_genotype(donor.kir_genotype)
            except ValidationError as exc:
                raise _with_field(exc, f"donors[{i}]") from None
        donors.append(DonorCandidate(donor, typing, kir))
    settings = settings_from_dict(data.get("settings"))
    return DonorCase(pid, sex, recipient, tuple(antibodies), tuple(donors), settings)
