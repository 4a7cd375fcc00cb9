"""ELN 2022 genetic risk from entered lesions (Döhner et al., Blood 2022;140:1345).

The lesion vocabulary and the precedence order live in
``mst/data/protocol/eln2022.yaml``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from pydantic import BaseModel, ConfigDict

from mst.domain import ElnRisk
from mst.errors import ValidationError
from mst.protocol._data import load_yaml
from mst.protocol.notes import Note


class Lesion(BaseModel):
    """One genetic lesion; ``vaf_pct`` is required for TP53."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    vaf_pct: float | None = None


@functools.cache
def _aliases() -> dict[str, str]:
    tab = load_yaml("eln2022.yaml")["lesions"]
    out: dict[str, str] = {}
    for code, entry in tab.items():
        out[code.lower()] = code
        for a in entry.get("aliases", []):
            out[a.lower()] = code
    return out


def apl_lesions(raw: list[Any]) -> list[str]:
    """The entered lesions that define acute promyelocytic leukaemia (t(15;17), PML::RARA).

    Parameters
    ----------
    raw : list
        Lesions as entered (codes, aliases or ``{"code": ...}``).

    Returns
    -------
    list of str
        The APL lesions as entered (empty when none).
    """
    known = {x.lower() for x in load_yaml("eln2022.yaml")["apl_lesions"]}
    out = []
    for item in raw:
        code = item.get("code") if isinstance(item, dict) else getattr(item, "code", item)
        if isinstance(code, str) and code.strip().lower() in known:
            out.append(code.strip())
    return out


def lesion_codes() -> list[str]:
    """Known lesion codes of the ELN 2022 table, in file order."""
    return list(load_yaml("eln2022.yaml")["lesions"])


def normalize_lesions(raw: list[Any]) -> list[Lesion]:
    """Turn entered lesions (codes, aliases or ``{"code", "vaf_pct"}``) into :class:`Lesion`.

    Raises
    ------
    mst.errors.ValidationError
        Unknown code, TP53 without VAF, VAF outside 0–100.
    """
    out = []
    for i, item in enumerate(raw):
        where = f"eln_lesions[{i}]"
        if isinstance(item, str):
            code, vaf = item, None
        elif isinstance(item, dict) and "code" in item and set(item) <= {"code", "vaf_pct"}:
            code, vaf = item["code"], item.get("vaf_pct")
        elif isinstance(item, Lesion):
            code, vaf = item.code, item.vaf_pct
        else:
            raise ValidationError(
                where, item, "must be a lesion code or {'code': ..., 'vaf_pct': ...}"
            )
        canonical = _aliases().get(str(code).strip().lower())
        if canonical is None and apl_lesions([code]):
            raise ValidationError(
                where,
                code,
                "defines acute promyelocytic leukaemia, which has no ELN 2022 genetic risk group "
                "and is excluded from MST (004 §4)",
            )
        if canonical is None:
            raise ValidationError(
                where, code, f"unknown ELN 2022 lesion (known: {', '.join(lesion_codes())})"
            )
        if vaf is not None and (
            isinstance(vaf, bool)
            or not isinstance(vaf, int | float)
            or not math.isfinite(vaf)
            or not 0 <= vaf <= 100
        ):
            raise ValidationError(f"{where}.vaf_pct", vaf, "must be a percentage 0–100")
        if canonical == "TP53" and vaf is None:
            raise ValidationError(
                f"{where}.vaf_pct", None, "TP53 needs its variant allele fraction (%)"
            )
        out.append(Lesion(code=canonical, vaf_pct=vaf))
    return out


class ElnResult(BaseModel):
    """Risk group with the lesions that decided it."""

    model_config = ConfigDict(frozen=True)

    risk: ElnRisk
    deciding: tuple[str, ...]
    rule: str
    notes: tuple[Note, ...]
    source: str


