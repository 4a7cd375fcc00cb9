"""HLA mismatch counting: per locus, by direction, at ARD or antigen level.

Conventions (documented in ``docs/donors.md``):

- Each locus has two *slots* (the two chromosomes). **GvH** mismatches are
  recipient slots whose protein the donor lacks (targets for donor T cells);
  **HvG** mismatches are donor slots whose protein the recipient lacks
  (targets for rejection). **Bidirectional** = max(GvH, HvG) per locus, so a
  locus counts 0–2 and the 6 loci A, B, C, DRB1, DQB1, DPB1 give x/12
  (x/10 without DPB1).
- **ARD level** (default; NMDP/WMDA convention, py-ard ``lgx``): both sides
  are reduced to antigen-recognition-domain groups (:mod:`mst.donors.ard`),
  so ``A*01:01:01G`` = ``A*01:01`` and ``A*02:09`` = ``A*02:01``.
  **Antigen level** compares WHO serological equivalents (``rel_dna_ser.txt``).
- Null alleles (from the allele list, not only the ``N`` suffix) and absent
  DRB3/4/5 copies express nothing: a null slot is never a mismatch, and a
  null beside an expressed allele makes the person functionally homozygous.
- Ambiguity is kept: allele lists (``/``), genotype lists (``|``), G/P groups
  and low-resolution names give a *range* (min–max) over every resolution.
- Work is linear in the sizes of the allele lists: each slot is a *set* of
  keys and the result depends only on how the four sets of a locus overlap
  (the sizes of their Venn regions, capped at 4), never on pairs of alleles.
- A donor (functionally) homozygous at a locus for a protein the recipient
  also carries gives a one-way GvH mismatch (GvH > 0, HvG = 0): the
  "homozygous shared locus" flag (004 §2.1: avoiding such donors is suggested).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from mst.donors.ard import ard_key, name_proteins, protein_antigen
from mst.donors.nomenclature import Allele, HlaTyping, LocusTyping, parse_gl
from mst.donors.reference import imgt_release
from mst.errors import ValidationError

Level = Literal["ard", "antigen"]
LEVELS: tuple[Level, ...] = ("ard", "antigen")
LEVEL_TEXT: dict[str, str] = {
    "ard": "ARD (antigen recognition domain: P group, py-ard lgx; IPD-IMGT/HLA hla_nom_p.txt)",
    "antigen": "WHO serological antigen (rel_dna_ser.txt)",
    "protein": "2-field protein",
}

#: The 10/10 loci and the 12/12 loci (issue 6; seed 002 "Patients and donors").
LOCI_10: tuple[str, ...] = ("A", "B", "C", "DRB1", "DQB1")
LOCI_12: tuple[str, ...] = ("A", "B", "C", "DRB1", "DQB1", "DPB1")

#: Most recipient × donor genotype combinations compared at one locus (genotype lists, "|").
MAX_GENOTYPE_PAIRS = 4096
#: Most set members visited at one locus (Σ over genotype pairs of the four slot sizes):
#: keeps every comparison within about a tenth of a second.
MAX_LOCUS_WORK = 400_000

Key = str | None
"""A comparison key (ARD group, antigen or protein); None = nothing expressed."""
Side = frozenset[Key]

#: Work counter: set members visited by the comparison (read by the linearity test).
WORK: list[int] = [0]


@dataclass(frozen=True, slots=True)
class Range:
    """A count that may be uncertain because of typing ambiguity.

    Attributes
    ----------
    lo, hi : int
        Smallest and largest count over every resolution of the ambiguity.
    """

    lo: int
    hi: int

    @property
    def exact(self) -> bool:
        """True when ambiguity does not change the count."""
        return self.lo == self.hi

    @property
    def value(self) -> int | None:
        """The count when exact, else None."""
        return self.lo if self.lo == self.hi else None

    def __add__(self, other: Range) -> Range:
        return Range(self.lo + other.lo, self.hi + other.hi)

    def __str__(self) -> str:
        return str(self.lo) if self.exact else f"{self.lo}–{self.hi}"

    def to_dict(self) -> dict[str, int | None]:
        """JSON-ready form: ``{"value", "min", "max"}``."""
        return {"value": self.value, "min": self.lo, "max": self.hi}


@lru_cache(maxsize=65536)
def allele_proteins(allele: Allele) -> frozenset[Key]:
    """Expressed 2-field proteins a typed name may be, or ``{None}`` (null / absent copy)."""
    return name_proteins(allele.locus, allele.fields, allele.suffix, allele.group)


def _antigen(protein: str) -> str:
    # A protein without a serological equivalent compares as itself (never equal to
    # another protein's antigen); see docs/donors.md.
    return protein_antigen(protein) or f"{protein} (no antigen)"


@lru_cache(maxsize=65536)
def allele_keys(allele: Allele, level: str) -> frozenset[Key]:
    """Keys of one typed name at ``level`` (``"ard"``, ``"antigen"`` or ``"protein"``)."""
    proteins = allele_proteins(allele)
    if level == "protein":
        return proteins
    fun = ard_key if level == "ard" else _antigen
    return frozenset(None if p is None else fun(p) for p in proteins)


def _side_keys(side: tuple[Allele, ...], level: str) -> Side:
    if len(side) == 1:
        return allele_keys(side[0], level)
    return frozenset().union(*(allele_keys(a, level) for a in side))


@lru_cache(maxsize=65536)
def locus_sides(typing: LocusTyping, level: str) -> tuple[tuple[Side, Side], ...]:
    """Per distinct possible genotype, the key sets of the two chromosomes at ``level``."""
    out: list[tuple[Side, Side]] = []
    seen: set[frozenset[Side]] = set()
    for side1, side2 in typing.genotypes:
        k1, k2 = _side_keys(side1, level), _side_keys(side2, level)
        if len(typing.genotypes) == 1:
            return ((k1, k2),)
        tag = frozenset((k1, k2))
        if tag not in seen:
            seen.add(tag)
            out.append((k1, k2))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Summary:
    """Min/max counts and flag any/all over a set of resolutions."""

    g: tuple[int, int]
    h: tuple[int, int]
    b: tuple[int, int]
    dflag: tuple[bool, bool]  # (any, all)
    rflag: tuple[bool, bool]
    share: tuple[bool, bool]

    def merge(self, o: _Summary) -> _Summary:
        def mm(x: tuple[int, int], y: tuple[int, int]) -> tuple[int, int]:
            return (min(x[0], y[0]), max(x[1], y[1]))

        def aa(x: tuple[bool, bool], y: tuple[bool, bool]) -> tuple[bool, bool]:
            return (x[0] or y[0], x[1] and y[1])

        return _Summary(
            mm(self.g, o.g),
            mm(self.h, o.h),
            mm(self.b, o.b),
            aa(self.dflag, o.dflag),
            aa(self.rflag, o.rflag),
            aa(self.share, o.share),
        )


_POP = [bin(m).count("1") for m in range(16)]


def _functionally_homozygous(vals: tuple[object, object]) -> bool:
    expressed = [v for v in vals if v is not None]
    return bool(expressed) and len(set(expressed)) == 1


@lru_cache(maxsize=4096)
def _enumerate(sizes: tuple[int, ...], nulls: int) -> _Summary:
    """Every distinct equality pattern of the four slots (r1, r2, d1, d2).

    ``sizes[m - 1]`` is the number of distinct keys (capped at the number of
    slots in ``m``) present in exactly the slots of bit mask ``m``; bit ``i`` of
    ``nulls`` says that slot ``i`` may express nothing. A value is identified
    by (mask, index), so only which slots *can* share it matters.
    """
    outcomes: set[tuple[int, int, bool, bool, bool]] = set()
    vals: list[tuple[int, int] | None] = []
    used = [0] * 16

    def leaf() -> None:
        r, d = (vals[0], vals[1]), (vals[2], vals[3])
        g = sum(1 for x in r if x is not None and x not in d)
        h = sum(1 for x in d if x is not None and x not in r)
        outcomes.add(
            (
                g,
                h,
                _functionally_homozygous(d) and h == 0 and g > 0,
                _functionally_homozygous(r) and g == 0 and h > 0,
                any(x is not None and x in d for x in r),
            )
        )

    def rec(i: int) -> None:
        if i == 4:
            leaf()
            return
        bit = 1 << i
        if nulls & bit:
            vals.append(None)
            rec(i + 1)
            vals.pop()
        for v in dict.fromkeys(v for v in vals if v is not None):
            if v[0] & bit:
                vals.append(v)
                rec(i + 1)
                vals.pop()
        for m in range(1, 16):
            if m & bit and used[m] < sizes[m - 1]:
                vals.append((m, used[m]))
                used[m] += 1
                rec(i + 1)
                used[m] -= 1
                vals.pop()

    rec(0)
    if not outcomes:  # pragma: no cover - every slot has at least one key
        raise ValueError("empty slot")
    gs = [o[0] for o in outcomes]
    hs = [o[1] for o in outcomes]
    bs = [max(o[0], o[1]) for o in outcomes]

    def anyall(i: int) -> tuple[bool, bool]:
        flags = [o[i] for o in outcomes]
        return (any(flags), all(flags))

    return _Summary(
        (min(gs), max(gs)), (min(hs), max(hs)), (min(bs), max(bs)), anyall(2), anyall(3), anyall(4)
    )


def _pair(r1: Side, r2: Side, d1: Side, d2: Side) -> _Summary:
    """Exact min/max over every resolution of one recipient and one donor genotype."""
    masks: dict[str, int] = {}
    nulls = 0
    for i, s in enumerate((r1, r2, d1, d2)):
        WORK[0] += len(s)
        bit = 1 << i
        for k in s:
            if k is None:
                nulls |= bit
            else:
                masks[k] = masks.get(k, 0) | bit
    counts = [0] * 16
    for m in masks.values():
        counts[m] += 1
    sizes = tuple(min(counts[m], _POP[m]) for m in range(1, 16))
    return _enumerate(sizes, nulls)


@dataclass(frozen=True, slots=True)
class LocusMismatch:
    """Mismatches at one locus.

    Attributes
    ----------
    locus : str
        Locus name.
    gvh, hvg, bidirectional : Range
        Mismatch counts (0–2) in each direction.
    donor_homozygous_shared : {"yes", "possible", "no"}
        Donor (functionally) homozygous for a protein the recipient carries, with
        no HvG mismatch (one-way GvH mismatch; 004 §2.1).
    recipient_homozygous_shared : {"yes", "possible", "no"}
        The mirror situation (one-way HvG mismatch).
    shares_protein : {"yes", "possible", "no"}
        Recipient and donor share an expressed key (haploidentity check).
    """

    locus: str
    gvh: Range
    hvg: Range
    bidirectional: Range
    donor_homozygous_shared: str
    recipient_homozygous_shared: str
    shares_protein: str = "no"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "locus": self.locus,
            "gvh": self.gvh.to_dict(),
            "hvg": self.hvg.to_dict(),
            "bidirectional": self.bidirectional.to_dict(),
            "donor_homozygous_shared": self.donor_homozygous_shared,
            "recipient_homozygous_shared": self.recipient_homozygous_shared,
            "shares_protein": self.shares_protein,
        }


def _flag(anyall: tuple[bool, bool]) -> str:
    if anyall[1]:
        return "yes"
    return "possible" if anyall[0] else "no"


def _one_expressed(x: Key, y: Key) -> bool:
    return (x is not None or y is not None) and (x == y or x is None or y is None)


def _slot_counts(r1: Key, r2: Key, d1: Key, d2: Key) -> tuple[int, int]:
    """GvH and HvG mismatches of one exact key per slot (None = nothing expressed)."""
    g = (r1 is not None and r1 != d1 and r1 != d2) + (r2 is not None and r2 != d1 and r2 != d2)
    h = (d1 is not None and d1 != r1 and d1 != r2) + (d2 is not None and d2 != r1 and d2 != r2)
    return g, h


@lru_cache(maxsize=65536)
def _exact_keys(typing: LocusTyping) -> tuple[Key, Key] | None:
    """The one ARD key of each slot of an unambiguous locus typing, else None."""
    sides = locus_sides(typing, "ard")
    if len(sides) != 1 or len(sides[0][0]) != 1 or len(sides[0][1]) != 1:
        return None
    (k1,), (k2,) = sides[0]
    return k1, k2


def _exact(r: tuple[Side, Side], d: tuple[Side, Side], locus: str) -> LocusMismatch | None:
    """Fast path for one exact key per slot (the usual high-resolution typing), else None."""
    if len(r[0]) != 1 or len(r[1]) != 1 or len(d[0]) != 1 or len(d[1]) != 1:
        return None
    (r1,), (r2,), (d1,), (d2,) = r[0], r[1], d[0], d[1]
    g, h = _slot_counts(r1, r2, d1, d2)
    # (functionally) homozygous: one expressed protein, twice or beside a null
    d_hom = h == 0 and g > 0 and _one_expressed(d1, d2)
    r_hom = g == 0 and h > 0 and _one_expressed(r1, r2)
    share = (r1 is not None and r1 in (d1, d2)) or (r2 is not None and r2 in (d1, d2))
    b = max(g, h)
    return LocusMismatch(
        locus,
        Range(g, g),
        Range(h, h),
        Range(b, b),
        "yes" if d_hom else "no",
        "yes" if r_hom else "no",
        "yes" if share else "no",
    )


@lru_cache(maxsize=65536)
def compare_locus(recipient: LocusTyping, donor: LocusTyping, level: str = "ard") -> LocusMismatch:
    """Compare one locus of recipient and donor.

    Parameters
    ----------
    recipient, donor : LocusTyping
        The same locus of both typings.
    level : {"ard", "antigen"}
        Comparison level (``"protein"``, 2-field, for internal use).

    Returns
    -------
    LocusMismatch
        Counts by direction (ranges when ambiguous) and homozygosity flags.

    Raises
    ------
    mst.errors.ValidationError
        When genotype lists give more than :data:`MAX_GENOTYPE_PAIRS` combinations.
    """
    if recipient.locus != donor.locus:
        raise ValidationError("locus", donor.locus, f"must equal recipient locus {recipient.locus}")
    r_sides, d_sides = locus_sides(recipient, level), locus_sides(donor, level)
    if len(r_sides) * len(d_sides) > MAX_GENOTYPE_PAIRS:
        raise ValidationError(
            "hla_typing",
            recipient.locus,
            f"{len(r_sides)} recipient × {len(d_sides)} donor genotypes at this locus"
            f" (more than {MAX_GENOTYPE_PAIRS:,} combinations); narrow the genotype list",
        )
    if len(r_sides) == 1 and len(d_sides) == 1:
        fast = _exact(r_sides[0], d_sides[0], recipient.locus)
        if fast is not None:
            return fast
    r_size = sum(len(a) + len(b) for a, b in r_sides)
    d_size = sum(len(a) + len(b) for a, b in d_sides)
    work = r_size * len(d_sides) + d_size * len(r_sides)
    if work > MAX_LOCUS_WORK:
        raise ValidationError(
            "hla_typing",
            recipient.locus,
            f"too ambiguous to compare at this locus ({len(r_sides)} recipient × {len(d_sides)}"
            f" donor genotypes over {r_size + d_size:,} possible proteins); narrow the typing",
        )
    total: _Summary | None = None
    for r1, r2 in r_sides:
        for d1, d2 in d_sides:
            s = _pair(r1, r2, d1, d2)
            total = s if total is None else total.merge(s)
    assert total is not None
    return LocusMismatch(
        recipient.locus,
        Range(*total.g),
        Range(*total.h),
        Range(*total.b),
        _flag(total.dflag),
        _flag(total.rflag),
        _flag(total.share),
    )


@dataclass(frozen=True, slots=True)
class MismatchReport:
    """Mismatches between a recipient and a donor typing at one level.

    Attributes
    ----------
    level : {"ard", "antigen"}
        Comparison level (named in :meth:`to_dict` with its definition).
    loci : dict
        Locus → :class:`LocusMismatch` for every locus typed in both.
    missing : tuple of str
        12-allele loci absent from either typing.
    """

    level: str
    loci: dict[str, LocusMismatch]
    missing: tuple[str, ...]

    def total(self, direction: str, loci: tuple[str, ...] = LOCI_12) -> Range | None:
        """Sum of ``direction`` (``"gvh"``, ``"hvg"``, ``"bidirectional"``) over ``loci``.

        Returns None if any of ``loci`` is not typed in both.
        """
        if any(locus not in self.loci for locus in loci):
            return None
        total = Range(0, 0)
        for locus in loci:
            total = total + getattr(self.loci[locus], direction)
        return total

    @property
    def homozygous_shared_loci(self) -> tuple[str, ...]:
        """Loci where the donor is (or may be) homozygous for a shared allele."""
        return tuple(k for k, v in self.loci.items() if v.donor_homozygous_shared != "no")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form with totals x10 and x12 per direction."""
        totals: dict[str, object] = {}
        for name, loci in (("x10", LOCI_10), ("x12", LOCI_12)):
            totals[name] = {
                d: (t.to_dict() if (t := self.total(d, loci)) is not None else None)
                for d in ("gvh", "hvg", "bidirectional")
            }
        return {
            "level": self.level,
            "level_definition": LEVEL_TEXT[self.level],
            "imgt_release": imgt_release(),
            "totals": totals,
            "loci": {k: v.to_dict() for k, v in self.loci.items()},
            "missing_loci": list(self.missing),
            "homozygous_shared_loci": list(self.homozygous_shared_loci),
        }


