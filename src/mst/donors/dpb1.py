"""HLA-DPB1 T-cell-epitope (TCE) permissiveness.

TCE groups come from the shipped table ``mst/data/donors/dpb1_tce_protein.csv``
(IPD-IMGT/HLA ``tce/dpb_tce.csv``, release 3.60.0, V2 assignment;
Crivello P et al., Blood 2016;128:120). The rule (Zino E et al., Blood
2004;103:1417; Fleischhauer K et al., Lancet Oncol 2012;13:366): each person's
most immunogenic TCE group is the lowest group number among their expressed
DPB1 alleles (1 > 2 > 3). A DPB1 mismatch is

- *permissive* when both have the same lowest group;
- *non-permissive GvH* when the recipient's lowest group is lower (more
  immunogenic) than the donor's — e.g. recipient groups 2+3, donor 3+3;
- *non-permissive HvG* when the donor's lowest group is lower.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from mst.donors.mismatch import compare_locus, locus_sides
from mst.donors.nomenclature import HlaTyping, LocusTyping

TCE_SOURCE = (
    "IPD-IMGT/HLA tce/dpb_tce.csv 3.60.0 (V2; Crivello P et al., Blood 2016;128:120);"
    " rule: Fleischhauer K et al., Lancet Oncol 2012;13:366"
)


@lru_cache(maxsize=1)
def tce_table() -> dict[str, int]:
    """2-field DPB1 protein (``"DPB1*04:01"``) → TCE group (V2: 1, 2 or 3)."""
    text = resources.files("mst.data").joinpath("donors/dpb1_tce_protein.csv").read_text("utf-8")
    return {row["protein"]: int(row["tce_v2"]) for row in csv.DictReader(text.splitlines())}


def tce_group(protein: str) -> int | None:
    """TCE group (1–3) of a 2-field DPB1 protein name, None if not in the table."""
    return tce_table().get(protein)


@dataclass(frozen=True, slots=True)
class TceResult:
    """DPB1 TCE permissiveness of one recipient–donor pair.

    Attributes
    ----------
    status : str
        ``"matched"``, ``"permissive"``, ``"non-permissive GvH"``,
        ``"non-permissive HvG"``, ``"ambiguous"`` (differs between typing
        resolutions) or ``"unknown"`` (DPB1 untyped or an allele not in the table).
    recipient_groups, donor_groups : tuple of int
        TCE groups of the expressed alleles (empty when unknown or ambiguous).
    source : str
        Table release and rule citation.
    """

    status: str
    recipient_groups: tuple[int, ...]
    donor_groups: tuple[int, ...]
    source: str = TCE_SOURCE

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "status": self.status,
            "recipient_groups": list(self.recipient_groups),
            "donor_groups": list(self.donor_groups),
            "source": self.source,
        }


def classify_groups(recipient_groups: tuple[int, ...], donor_groups: tuple[int, ...]) -> str:
    """Apply the TCE rule to two sets of groups (of a DPB1-mismatched pair).

    Parameters
    ----------
    recipient_groups, donor_groups : tuple of int
        TCE groups (1–3) of each person's expressed DPB1 alleles.

    Returns
    -------
    str
        ``"permissive"``, ``"non-permissive GvH"`` or ``"non-permissive HvG"``.
    """
    r, d = min(recipient_groups), min(donor_groups)
    if r == d:
        return "permissive"
    return "non-permissive GvH" if r < d else "non-permissive HvG"


def dpb1_permissiveness(recipient: HlaTyping, donor: HlaTyping) -> TceResult:
    """TCE permissiveness of the DPB1 mismatch between two typings.

    Parameters
    ----------
    recipient, donor : HlaTyping
        Parsed typings.

    Returns
    -------
    TceResult
        See :class:`TceResult`; every resolution of an ambiguous typing is
        classified and a single answer is given only when they agree.
    """
    if "DPB1" not in recipient or "DPB1" not in donor:
        return TceResult("unknown", (), ())
    return _tce(recipient["DPB1"], donor["DPB1"])


@lru_cache(maxsize=65536)
def _side_groups(side: frozenset[str | None]) -> frozenset[int | None]:
    """TCE groups a chromosome may carry; None = unknown protein; empty = null only."""
    return frozenset(tce_group(p) for p in side if p is not None)


@lru_cache(maxsize=65536)
def _tce(recipient: LocusTyping, donor: LocusTyping) -> TceResult:
    lm = compare_locus(recipient, donor, "ard")
    if lm.bidirectional.hi == 0:
        return TceResult("matched", (), ())
    statuses: set[str] = set()
    if lm.bidirectional.lo == 0:
        statuses.add("matched")
    lowest: list[set[int]] = []
    fixed: list[tuple[int, ...] | None] = []
    for lt in (recipient, donor):
        options: set[int] = set()
        sides = locus_sides(lt, "protein")
        for s1, s2 in sides:
            g1, g2 = _side_groups(s1), _side_groups(s2)
            if None in g1 or None in g2:
                return TceResult("unknown", (), ())
            # A null-only chromosome adds nothing; a person with no expressed DPB1: unknown.
            c1 = g1 | ({99} if None in s1 else set())
            c2 = g2 | ({99} if None in s2 else set())
            options |= {min(x, y) for x in c1 for y in c2}
        if 99 in options:
            return TceResult("unknown", (), ())
        lowest.append(options)
        single = len(sides) == 1 and all(len(_side_groups(s)) <= 1 for s in sides[0])
        fixed.append(
            tuple(sorted(g for s in sides[0] for g in _side_groups(s))) if single else None
        )
    for r in lowest[0]:
        for d in lowest[1]:
            statuses.add(classify_groups((r,), (d,)))
    if len(statuses) == 1:
        rg, dg = fixed
        return TceResult(statuses.pop(), rg or (), dg or ())
    return TceResult("ambiguous", (), ())
