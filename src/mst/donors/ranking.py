"""Explained ranking of the candidate donors of one patient (004 §2.1, 002 Patients and donors).

1. **Exclusions** (any one excludes; excluded donors are listed after the
   eligible ones): DSA at or above the positive MFI threshold (definite or
   possible), age outside the accepted range, donor homozygous at a locus
   shared with the recipient (definite or possible).
2. **Preferences**, compared lexicographically in the configured order:
   related; bidirectional allele-level x/12 mismatch inside the acceptable
   range; younger (in age bands); male; KIR B-content group; DPB1 TCE
   matched/permissive.

Every donor carries the list of reasons (rule, value, effect, source) and,
against the next donor, the criterion that decided the order — or the tie.
Rules and sources: ``mst/data/donors/selection_rules.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from mst.domain import Relationship, Sex
from mst.donors.case import DonorCandidate, DonorCase
from mst.donors.dpb1 import TceResult, dpb1_permissiveness
from mst.donors.dsa import CrossmatchResult, virtual_crossmatch
from mst.donors.family import HaploCheck, haploidentity
from mst.donors.kir import KirProfile, LigandMismatch, kir_profile, ligand_mismatch_gvh
from mst.donors.mismatch import LOCI_10, LOCI_12, MismatchReport, Range, compare
from mst.donors.reference import imgt_release
from mst.donors.settings import SelectionSettings, rule_source
from mst.errors import ValidationError

#: Donors explained in full by default in JSON output (``--explain``); the rest get a summary.
DEFAULT_EXPLAIN = 25
#: Tied donors listed by id per donor (the full count is given as ``tied_count``).
MAX_TIED_LISTED = 20

_FIRST_DEGREE = (Relationship.PARENT, Relationship.CHILD)
_KIR_ORDER = {"best": 0, "better": 1, "neutral": 2, "unknown": 3}


@dataclass(slots=True)
class Reason:
    """One line of a donor's explanation."""

    rule: str
    value: Any
    effect: str  # "exclude", "prefer", "disfavour", "neutral", "warn", "info"
    text: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "value": self.value,
            "effect": self.effect,
            "text": self.text,
            "source": self.source,
        }


@dataclass(slots=True)
class DonorAssessment:
    """Everything known about one candidate, and its place in the ranking."""

    candidate: DonorCandidate
    mismatch: MismatchReport
    dsa: CrossmatchResult
    tce: TceResult
    kir: KirProfile | None
    ligands: LigandMismatch
    haplo: HaploCheck | None
    exclusions: list[Reason] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    key: tuple[int, ...] = ()
    rank: int | None = None
    decided_by: str | None = None
    tie_group: list[DonorAssessment] | None = None
    input_index: int = 0
    _recipient: Any = None

    @property
    def tied_with(self) -> list[str]:
        """Ids of the other donors with the same rank (one shared group list, not n² ids)."""
        if not self.tie_group:
            return []
        return [b.donor_id for b in self.tie_group if b is not self]

    @property
    def donor_id(self) -> str:
        """The donor's id."""
        return self.candidate.donor.id

    @property
    def excluded(self) -> bool:
        """True when any exclusion rule applies."""
        return bool(self.exclusions)

    def _tied(self) -> dict[str, Any]:
        n = len(self.tie_group) - 1 if self.tie_group else 0
        ids = []
        for b in self.tie_group or ():
            if len(ids) == MAX_TIED_LISTED:
                break
            if b is not self:
                ids.append(b.donor_id)
        return {"tied_with": ids, "tied_count": n}

    def summary(self) -> dict[str, Any]:
        """Short JSON-ready form for donors beyond the explained top N (``--explain``)."""
        d = self.candidate.donor
        totals = {
            k: (str(t) if (t := self.mismatch.total(k, LOCI_12)) is not None else None)
            for k in ("gvh", "hvg", "bidirectional")
        }
        return {
            "rank": self.rank,
            "donor_id": d.id,
            "excluded": self.excluded,
            "explained": False,
            "relationship": d.relationship.value,
            "sex": d.sex.value,
            "age": d.age,
            "exclusions": [r.rule for r in self.exclusions],
            "decided_by": self.decided_by,
            **self._tied(),
            "x12": totals,
            "hla_identical": hla_identical(self.mismatch),
            "dsa": self.dsa.possible_status,
            "dpb1_tce": self.tce.status,
            "kir": self.kir.group if self.kir is not None else None,
        }

    def to_dict(self, detail: bool = True) -> dict[str, Any]:
        """JSON-ready form (``detail`` adds the antigen-level comparison)."""
        d = self.candidate.donor
        out: dict[str, Any] = {
            "rank": self.rank,
            "donor_id": d.id,
            "excluded": self.excluded,
            "explained": True,
            "relationship": d.relationship.value,
            "sex": d.sex.value,
            "age": d.age,
            "exclusions": [r.to_dict() for r in self.exclusions],
            "reasons": [r.to_dict() for r in self.reasons],
            "decided_by": self.decided_by,
            **self._tied(),
            "hla": {
                "ard": self.mismatch.to_dict(),
            },
            "dsa": self.dsa.to_dict(),
            "dpb1_tce": self.tce.to_dict(),
            "kir": self.kir.to_dict() if self.kir is not None else None,
            "kir_ligand_mismatch_gvh": self.ligands.to_dict(),
            "haploidentity": self.haplo.to_dict() if self.haplo is not None else None,
            "hla_identical": hla_identical(self.mismatch),
        }
        if detail and self._recipient is not None:
            out["hla"]["antigen"] = compare(
                self._recipient, self.candidate.typing, "antigen"
            ).to_dict()
        return out