def eln2022_risk(lesions: list[Any]) -> ElnResult:
    """ELN 2022 genetic risk group from the lesions found at diagnosis.

    Parameters
    ----------
    lesions : list
        Lesion codes of ``eln2022.yaml`` (``"NPM1"``, ``"FLT3-ITD"``, ``"t(8;21)"``,
        ``"complex_karyotype"``, ``{"code": "TP53", "vaf_pct": 12}`` …). An empty
        list means "tested, nothing found" (normal karyotype, no mutation) and
        gives ``intermediate``.

    Returns
    -------
    ElnResult
        Risk, the deciding lesions and the precedence rule applied.
    """
    doc = load_yaml("eln2022.yaml")
    tab = doc["lesions"]
    src = doc["source"]
    found = normalize_lesions(lesions)
    thr = float(doc["tp53_vaf_threshold_pct"])
    groups: dict[str, list[str]] = {}
    for les in found:
        g = tab[les.code]["group"]
        if g == "tp53" and (les.vaf_pct or 0) < thr:
            g = "tp53_low"
        groups.setdefault(g, []).append(les.code)
    notes: list[Note] = []
    has = groups.__contains__

    def result(risk: ElnRisk, deciding: list[str], rule: str) -> ElnResult:
        return ElnResult(
            risk=risk, deciding=tuple(deciding), rule=rule, notes=tuple(notes), source=src
        )

    if has("tp53_low"):
        notes.append(
            Note(
                level="info",
                code="tp53_below_threshold",
                message=f"TP53 with VAF < {thr:g}% does not define adverse risk",
                sources=(src,),
            )
        )
    if has("favorable_cbf"):
        if has("tp53"):
            notes.append(
                Note(
                    level="warning",
                    code="eln_cooccurrence",
                    message=(
                        "TP53 co-occurring with core-binding-factor AML is not addressed by "
                        "ELN 2022; review"
                    ),
                    sources=(src,),
                )
            )
        return result(
            ElnRisk.FAVORABLE,
            groups["favorable_cbf"],
            "core-binding-factor AML "
            "(KIT/FLT3 and myelodysplasia-related mutations do not alter it)",
        )
    if has("t9_11") and not has("adverse_cyto"):
        return result(
            ElnRisk.INTERMEDIATE,
            groups["t9_11"],
            "t(9;11) takes precedence over rare concurring adverse-risk gene mutations",
        )
    if has("adverse_cyto"):
        return result(
            ElnRisk.ADVERSE,
            groups["adverse_cyto"],
            "adverse-risk cytogenetics (also with mutated NPM1)",
        )
    npm1_fav = has("npm1") and not has("flt3_itd")
    if npm1_fav or has("favorable_other"):
        if has("tp53"):
            notes.append(
                Note(
                    level="warning",
                    code="eln_cooccurrence",
                    message=(
                        "TP53 co-occurring with a favorable-risk subtype is not addressed "
                        "by ELN 2022; review"
                    ),
                    sources=(src,),
                )
            )
        deciding = (groups.get("npm1", []) if npm1_fav else []) + groups.get("favorable_other", [])
        return result(
            ElnRisk.FAVORABLE,
            deciding,
            "mutated NPM1 without FLT3-ITD or in-frame bZIP CEBPA "
            "(myelodysplasia-related mutations not used with favorable subtypes)",
        )
    if has("npm1"):
        return result(
            ElnRisk.INTERMEDIATE, groups["npm1"] + groups["flt3_itd"], "mutated NPM1 with FLT3-ITD"
        )
    if has("mr_gene") or has("tp53"):
        return result(
            ElnRisk.ADVERSE,
            groups.get("mr_gene", []) + groups.get("tp53", []),
            "myelodysplasia-related gene mutation or TP53 (VAF >= 10%)",
        )
    if has("flt3_itd"):
        return result(ElnRisk.INTERMEDIATE, groups["flt3_itd"], "FLT3-ITD with wild-type NPM1")
    return result(
        ElnRisk.INTERMEDIATE,
        [les.code for les in found],
        "abnormalities not classified as favorable or adverse (or none found)",
    )


def targetable(lesions: list[Any]) -> list[str]:
    """Lesions for which targeted drugs around MST are encouraged (004 §2.4)."""
    codes = set(load_yaml("eln2022.yaml")["targetable"]["codes"])
    return [les.code for les in normalize_lesions(lesions) if les.code in codes]