def compare(recipient: HlaTyping, donor: HlaTyping, level: Level = "ard") -> MismatchReport:
    """Compare two parsed typings locus by locus.

    Parameters
    ----------
    recipient, donor : HlaTyping
        Parsed typings (:func:`mst.donors.nomenclature.parse_gl`).
    level : {"ard", "antigen"}
        Comparison level: ``"ard"`` (default) reduces both sides to
        antigen-recognition-domain groups (P groups, py-ard ``lgx``).

    Returns
    -------
    MismatchReport
        Per-locus results for every locus typed in both; the 12-allele loci
        missing in either are listed in ``missing``.
    """
    if level not in LEVELS:
        raise ValidationError("level", level, "must be 'ard' or 'antigen'")
    loci = {
        locus: compare_locus(recipient.loci[locus], donor.loci[locus], level)
        for locus in recipient.loci
        if locus in donor.loci
    }
    missing = tuple(k for k in LOCI_12 if k not in loci)
    return MismatchReport(level, loci, missing)


def hla_mismatch_counts(recipient_typing: str, donor_typing: str) -> dict[str, int]:
    """Bidirectional ARD-level mismatch counts for the flat analysis table.

    Parameters
    ----------
    recipient_typing, donor_typing : str
        GL strings.

    Returns
    -------
    dict
        ``{"x10": n, "x12": m}``: sums over A, B, C, DRB1, DQB1 (x10) and
        also DPB1 (x12) of max(GvH, HvG) mismatches per locus (IPD-IMGT/HLA 3.58.0).

    Raises
    ------
    mst.errors.ValidationError
        If a locus is missing from either typing (naming it), a name is
        malformed, or the typing is so ambiguous that a count is not exact.
    """
    r = parse_gl(recipient_typing)
    d = parse_gl(donor_typing)
    for who, typing in (("recipient_typing", r), ("donor_typing", d)):
        for locus in LOCI_12:
            if locus not in typing:
                raise ValidationError(who, locus, f"locus {locus} is missing from the typing")
    # What compare(r, d, "ard").total("bidirectional", ...) gives, without the report
    # objects: every locus typed in both is compared (a comparison that cannot be made
    # raises, as there), and the 10 and 12 loci are summed.
    # An unambiguous locus is counted as compare_locus's exact path counts it.
    rl, dl = r.loci, d.loci
    per_locus: dict[str, tuple[int, int]] = {}
    for locus, rt in rl.items():
        dtp = dl.get(locus)
        if dtp is None:
            continue
        rk, dk = _exact_keys(rt), _exact_keys(dtp)
        if rk is not None and dk is not None:
            b = max(_slot_counts(rk[0], rk[1], dk[0], dk[1]))
            per_locus[locus] = (b, b)
        else:
            m = compare_locus(rt, dtp, "ard").bidirectional
            per_locus[locus] = (m.lo, m.hi)
    out: dict[str, int] = {}
    for name, loci in (("x10", LOCI_10), ("x12", LOCI_12)):
        lo = sum(per_locus[locus][0] for locus in loci)
        hi = sum(per_locus[locus][1] for locus in loci)
        if lo != hi:
            raise ValidationError(
                "hla_typing",
                f"{recipient_typing} | {donor_typing}",
                f"ambiguous typing: {name} mismatch count is {lo} to {hi}",
            )
        out[name] = lo
    return out