def _x12(report: MismatchReport) -> Range | None:
    return report.total("bidirectional", LOCI_12)


def _hom_text(hom: dict[str, str]) -> str:
    return (
        "donor (functionally) homozygous for a protein the recipient carries"
        " (one-way GvH mismatch) at "
        + ", ".join(f"{k}{'' if v == 'yes' else ' (possible)'}" for k, v in hom.items())
    )


def hla_identical(report: MismatchReport) -> str:
    """Is the donor HLA-identical to the recipient (0 mismatches at the ARD level)?

    Parameters
    ----------
    report : MismatchReport
        Recipient–donor comparison.

    Returns
    -------
    {"yes", "possible", "no"}
        ``"yes"``: every one of the 12 loci typed in both and none mismatched;
        ``"possible"``: no certain mismatch, but ambiguity or an untyped locus leaves
        identity open; ``"no"``: at least one certain mismatch.
    """
    typed = [report.loci[k] for k in LOCI_12 if k in report.loci]
    if any(lm.bidirectional.lo > 0 for lm in typed):
        return "no"
    if report.missing or any(lm.bidirectional.hi > 0 for lm in typed):
        return "possible"
    return "yes"


def assess(
    case_recipient: Any,
    antibodies: tuple[Any, ...],
    candidate: DonorCandidate,
    settings: SelectionSettings,
) -> DonorAssessment:
    """Evaluate one candidate donor against the recipient (no ranking yet).

    Parameters
    ----------
    case_recipient : HlaTyping
        Recipient typing.
    antibodies : tuple of Antibody
        Recipient antibodies.
    candidate : DonorCandidate
        The donor.
    settings : SelectionSettings
        Rules.

    Returns
    -------
    DonorAssessment
        Results, exclusions, reasons and the preference key.
    """
    donor = candidate.donor
    typing = candidate.typing
    mm = compare(case_recipient, typing, "ard")
    dsa = virtual_crossmatch(
        antibodies, typing, settings.dsa_positive_mfi, settings.dsa_high_risk_mfi
    )
    tce = dpb1_permissiveness(case_recipient, typing)
    kir = kir_profile(candidate.kir) if candidate.kir is not None else None
    lig = ligand_mismatch_gvh(case_recipient, typing, candidate.kir, settings.include_hla_a_bw4)
    haplo = haploidentity(case_recipient, typing) if donor.relationship.related else None
    a = DonorAssessment(candidate, mm, dsa, tce, kir, lig, haplo, _recipient=case_recipient)

    # --- exclusions
    ex = settings.exclusions
    if "dsa_positive" in ex and (dsa.status != "negative" or dsa.possible_status != "negative"):
        certain = dsa.status != "negative"
        specs = ", ".join(
            f"{m['specificity']} (MFI {m['mfi']:g}, {m['certainty']})" for m in dsa.matches
        )
        a.exclusions.append(
            Reason(
                "dsa_positive",
                specs,
                "exclude",
                (
                    "donor-specific antibody "
                    if certain
                    else "possible donor-specific antibody "
                    "(ambiguous donor typing; resolve before selection) "
                )
                + f"at MFI ≥ {settings.dsa_positive_mfi:g}: {specs}",
                rule_source("dsa_positive"),
            )
        )
    if (
        "age_out_of_range" in ex
        and not settings.donor_age_min <= donor.age <= settings.donor_age_max
    ):
        a.exclusions.append(
            Reason(
                "age_out_of_range",
                donor.age,
                "exclude",
                f"age {donor.age} outside {settings.donor_age_min}–{settings.donor_age_max}",
                rule_source("age_out_of_range"),
            )
        )
    hom_main = {
        k: v.donor_homozygous_shared
        for k, v in mm.loci.items()
        if v.donor_homozygous_shared != "no" and k != "DPB1"
    }
    hom_dp = {
        k: v.donor_homozygous_shared
        for k, v in mm.loci.items()
        if v.donor_homozygous_shared != "no" and k == "DPB1"
    }
    for rule, hom in (
        ("homozygous_shared_locus", hom_main),
        ("homozygous_shared_dpb1_locus", hom_dp),
    ):
        if rule in ex and hom:
            a.exclusions.append(Reason(rule, hom, "exclude", _hom_text(hom), rule_source(rule)))

    # --- warnings and information
    for rule, hom in (("homozygous_shared", hom_main), ("homozygous_shared_dpb1", hom_dp)):
        if hom:
            a.reasons.append(
                Reason(rule, hom, "warn", _hom_text(hom), rule_source("avoid_" + rule))
            )
    identical = hla_identical(mm)
    if identical != "no":
        a.reasons.append(
            Reason(
                "hla_identical",
                identical,
                "warn",
                (
                    "HLA-identical"
                    if identical == "yes"
                    else "possibly HLA-identical (ambiguity or untyped loci)"
                )
                + " donor: MST uses HLA-mismatched donors",
                rule_source("hla_mismatched"),
            )
        )
    if dsa.untested:
        a.reasons.append(
            Reason(
                "dsa_untested",
                dsa.untested,
                "warn",
                "antibodies against loci the donor was not typed for: " + ", ".join(dsa.untested),
                rule_source("dsa_positive"),
            )
        )
    if mm.missing:
        a.reasons.append(
            Reason(
                "loci_missing",
                list(mm.missing),
                "warn",
                "loci not typed in both: " + ", ".join(mm.missing),
                "002 Patients and donors",
            )
        )
    if (
        haplo is not None
        and donor.relationship in _FIRST_DEGREE
        and haplo.status == "not_haploidentical"
    ):
        a.reasons.append(
            Reason(
                "haploidentity",
                haplo.status,
                "warn",
                f"{donor.relationship.value} shares no allele at "
                f"{', '.join(haplo.loci_without_shared_allele)}: check typing or relationship",
                "issue 6 (haploidentity check)",
            )
        )
    if lig.status != "match":
        a.reasons.append(
            Reason(
                "kir_ligand_mismatch_gvh",
                list(lig.missing_in_recipient or lig.possibly_missing),
                "info",
                f"KIR-ligand mismatch in GvH direction ({lig.status}): recipient lacks "
                + ", ".join(lig.missing_in_recipient or lig.possibly_missing),
                lig.source,
            )
        )

    # --- preferences
    key: list[int] = []
    for pref in settings.preferences:
        src = rule_source(pref)
        if pref == "hla_mismatched":
            ident = identical
            key.append({"no": 0, "possible": 1, "yes": 2}[ident])
            if ident == "no":
                a.reasons.append(Reason(pref, ident, "neutral", "HLA-mismatched donor", src))
            else:
                a.reasons.append(
                    Reason(
                        pref,
                        ident,
                        "disfavour",
                        ("HLA-identical" if ident == "yes" else "possibly HLA-identical")
                        + " donor: outside the MST definition (HLA-mismatched donors);"
                        " ranked after every mismatched donor",
                        src,
                    )
                )
        elif pref in ("avoid_homozygous_shared", "avoid_homozygous_shared_dpb1"):
            hom = hom_dp if pref.endswith("dpb1") else hom_main
            level = 2 if "yes" in hom.values() else (1 if hom else 0)
            key.append(level)
            if hom:
                a.reasons.append(
                    Reason(pref, hom, "disfavour", _hom_text(hom) + " (004 §2.1: avoid)", src)
                )
            else:
                where = "DPB1" if pref.endswith("dpb1") else "A, B, C, DRB1, DQB1 (and others)"
                a.reasons.append(
                    Reason(pref, {}, "neutral", f"no homozygous shared locus at {where}", src)
                )
        elif pref == "related":
            rel = donor.relationship.related
            key.append(0 if rel else 1)
            a.reasons.append(
                Reason(
                    pref,
                    donor.relationship.value,
                    "prefer" if rel else "disfavour",
                    "related donor" if rel else "unrelated donor",
                    src,
                )
            )
        elif pref == "mismatch_in_range":
            x12 = _x12(mm)
            lo, hi = settings.mismatch_min, settings.mismatch_max
            if x12 is None:
                key.append(3)
                a.reasons.append(
                    Reason(pref, None, "disfavour", "x/12 unknown (loci missing)", src)
                )
            elif lo <= x12.lo and x12.hi <= hi:
                key.append(0)
                a.reasons.append(
                    Reason(pref, str(x12), "prefer", f"{x12}/12 within {lo}–{hi}", src)
                )
            elif x12.hi < lo or x12.lo > hi:
                key.append(2)
                a.reasons.append(
                    Reason(pref, str(x12), "disfavour", f"{x12}/12 outside {lo}–{hi}", src)
                )
            else:
                key.append(1)
                a.reasons.append(
                    Reason(
                        pref,
                        str(x12),
                        "disfavour",
                        f"{x12}/12 may be outside {lo}–{hi} (ambiguous typing)",
                        src,
                    )
                )
        elif pref == "younger":
            band = max(0, donor.age - settings.donor_age_min) // settings.age_band_years
            key.append(band)
            lo_age = settings.donor_age_min + band * settings.age_band_years
            text = (
                f"age {donor.age}"
                if settings.age_band_years == 1
                else f"age {donor.age} (band {lo_age}–{lo_age + settings.age_band_years - 1})"
            )
            a.reasons.append(Reason(pref, donor.age, "neutral", text, src))
        elif pref == "male":
            male = donor.sex is Sex.MALE
            key.append(0 if male else 1)
            a.reasons.append(
                Reason(
                    pref,
                    donor.sex.value,
                    "prefer" if male else "disfavour",
                    "male donor" if male else "female donor",
                    src,
                )
            )
        elif pref == "kir_b_content":
            grp = kir.group if kir is not None else "unknown"
            key.append(_KIR_ORDER[grp])
            a.reasons.append(
                Reason(
                    pref,
                    grp,
                    "prefer" if grp in ("best", "better") else "neutral",
                    f"KIR B-content {grp}" + ("" if kir is not None else " (no KIR genotype)"),
                    src,
                )
            )
        elif pref == "dpb1_permissive":
            st = tce.status
            k = (
                0
                if st in ("matched", "permissive")
                else (2 if st.startswith("non-permissive") else 1)
            )
            key.append(k)
            a.reasons.append(
                Reason(pref, st, ("prefer", "neutral", "disfavour")[k], f"DPB1 TCE {st}", src)
            )
    a.key = tuple(key)
    return a


