"""Virtual crossmatch: recipient anti-HLA antibodies against a donor typing (004 §2.1).

Antibody specificities come from single-antigen-bead (SAB) assays, as

- an allele (``"A*02:01"``, ``"DQB1*06:02"``), matched at ARD level (a donor
  protein in the same P group carries the same antigen-recognition domain);
- a heterodimer written with a comma (``"DQA1*05:01,DQB1*02:01"``), matched
  when the donor carries every chain;
- a WHO serological antigen (``"A2"``, ``"B44"``, ``"Cw7"`` or ``"C7"``,
  ``"DR15"``, ``"DR51"``–``"DR53"``, ``"DQ6"``), matched against the donor
  alleles' serological equivalents (``rel_dna_ser.txt``); a broad antigen
  (``"A9"``) also matches its splits (``rel_ser_ser.txt``).

An antibody is *positive* at MFI ≥ ``positive_mfi`` and *high risk* at MFI ≥
``high_risk_mfi`` (defaults 1,000 and 5,000, ``selection_rules.yaml``).
A match is *definite* when every resolution of an ambiguous donor typing
carries the target, *possible* when some do. Low resolution is ambiguity like
any other: a donor typed ``A*24`` may be ``A*24:02``, so an anti-``A*24:02``
antibody is a *possible* DSA (every protein the name may be is checked).
Antibodies against a locus the donor was not typed for are listed as *untested*.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mst.donors.ard import ard_key, protein_antigen
from mst.donors.mismatch import locus_sides
from mst.donors.nomenclature import HlaTyping, LocusTyping, parse_allele
from mst.donors.reference import imgt_tables
from mst.errors import ValidationError

_ANTIGEN_RE = re.compile(r"^(A|B|Cw|C|DR|DQ)(\d{1,4})$")
DSA_SOURCE = "004 §2.1; thresholds: selection_rules.yaml (Ciurea SO et al., BMT 2018;53:521)"


@dataclass(frozen=True, slots=True)
class Antibody:
    """One recipient anti-HLA antibody.

    Attributes
    ----------
    specificity : str
        As given.
    mfi : float
        Mean fluorescence intensity.
    targets : tuple of (locus, kind, value)
        kind ``"allele"`` (value a 2-field name) or ``"antigen"`` (a set of antigen names).
    """

    specificity: str
    mfi: float
    targets: tuple[tuple[str, str, frozenset[str]], ...]


def _antigen_target(spec: str) -> tuple[str, str, frozenset[str]]:
    m = _ANTIGEN_RE.match(spec)
    if m is None:
        raise ValidationError(
            "antibody.specificity",
            spec,
            "must be an allele (A*02:01), a heterodimer (DQA1*05:01,DQB1*02:01) or a"
            " serological antigen (A2, B44, Cw7, DR15, DR51-53, DQ6)",
        )
    prefix, number = m.group(1), m.group(2)
    if prefix in ("C", "Cw"):
        prefix = "Cw"
    name = f"{prefix}{number}"
    locus = {"A": "A", "B": "B", "Cw": "C", "DR": "DRB1", "DQ": "DQB1"}[prefix]
    if name in ("DR51", "DR52", "DR53"):
        locus = {"DR51": "DRB5", "DR52": "DRB3", "DR53": "DRB4"}[name]
    known = set(imgt_tables().serology.values()) | set(imgt_tables().splits)
    if name not in known:
        raise ValidationError("antibody.specificity", spec, "not a WHO serological antigen")
    names = {name}
    frontier = [name]
    while frontier:  # broad -> splits -> associated antigens (A9 -> A24 -> A2403)
        for child in imgt_tables().splits.get(frontier.pop(), ()):
            if child not in names:
                names.add(child)
                frontier.append(child)
    return (locus, "antigen", frozenset(names))


def parse_antibody(specificity: str, mfi: float) -> Antibody:
    """Validate one antibody result.

    Parameters
    ----------
    specificity : str
        See the module docstring.
    mfi : float
        Mean fluorescence intensity, ≥ 0.

    Returns
    -------
    Antibody
        Parsed antibody.

    Raises
    ------
    mst.errors.ValidationError
        Unknown specificity or invalid MFI.
    """
    if (
        isinstance(mfi, bool)
        or not isinstance(mfi, int | float)
        or not math.isfinite(mfi)
        or mfi < 0
    ):
        raise ValidationError("antibody.mfi", mfi, "must be a finite number ≥ 0")
    if not isinstance(specificity, str) or not specificity.strip():
        raise ValidationError("antibody.specificity", specificity, "must be a non-empty string")
    spec = specificity.strip()
    targets: list[tuple[str, str, frozenset[str]]] = []
    for part in (p.strip() for p in spec.split(",")):
        if "*" in part:
            try:
                allele = parse_allele(part)
            except ValidationError as exc:
                raise ValidationError("antibody.specificity", part, exc.rule) from None
            if len(allele.fields) < 2 or allele.group or allele.fields == ("NNNN",):
                raise ValidationError(
                    "antibody.specificity", part, "an allele specificity needs 2 fields (A*02:01)"
                )
            two = f"{allele.locus}*{allele.fields[0]}:{allele.fields[1]}"
            targets.append((allele.locus, "allele", frozenset({ard_key(two)})))
        else:
            targets.append(_antigen_target(part))
    return Antibody(spec, float(mfi), tuple(targets))


def _hit(protein: str | None, kind: str, values: frozenset[str]) -> bool | None:
    """Does one donor protein carry the target? None = unknown (no serological equivalent)."""
    if protein is None:
        return False
    if kind == "allele":
        return ard_key(protein) in values
    antigen = protein_antigen(protein)
    return None if antigen is None else antigen in values


def _target_present(donor: HlaTyping, target: tuple[str, str, frozenset[str]]) -> str:
    """'yes', 'possible', 'no' or 'untested' for one target on the donor."""
    locus = target[0]
    if locus not in donor:
        return "untested"
    return _locus_target(donor[locus], target)


@lru_cache(maxsize=65536)
def _locus_target(lt: LocusTyping, target: tuple[str, str, frozenset[str]]) -> str:
    """Set-based: a genotype certainly carries the target when every protein one of its
    chromosomes may be carries it; possibly when any protein does (or is unknown)."""
    _locus, kind, values = target
    every_yes, any_maybe = True, False
    for s1, s2 in locus_sides(lt, "protein"):
        sure = False
        for side in (s1, s2):
            hits = [_hit(p, kind, values) for p in side]
            sure = sure or all(h is True for h in hits)
            any_maybe = any_maybe or any(h is not False for h in hits)
        every_yes = every_yes and sure
    if every_yes:
        return "yes"
    return "possible" if any_maybe else "no"


@dataclass(frozen=True, slots=True)
class CrossmatchResult:
    """Virtual crossmatch of one donor.

    Attributes
    ----------
    status : {"negative", "positive", "high_risk"}
        From definite matches only.
    possible_status : {"negative", "positive", "high_risk"}
        Including possible matches (ambiguous donor typing).
    matches : list of dict
        Each matching antibody: specificity, MFI, grade, certainty.
    untested : list of str
        Antibodies against loci the donor was not typed for.
    positive_mfi, high_risk_mfi : float
        Thresholds used.
    """

    status: str
    possible_status: str
    matches: list[dict[str, Any]] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)
    positive_mfi: float = 1000.0
    high_risk_mfi: float = 5000.0
    source: str = DSA_SOURCE

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "status": self.status,
            "possible_status": self.possible_status,
            "matches": self.matches,
            "untested": self.untested,
            "positive_mfi": self.positive_mfi,
            "high_risk_mfi": self.high_risk_mfi,
            "source": self.source,
        }


def grade_mfi(mfi: float, positive_mfi: float = 1000.0, high_risk_mfi: float = 5000.0) -> str:
    """Grade one MFI: ``"negative"`` (< positive), ``"positive"``, ``"high_risk"`` (≥ high risk)."""
    if mfi >= high_risk_mfi:
        return "high_risk"
    return "positive" if mfi >= positive_mfi else "negative"


_ORDER = {"negative": 0, "positive": 1, "high_risk": 2}


def check_thresholds(positive_mfi: float, high_risk_mfi: float) -> None:
    """Raise ValidationError unless 0 < positive_mfi ≤ high_risk_mfi (finite)."""
    for name, v in (("dsa.positive_mfi", positive_mfi), ("dsa.high_risk_mfi", high_risk_mfi)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise ValidationError(name, v, "must be a finite number > 0")
    if high_risk_mfi < positive_mfi:
        raise ValidationError("dsa.high_risk_mfi", high_risk_mfi, "must be ≥ positive_mfi")


def virtual_crossmatch(
    antibodies: list[Antibody] | tuple[Antibody, ...],
    donor: HlaTyping,
    positive_mfi: float = 1000.0,
    high_risk_mfi: float = 5000.0,
) -> CrossmatchResult:
    """Check the recipient's antibodies against one donor typing.

    Parameters
    ----------
    antibodies : sequence of Antibody
        Recipient SAB results (:func:`parse_antibody`).
    donor : HlaTyping
        Donor typing.
    positive_mfi, high_risk_mfi : float
        Thresholds (MFI ≥ threshold counts).

    Returns
    -------
    CrossmatchResult
        Status and the matching antibodies.
    """
    check_thresholds(positive_mfi, high_risk_mfi)
    status = possible = "negative"
    matches: list[dict[str, Any]] = []
    untested: list[str] = []
    for ab in antibodies:
        grade = grade_mfi(ab.mfi, positive_mfi, high_risk_mfi)
        states = [_target_present(donor, t) for t in ab.targets]
        if "no" in states:
            continue
        if "untested" in states:
            if grade != "negative":
                untested.append(ab.specificity)
            continue
        certainty = "definite" if all(s == "yes" for s in states) else "possible"
        if grade == "negative":
            continue
        matches.append(
            {"specificity": ab.specificity, "mfi": ab.mfi, "grade": grade, "certainty": certainty}
        )
        if _ORDER[grade] > _ORDER[possible]:
            possible = grade
        if certainty == "definite" and _ORDER[grade] > _ORDER[status]:
            status = grade
    return CrossmatchResult(status, possible, matches, untested, positive_mfi, high_risk_mfi)
