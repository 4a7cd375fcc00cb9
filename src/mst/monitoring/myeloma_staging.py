"""Multiple myeloma staging at diagnosis: ISS, R-ISS, R2-ISS, Durie–Salmon and mSMART 3.0.

Thresholds and sources live in ``mst/data/myeloma/staging.yaml``. The input is one patient's
values at diagnosis with the unit in each key name (``beta2m_mg_l``, ``albumin_g_dl`` …);
alternative units (``albumin_g_l``, ``calcium_mmol_l``, ``creatinine_umol_l`` …) are converted
on entry. A system whose inputs are missing is not staged (``None`` with the reason) unless
the missing value cannot change its result (β2-microglobulin ≥ 5.5 mg/L is ISS III whatever
the albumin). Every staged system names its source and the inputs that decided it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from mst.errors import ValidationError

NUMERIC_KEYS: tuple[str, ...] = (
    "beta2m_mg_l",
    "albumin_g_dl",
    "ldh_u_l",
    "ldh_uln_u_l",
    "hemoglobin_g_dl",
    "calcium_mg_dl",
    "creatinine_mg_dl",
    "igg_g_dl",
    "iga_g_dl",
    "urine_light_chain_g_24h",
)
OTHER_KEYS: tuple[str, ...] = ("ldh_elevated", "fish", "bone_lesions")
MISSING_TEXT = frozenset({"", "na", "n/a", "nan", "null", "none", "."})


@functools.cache
def staging_table() -> dict[str, Any]:
    """The parsed ``mst/data/myeloma/staging.yaml`` (cached; treat as read-only)."""
    text = resources.files("mst.data").joinpath("myeloma/staging.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def known_fish() -> frozenset[str]:
    """Every FISH finding the staging systems recognise."""
    f = staging_table()["fish"]
    return frozenset(f["high_risk_msmart"]) | frozenset(f["standard_risk"])


@dataclasses.dataclass(frozen=True, slots=True)
class StagingInput:
    """One patient's values at diagnosis in canonical units (``None`` = not given).

    ``fish`` is ``None`` when no FISH result is given; an empty tuple means FISH was done and
    found none of the listed abnormalities. ``bone_lesions`` is a count or ``"advanced"``.
    ``ldh_elevated`` is derived from ``ldh_u_l`` > ``ldh_uln_u_l`` when those are given.
    """

    beta2m_mg_l: float | None = None
    albumin_g_dl: float | None = None
    ldh_elevated: bool | None = None
    ldh_u_l: float | None = None
    ldh_uln_u_l: float | None = None
    fish: tuple[str, ...] | None = None
    hemoglobin_g_dl: float | None = None
    calcium_mg_dl: float | None = None
    bone_lesions: int | str | None = None
    igg_g_dl: float | None = None
    iga_g_dl: float | None = None
    urine_light_chain_g_24h: float | None = None
    creatinine_mg_dl: float | None = None
    converted: tuple[str, ...] = ()


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip().lower() in MISSING_TEXT


def _number(key: str, v: Any) -> float:
    if isinstance(v, bool):
        raise ValidationError(key, v, "must be a number, not true/false")
    if isinstance(v, str):
        try:
            v = float(v.strip())
        except ValueError:
            raise ValidationError(key, v, "must be a number") from None
    if not isinstance(v, int | float) or not math.isfinite(float(v)):
        raise ValidationError(key, v, "must be a finite number")
    return float(v)


def _bool(key: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "yes", "1"):
        return True
    if isinstance(v, str) and v.strip().lower() in ("false", "no", "0"):
        return False
    raise ValidationError(key, v, "must be true or false")


def _words(names: Any) -> str:
    return ", ".join(sorted(names))


def _factor(f: Any) -> float:
    if isinstance(f, str) and f.startswith("1/"):
        return 1.0 / float(f[2:])
    return float(f)


def parse_staging_input(data: Mapping[str, Any]) -> StagingInput:
    """Read one patient's diagnosis values (the JSON object of ``mst stage myeloma``).

    Parameters
    ----------
    data : mapping
        Keys from :data:`NUMERIC_KEYS`, :data:`OTHER_KEYS` or an alternative-unit key of
        ``staging.yaml`` (``albumin_g_l`` …). Missing values may be absent, ``null``, ``""``
        or ``"NA"``.

    Returns
    -------
    StagingInput

    Raises
    ------
    mst.errors.ValidationError
        Unknown key, a value in two units, a non-number, a value outside its physiological
        range, an unrecognised FISH finding or contradictory LDH inputs.
    """
    if not isinstance(data, Mapping):
        raise ValidationError("input", type(data).__name__, "must be a JSON object of values")
    t = staging_table()
    alt: dict[str, list[Any]] = t["units"]
    allowed = set(NUMERIC_KEYS) | set(OTHER_KEYS) | set(alt)
    values: dict[str, Any] = {}
    converted: list[str] = []
    entered: dict[str, tuple[str, Any]] = {}
    for key, raw in data.items():
        if key not in allowed:
            if key.lower().startswith(("igm", "igd", "ige")):
                raise ValidationError(
                    key, raw,
                    "Durie-Salmon scores the M-component as IgG, IgA or urine light chain "
                    "only; leave it out (IgM/IgD myeloma: staged by haemoglobin, calcium "
                    "and bone alone when a stage III criterion is met)",
                )
            raise ValidationError(key, raw, "unknown key; accepted keys: " + _words(allowed))
        if _is_missing(raw):
            continue
        if key in alt:
            canon, factor = alt[key]
            if canon in data and not _is_missing(data[canon]):
                raise ValidationError(key, raw, f"give either {key} or {canon}, not both")
            v = round(_number(key, raw) * _factor(factor), 9)
            converted.append(f"{key} {raw} -> {canon} {v:.4g}")
            values[canon] = v
            entered[canon] = (key, raw)
        elif key in NUMERIC_KEYS:
            values[key] = _number(key, raw)
        else:
            values[key] = raw
    for key, (lo, hi) in t["ranges"].items():
        v = values.get(key)
        if v is None or key == "bone_lesions":
            continue
        if not lo <= v <= hi:
            if key in entered:  # name the key and value as entered, with the canonical range
                k0, raw0 = entered[key]
                raise ValidationError(
                    k0, raw0, f"is {v:g} as {key}, outside the physiological range {lo}–{hi}"
                )
            raise ValidationError(key, v, f"must lie in the physiological range {lo}–{hi}")
    ldh_elev = values.get("ldh_elevated")
    if ldh_elev is not None:
        ldh_elev = _bool("ldh_elevated", ldh_elev)
    ldh, uln = values.get("ldh_u_l"), values.get("ldh_uln_u_l")
    if (ldh is None) != (uln is None):
        missing = "ldh_uln_u_l" if uln is None else "ldh_u_l"
        raise ValidationError(missing, None, "ldh_u_l needs ldh_uln_u_l (and vice versa)")
    if ldh is not None and uln is not None:
        derived = ldh > uln
        if ldh_elev is not None and ldh_elev != derived:
            raise ValidationError(
                "ldh_elevated", ldh_elev, f"contradicts ldh_u_l {ldh:g} vs ULN {uln:g}"
            )
        ldh_elev = derived
    fish_raw = values.get("fish")
    fish: tuple[str, ...] | None = None
    if fish_raw is not None:
        if isinstance(fish_raw, str):
            # split on commas/semicolons outside parentheses: "del17p; t(4;14)" is two findings
            fish_raw = [s for s in re.split(r"[,;](?![^()]*\))", fish_raw) if s.strip()]
        if not isinstance(fish_raw, list | tuple):
            raise ValidationError("fish", fish_raw, "must be a list of FISH findings")
        ok = known_fish()
        items = []
        for item in fish_raw:
            s = str(item).strip()
            if s not in ok:
                raise ValidationError("fish", item, "unknown FISH finding; one of " + _words(ok))
            items.append(s)
        fish = tuple(dict.fromkeys(items))
    bone = values.get("bone_lesions")
    if bone is not None:
        if isinstance(bone, str) and bone.strip().lower() == "advanced":
            bone = "advanced"
        else:
            lo, hi = t["ranges"]["bone_lesions"]
            try:
                n = _number("bone_lesions", bone)
            except ValidationError:
                raise ValidationError(
                    "bone_lesions", bone, f'must be a whole count {lo}–{hi} or "advanced"'
                ) from None
            if n != int(n) or not lo <= n <= hi:
                raise ValidationError(
                    "bone_lesions", bone, f'must be a whole count {lo}–{hi} or "advanced"'
                )
            bone = int(n)
    return StagingInput(
        beta2m_mg_l=values.get("beta2m_mg_l"),
        albumin_g_dl=values.get("albumin_g_dl"),
        ldh_elevated=ldh_elev,
        ldh_u_l=ldh,
        ldh_uln_u_l=uln,
        fish=fish,
        hemoglobin_g_dl=values.get("hemoglobin_g_dl"),
        calcium_mg_dl=values.get("calcium_mg_dl"),
        bone_lesions=bone,
        igg_g_dl=values.get("igg_g_dl"),
        iga_g_dl=values.get("iga_g_dl"),
        urine_light_chain_g_24h=values.get("urine_light_chain_g_24h"),
        creatinine_mg_dl=values.get("creatinine_mg_dl"),
        converted=tuple(converted),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Stage:
    """One system's result: ``stage`` is ``None`` when it could not be decided (``reason``)."""

    system: str
    stage: str | None
    source: str
    decided_by: dict[str, Any]
    rule: str
    reason: str | None = None
    points: float | None = None
    assumptions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``points`` only for R2-ISS)."""
        d: dict[str, Any] = {
            "stage": self.stage,
            "source": self.source,
            "decided_by": self.decided_by,
            "rule": self.rule,
        }
        if self.system == "r2_iss":
            d["points"] = self.points
        if self.assumptions:
            d["assumptions"] = list(self.assumptions)
        return d


def _undecided(system: str, source: str, reason: str) -> Stage:
    return Stage(system, None, source, {}, "", reason)


def stage_iss(x: StagingInput) -> Stage:
    """International Staging System (Greipp 2005).

    Parameters
    ----------
    x : StagingInput

    Returns
    -------
    Stage
        I: β2M < 3.5 mg/L and albumin ≥ 3.5 g/dL; III: β2M ≥ 5.5 mg/L; II: otherwise.
    """
    t = staging_table()["iss"]
    src = t["source"]
    b, a = x.beta2m_mg_l, x.albumin_g_dl
    if b is None:
        return _undecided("iss", src, "beta2m_mg_l missing")
    if b >= t["stage_iii_beta2m_ge"]:
        return Stage("iss", "III", src, {"beta2m_mg_l": b},
                     f"beta2-microglobulin {b:g} >= {t['stage_iii_beta2m_ge']} mg/L")
    if a is None:
        if b >= t["stage_i_beta2m_lt"]:
            return Stage("iss", "II", src, {"beta2m_mg_l": b},
                         f"beta2-microglobulin {b:g} >= {t['stage_i_beta2m_lt']} mg/L (not I) "
                         f"and < {t['stage_iii_beta2m_ge']} mg/L (not III): stage II whatever "
                         "the albumin")
        return _undecided(
            "iss", src,
            f"albumin missing: beta2-microglobulin {b:g} < {t['stage_i_beta2m_lt']} mg/L "
            "leaves stage I or II open",
        )
    used = {"beta2m_mg_l": b, "albumin_g_dl": a}
    if b < t["stage_i_beta2m_lt"] and a >= t["stage_i_albumin_ge"]:
        return Stage("iss", "I", src, used,
                     f"beta2-microglobulin {b:g} < {t['stage_i_beta2m_lt']} mg/L and albumin "
                     f"{a:g} >= {t['stage_i_albumin_ge']} g/dL")
    why = (f"beta2-microglobulin {b:g} >= {t['stage_i_beta2m_lt']} mg/L"
           if b >= t["stage_i_beta2m_lt"]
           else f"albumin {a:g} < {t['stage_i_albumin_ge']} g/dL")
    return Stage("iss", "II", src, used,
                 f"neither I nor III: {why}, beta2-microglobulin < {t['stage_iii_beta2m_ge']} mg/L")


def _fish_flags(x: StagingInput, names: list[str]) -> bool | None:
    if x.fish is None:
        return None
    return any(f in names for f in x.fish)


_FISH_ASSUMPTION = "FISH list taken as the complete panel: abnormalities not listed are absent"


def stage_r_iss(x: StagingInput, iss: Stage | None = None) -> Stage:
    """Revised ISS (Palumbo 2015).

    I: ISS I, no high-risk CA [del(17p), t(4;14), t(14;16)] and normal LDH; III: ISS III and
    (high-risk CA or LDH > ULN); II: all others.
    """
    t = staging_table()
    src = t["r_iss"]["source"]
    iss = iss or stage_iss(x)
    hr_names = t["fish"]["high_risk_r_iss"]
    hr = _fish_flags(x, hr_names)
    ldh = x.ldh_elevated
    hr_found = [f for f in (x.fish or ()) if f in hr_names]
    if iss.stage is None:
        if x.beta2m_mg_l is not None and (hr is True or ldh is True):
            # ISS I or II (albumin missing): either way not R-ISS I, and not III
            used0: dict[str, Any] = {"beta2m_mg_l": x.beta2m_mg_l}
            if hr:
                used0["fish_high_risk"] = hr_found
            if ldh:
                used0["ldh_elevated"] = True
            return Stage("r_iss", "II", src, used0,
                         "ISS I or II (albumin missing) with high-risk CA or LDH > ULN: "
                         "R-ISS II either way",
                         assumptions=(_FISH_ASSUMPTION,) if hr else ())
        return _undecided("r_iss", src, f"ISS not staged ({iss.reason})")
    used: dict[str, Any] = {"iss": iss.stage}
    assume = (_FISH_ASSUMPTION,) if x.fish is not None else ()
    if iss.stage == "II":
        return Stage("r_iss", "II", src, used, "ISS II is R-ISS II whatever the FISH and LDH")
    if iss.stage == "I":
        if hr is True or ldh is True:
            if hr:
                used["fish_high_risk"] = hr_found
            if ldh:
                used["ldh_elevated"] = True
            return Stage("r_iss", "II", src, used,
                         "ISS I with high-risk CA or LDH > ULN: not R-ISS I", assumptions=assume)
        if hr is None or ldh is None:
            miss = "fish" if hr is None else "LDH (ldh_elevated or ldh_u_l with ldh_uln_u_l)"
            return _undecided("r_iss", src, f"{miss} missing: ISS I leaves R-ISS I or II open")
        used.update({"fish_high_risk": [], "ldh_elevated": False})
        return Stage("r_iss", "I", src, used,
                     "ISS I, no del(17p)/t(4;14)/t(14;16), LDH <= ULN", assumptions=assume)
    # ISS III
    if hr is True or ldh is True:
        if hr:
            used["fish_high_risk"] = hr_found
        if ldh:
            used["ldh_elevated"] = True
        return Stage("r_iss", "III", src, used, "ISS III with high-risk CA or LDH > ULN",
                     assumptions=assume if hr else ())
    if hr is None or ldh is None:
        miss = "fish" if hr is None else "LDH (ldh_elevated or ldh_u_l with ldh_uln_u_l)"
        return _undecided("r_iss", src, f"{miss} missing: ISS III leaves R-ISS II or III open")
    used.update({"fish_high_risk": [], "ldh_elevated": False})
    return Stage("r_iss", "II", src, used, "ISS III without high-risk CA and LDH <= ULN",
                 assumptions=assume)


def stage_r2_iss(x: StagingInput, iss: Stage | None = None) -> Stage:
    """Second revision of the ISS (D'Agostino 2022): additive points, four stages.

    ISS II 1, ISS III 1.5, del(17p) 1, LDH > ULN 1, t(4;14) 1, 1q gain/amplification 0.5;
    I = 0, II = 0.5–1, III = 1.5–2.5, IV = 3–5 points. Every input is needed.
    """
    t = staging_table()
    r2 = t["r2_iss"]
    src = r2["source"]
    iss = iss or stage_iss(x)
    if iss.stage is None:
        return _undecided("r2_iss", src, f"ISS not staged ({iss.reason})")
    if x.fish is None:
        return _undecided("r2_iss", src, "fish missing (del17p, t(4;14), 1q status needed)")
    if x.ldh_elevated is None:
        return _undecided("r2_iss", src,
                          "LDH missing (ldh_elevated or ldh_u_l with ldh_uln_u_l)")
    p = r2["points"]
    parts: dict[str, float] = {}
    if iss.stage == "II":
        parts["iss_ii"] = p["iss_ii"]
    elif iss.stage == "III":
        parts["iss_iii"] = p["iss_iii"]
    if "del17p" in x.fish:
        parts["del17p"] = p["del17p"]
    if x.ldh_elevated:
        parts["ldh_high"] = p["ldh_high"]
    if "t(4;14)" in x.fish:
        parts["t_4_14"] = p["t_4_14"]
    if any(f in t["fish"]["chromosome_1q"] for f in x.fish):
        parts["chr1q"] = p["chr1q"]
    total = float(sum(parts.values()))
    for s in r2["stages"]:
        if s["min"] - 1e-9 <= total <= s["max"] + 1e-9:
            return Stage("r2_iss", s["stage"], src,
                         {"iss": iss.stage, "points": parts, "fish": list(x.fish),
                          "ldh_elevated": x.ldh_elevated},
                         f"{total:g} point{'' if total == 1 else 's'} in stage range "
                         f"{s['min']:g}–{s['max']:g}", points=total,
                         assumptions=(_FISH_ASSUMPTION,))
    raise AssertionError(f"R2-ISS points {total} outside every stage")  # pragma: no cover


def _ds_criteria(x: StagingInput) -> tuple[dict[str, bool | None], dict[str, bool | None]]:
    d = staging_table()["durie_salmon"]
    s1, s3 = d["stage_i"], d["stage_iii"]
    hb, ca, bone = x.hemoglobin_g_dl, x.calcium_mg_dl, x.bone_lesions

    def cmp(v: float | None, f: Any) -> bool | None:
        return None if v is None else bool(f(v))

    if bone is None:
        bone_i = bone_iii = None
    elif bone == "advanced":
        bone_i, bone_iii = False, True
    else:
        assert isinstance(bone, int)
        bone_i, bone_iii = bone <= s1["bone_lesions_le"], bone > s3["bone_lesions_gt"]
    crit_i: dict[str, bool | None] = {
        "hemoglobin_g_dl": cmp(hb, lambda v: v > s1["hemoglobin_gt"]),
        "calcium_mg_dl": cmp(ca, lambda v: v <= s1["calcium_le"]),
        "bone_lesions": bone_i,
    }
    crit_iii: dict[str, bool | None] = {
        "hemoglobin_g_dl": cmp(hb, lambda v: v < s3["hemoglobin_lt"]),
        "calcium_mg_dl": cmp(ca, lambda v: v > s3["calcium_gt"]),
        "bone_lesions": bone_iii,
    }
    for key, lt_i, gt_iii in (
        ("igg_g_dl", s1["igg_lt"], s3["igg_gt"]),
        ("iga_g_dl", s1["iga_lt"], s3["iga_gt"]),
        ("urine_light_chain_g_24h", s1["urine_light_chain_lt"], s3["urine_light_chain_gt"]),
    ):
        v = getattr(x, key)
        if v is not None:
            crit_i[key] = v < lt_i
            crit_iii[key] = v > gt_iii
    return crit_i, crit_iii


def stage_durie_salmon(x: StagingInput) -> Stage:
    """Durie–Salmon stage (1975) with renal subclass A/B.

    I: all of Hb > 10 g/dL, calcium ≤ 12 mg/dL, no or a solitary bone lesion, IgG < 5 g/dL,
    IgA < 3 g/dL, urine light chain < 4 g/24 h; III: any of Hb < 8.5, calcium > 12, advanced
    lytic lesions (> 3 or ``"advanced"``), IgG > 7, IgA > 5, urine light chain > 12; II:
    neither. A: creatinine < 2.0 mg/dL, B: ≥ 2.0 mg/dL. The M-component is judged on the
    values given (at least one of IgG, IgA, urine light chain).
    """
    d = staging_table()["durie_salmon"]
    src = d["source"]
    m_keys = ("igg_g_dl", "iga_g_dl", "urine_light_chain_g_24h")
    given = {k: getattr(x, k) for k in m_keys if getattr(x, k) is not None}
    if x.creatinine_mg_dl is None:
        return _undecided("durie_salmon", src, "creatinine_mg_dl missing (subclass A/B)")
    crit_i, crit_iii = _ds_criteria(x)
    if not given and not any(v is True for v in crit_iii.values()):
        # a stage III criterion (haemoglobin, calcium, bone) decides without the M-component
        # (IgD/IgM or non-secretory myeloma); anything else needs it
        return _undecided("durie_salmon", src,
                          "M-component missing (igg_g_dl, iga_g_dl or urine_light_chain_g_24h)"
                          " and no stage III criterion met")
    cr = x.creatinine_mg_dl
    sub = "B" if cr >= d["subclass_b_creatinine_ge"] else "A"
    sub_rule = (f"creatinine {cr:g} {'>=' if sub == 'B' else '<'} "
                f"{d['subclass_b_creatinine_ge']} mg/dL: subclass {sub}")
    assume = (
        ("M-component judged on the values given: " + ", ".join(k for k in m_keys if k in given),)
        if given else ("M-component not given: staged by a stage III criterion alone",)
    )
    value_of = {k: getattr(x, k) for k in crit_i}
    if any(v is True for v in crit_iii.values()):
        hits = {k: value_of[k] for k, v in crit_iii.items() if v}
        return Stage("durie_salmon", f"III{sub}", src, {**hits, "creatinine_mg_dl": cr},
                     f"stage III criterion met ({', '.join(hits)}); {sub_rule}",
                     assumptions=assume)
    if all(v is True for v in crit_i.values()):
        return Stage("durie_salmon", f"I{sub}", src, {**value_of, "creatinine_mg_dl": cr},
                     f"every stage I criterion met; {sub_rule}", assumptions=assume)
    unknown = [k for k, v in crit_iii.items() if v is None]
    if unknown:
        return _undecided("durie_salmon", src,
                          f"{', '.join(unknown)} missing: stage II or III open")
    failed = {k: value_of[k] for k, v in crit_i.items() if v is False}
    return Stage("durie_salmon", f"II{sub}", src, {**failed, "creatinine_mg_dl": cr},
                 f"not stage I ({', '.join(failed)}) and no stage III criterion; {sub_rule}",
                 assumptions=assume)


def stage_msmart(x: StagingInput, r_iss: Stage | None = None) -> Stage:
    """mSMART 3.0 risk: ``high`` or ``standard``.

    High: any of del(17p), t(4;14), t(14;16), t(14;20), 1q gain/amplification, or R-ISS III.
    p53 mutation, S-phase and GEP are not inputs (noted in the result).
    """
    t = staging_table()
    m = t["msmart"]
    src = m["source"]
    r_iss = r_iss or stage_r_iss(x)
    hr_names = t["fish"]["high_risk_msmart"]
    hits = [f for f in (x.fish or ()) if f in hr_names]
    hits_1q = [f for f in hits if f in t["fish"]["chromosome_1q"]]
    n_hits = len(hits) - len(hits_1q) + (1 if hits_1q else 0)
    label = {0: "", 1: "", 2: " (double hit)"}.get(n_hits, " (triple hit)")
    note = (m["not_captured"],)
    if hits or r_iss.stage == m["r_iss_high"]:
        used: dict[str, Any] = {}
        if hits:
            used["fish_high_risk"] = hits
            used["genetic_hits"] = n_hits
        if r_iss.stage == m["r_iss_high"]:
            used["r_iss"] = r_iss.stage
        return Stage("msmart", "high", src, used,
                     f"high-risk genetic abnormality or R-ISS III{label}", assumptions=note)
    if x.fish is None:
        return _undecided("msmart", src, "fish missing")
    if r_iss.stage is None:
        # without a high-risk CA, R-ISS III needs ISS III (beta2M >= 5.5) and LDH > ULN
        b, ge = x.beta2m_mg_l, t["iss"]["stage_iii_beta2m_ge"]
        if b is not None and b < ge:
            why = {"beta2m_mg_l": b}
            rule = f"no high-risk FISH finding and beta2-microglobulin {b:g} < {ge} mg/L: " \
                   "R-ISS cannot be III"
        elif x.ldh_elevated is False:
            why = {"ldh_elevated": False}
            rule = "no high-risk FISH finding and LDH <= ULN: R-ISS cannot be III"
        else:
            return _undecided("msmart", src, f"R-ISS not staged ({r_iss.reason})")
        return Stage("msmart", "standard", src, {"fish": list(x.fish), **why}, rule,
                     assumptions=(_FISH_ASSUMPTION, *note))
    return Stage("msmart", "standard", src, {"fish": list(x.fish), "r_iss": r_iss.stage},
                 "no high-risk FISH finding and R-ISS not III",
                 assumptions=(_FISH_ASSUMPTION, *note))


SYSTEMS: tuple[str, ...] = ("iss", "r_iss", "r2_iss", "durie_salmon", "msmart")


def stage_myeloma(data: Mapping[str, Any] | StagingInput) -> dict[str, Stage]:
    """Every staging system for one patient.

    Parameters
    ----------
    data : mapping or StagingInput
        Values at diagnosis (see :func:`parse_staging_input`).

    Returns
    -------
    dict[str, Stage]
        Keys ``iss``, ``r_iss``, ``r2_iss``, ``durie_salmon``, ``msmart``.
    """
    x = data if isinstance(data, StagingInput) else parse_staging_input(data)
    iss = stage_iss(x)
    r_iss = stage_r_iss(x, iss)
    return {
        "iss": iss,
        "r_iss": r_iss,
        "r2_iss": stage_r2_iss(x, iss),
        "durie_salmon": stage_durie_salmon(x),
        "msmart": stage_msmart(x, r_iss),
    }


def staging_json(data: Mapping[str, Any] | StagingInput) -> dict[str, Any]:
    """The ``mst stage myeloma --json`` document.

    Each system key holds ``{"stage", "source", "decided_by", "rule"}`` (R2-ISS also
    ``points``) or ``null``; ``not_staged`` gives the reason for every null system;
    ``converted`` lists unit conversions made on entry.
    """
    x = data if isinstance(data, StagingInput) else parse_staging_input(data)
    res = stage_myeloma(x)
    out: dict[str, Any] = {}
    not_staged: dict[str, str] = {}
    for k, s in res.items():
        if s.stage is None:
            out[k] = None
            not_staged[k] = s.reason or "not staged"
        else:
            out[k] = s.to_dict()
    out["not_staged"] = not_staged
    out["converted"] = list(x.converted)
    out["version"] = staging_table()["version"]
    return out