@dataclass(slots=True)
class Ranking:
    """Ranked donors of one case."""

    patient_id: str
    settings: SelectionSettings
    donors: list[DonorAssessment]

    def _head(self, explain: int | None) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "imgt_release": imgt_release(),
            "settings": self.settings.to_dict(),
            "counts": {
                "x10_loci": list(LOCI_10),
                "x12_loci": list(LOCI_12),
                "convention": (
                    "bidirectional = max(GvH, HvG) per locus; ARD level (P group, py-ard lgx)"
                ),
            },
            "n_donors": len(self.donors),
            "explained": "all" if explain is None else min(explain, len(self.donors)),
        }

    def to_dict(self, detail: bool = True, explain: int | None = None) -> dict[str, Any]:
        """JSON-ready form.

        Parameters
        ----------
        detail : bool
            Add the antigen-level comparison to explained donors.
        explain : int, optional
            Full explanations for the first ``explain`` donors only, a short
            :meth:`DonorAssessment.summary` for the rest; None = all.
        """
        out = self._head(explain)
        out["donors"] = [
            d.to_dict(detail) if explain is None or i < explain else d.summary()
            for i, d in enumerate(self.donors)
        ]
        return out

    def iter_json(
        self, explain: int | None = DEFAULT_EXPLAIN, detail: bool = True
    ) -> Iterator[str]:
        """The ranking as JSON text, one donor at a time (memory does not grow with the list).

        Parameters
        ----------
        explain : int, optional
            Full explanations for the first ``explain`` donors (default
            :data:`DEFAULT_EXPLAIN`), a summary for the others; None = all.
        detail : bool
            Add the antigen-level comparison to explained donors.

        Yields
        ------
        str
            Pieces of one JSON document (compact, one donor per line).
        """
        head = json.dumps(self._head(explain), ensure_ascii=False, indent=1)
        yield head[:-2] + ',\n "donors": [\n'
        for i, d in enumerate(self.donors):
            obj = d.to_dict(detail) if explain is None or i < explain else d.summary()
            sep = ",\n" if i < len(self.donors) - 1 else "\n"
            yield json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + sep
        yield "]}\n"


def _explain_pairs(ordered: list[DonorAssessment], prefs: tuple[str, ...]) -> None:
    for cur, nxt in pairwise(ordered):
        if cur.excluded != nxt.excluded:
            cur.decided_by = f"above {nxt.donor_id}: {nxt.donor_id} is excluded"
            continue
        if cur.excluded and len(cur.exclusions) != len(nxt.exclusions):
            cur.decided_by = f"above {nxt.donor_id}: fewer exclusions"
            continue
        for i, (x, y) in enumerate(zip(cur.key, nxt.key, strict=True)):
            if x != y:
                cur.decided_by = f"above {nxt.donor_id} by {prefs[i]}"
                break
        else:
            cur.decided_by = f"tied with {nxt.donor_id} on every criterion; input order kept"


def rank_case(case: DonorCase) -> Ranking:
    """Rank the donors of a case.

    Parameters
    ----------
    case : DonorCase
        Loaded with :func:`mst.donors.case.load_case`.

    Returns
    -------
    Ranking
        Eligible donors first (rank 1, 2, …; equal keys share a rank and are
        listed in input order), then excluded donors (rank None), each with
        reasons and the criterion that placed it above the next donor.
    """
    s = case.settings
    assessed = []
    for i, cand in enumerate(case.donors):
        try:
            a = assess(case.recipient, case.antibodies, cand, s)
        except ValidationError as exc:  # e.g. a typing beyond the comparison caps
            raise ValidationError(
                f"donors[{i}].{exc.field}", exc.value, f"donor {cand.donor.id}: {exc.rule}"
            ) from None
        a.input_index = i
        assessed.append(a)
    ordered = sorted(assessed, key=lambda a: (a.excluded, len(a.exclusions), a.key, a.input_index))
    groups: dict[tuple[int, ...], list[DonorAssessment]] = {}
    rank = 0
    prev: tuple[int, ...] | None = None
    for pos, a in enumerate(ordered, start=1):
        if a.excluded:
            continue
        if a.key != prev:
            rank = pos
            prev = a.key
        a.rank = rank
        groups.setdefault(a.key, []).append(a)
    for members in groups.values():
        if len(members) > 1:
            for a in members:
                a.tie_group = members
    _explain_pairs(ordered, s.preferences)
    return Ranking(case.patient_id, s, ordered)
