"""HLA mismatch counting: per locus, by direction, at allele (2-field) or antigen level.

Conventions (documented in ``docs/donors.md``):

- Each locus has two *slots* (the two chromosomes). **GvH** mismatches are
  recipient slots whose allele the donor lacks (targets for donor T cells);
  **HvG** mismatches are donor slots whose allele the recipient lacks
  (targets for rejection). **Bidirectional** = max(GvH, HvG) per locus, so a
  locus counts 0–2 and the 6 loci A, B, C, DRB1, DQB1, DPB1 give x/12
  (x/10 without DPB1).
- Allele level compares the first two fields (the protein); antigen level
  compares WHO serological equivalents (``rel_dna_ser.txt``).
- Null alleles (suffix N) encode no protein: a null slot is never a
  mismatch in either direction (its partner slot decides).
- Ambiguity is kept: allele lists (``/``), genotype lists (``|``), G/P groups
  and low-resolution names give a *range* (min–max) over every resolution.
  A count is exact when min == max.
- A donor homozygous at a locus for an allele the recipient also carries
  gives a one-way GvH mismatch (GvH > 0, HvG = 0): the
  "homozygous shared locus" flag (seed 004 §2.1, avoid: GVHD risk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from typing import Literal

from mst.donors.nomenclature import Allele, HlaTyping, LocusTyping, parse_gl
from mst.donors.reference import imgt_release, imgt_tables
from mst.errors import ValidationError

Level = Literal["allele", "antigen"]
LEVELS: tuple[Level, ...] = ("allele", "antigen")

#: The 10/10 loci and the 12/12 loci (issue 6; seed 002 "Patients and donors").
LOCI_10: tuple[str, ...] = ("A", "B", "C", "DRB1", "DQB1")
LOCI_12: tuple[str, ...] = ("A", "B", "C", "DRB1", "DQB1", "DPB1")
MAX_RESOLUTIONS = 20000

# A concrete key: (exact, family, expressed). exact None = unknown within family;
# family None (antigen level) = nothing known.
Key = tuple[str | None, str | None, bool]


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
def _allele_keys(allele: Allele) -> frozenset[Key]:
    if allele.group:
        members = imgt_tables().groups[allele.name]
        keys: set[Key] = set()
        for m in members:
            fields = m.split("*", 1)[1].rstrip("NLSCAQ").split(":")
            keys.add((f"{allele.locus}*{fields[0]}:{fields[1]}", fields[0], not m.endswith("N")))
        return frozenset(keys)
    f = allele.fields
    if len(f) >= 2:
        return frozenset({(f"{allele.locus}*{f[0]}:{f[1]}", f[0], allele.expressed)})
    return frozenset({(None, f[0], allele.expressed)})


@lru_cache(maxsize=65536)
def _antigen_keys(allele: Allele) -> frozenset[Key]:
    serology = imgt_tables().serology
    out: set[Key] = set()
    for exact, family, expressed in _allele_keys(allele):
        if not expressed:
            out.add((None, None, False))
            continue
        name = exact if exact is not None else f"{allele.locus}*{family}"
        out.add((serology.get(name), None, True))
    return frozenset(out)


@lru_cache(maxsize=65536)
def locus_sides(
    typing: LocusTyping, level: Level
) -> tuple[tuple[frozenset[Key], frozenset[Key]], ...]:
    """Per possible genotype, the candidate keys of each chromosome at ``level``."""
    keyfun = _allele_keys if level == "allele" else _antigen_keys
    out = []
    for side1, side2 in typing.genotypes:
        k1 = frozenset().union(*(keyfun(a) for a in side1))
        k2 = frozenset().union(*(keyfun(a) for a in side2))
        out.append((k1, k2))
    return tuple(out)


def _expand(
    sides: tuple[tuple[frozenset[Key], frozenset[Key]], ...], locus: str
) -> tuple[tuple[Key, Key], ...]:
    total = sum(len(k1) * len(k2) for k1, k2 in sides)
    if total > MAX_RESOLUTIONS:
        raise ValidationError(
            "hla_typing",
            locus,
            f"more than {MAX_RESOLUTIONS} possible genotypes at this locus; narrow the typing",
        )
    seen: set[frozenset[Key] | tuple[Key, Key]] = set()
    out: list[tuple[Key, Key]] = []
    for k1, k2 in sides:
        for a, b in product(sorted(k1, key=repr), sorted(k2, key=repr)):
            tag = (a, b) if a == b else frozenset((a, b))
            if tag not in seen:
                seen.add(tag)
                out.append((a, b))
    return tuple(out)


@lru_cache(maxsize=65536)
def locus_options(typing: LocusTyping, level: Level) -> tuple[tuple[Key, Key], ...]:
    """Every concrete two-slot resolution of one locus typing at ``level``.

    Parameters
    ----------
    typing : LocusTyping
        One locus of a parsed typing.
    level : {"allele", "antigen"}
        Comparison level.

    Returns
    -------
    tuple of (Key, Key)
        Distinct resolutions (order of the two slots irrelevant).

    Raises
    ------
    mst.errors.ValidationError
        When the ambiguity has more than :data:`MAX_RESOLUTIONS` resolutions.
    """
    return _expand(locus_sides(typing, level), typing.locus)


def _collapse(
    sides: tuple[tuple[frozenset[Key], frozenset[Key]], ...],
    other: tuple[tuple[frozenset[Key], frozenset[Key]], ...],
    tag: str,
) -> tuple[tuple[frozenset[Key], frozenset[Key]], ...]:
    """Replace keys that cannot equal any key of ``other`` by one placeholder.

    Such keys all behave alike (always a mismatch, never shared), so counts
    and flags are unchanged while the number of resolutions drops.
    """
    pool = frozenset().union(*(k1 | k2 for k1, k2 in other))

    def simplify(keys: frozenset[Key]) -> frozenset[Key]:
        out: set[Key] = set()
        for k in keys:
            if any(_eq_possible(k, o) for o in pool):
                out.add(k)
            else:
                out.add((f"#{tag}", "#", k[2]))
        return frozenset(out)

    return tuple((simplify(k1), simplify(k2)) for k1, k2 in sides)


def _simple(sides: tuple[tuple[frozenset[Key], frozenset[Key]], ...]) -> tuple[Key, Key] | None:
    """The single resolution when a locus is unambiguous with exact keys, else None."""
    if len(sides) != 1:
        return None
    k1, k2 = sides[0]
    if len(k1) != 1 or len(k2) != 1:
        return None
    (a,), (b,) = k1, k2
    if a[0] is None or b[0] is None:
        return None
    return (a, b)


def _eq_definite(a: Key, b: Key) -> bool:
    return a[0] is not None and a[0] == b[0]


def _eq_possible(a: Key, b: Key) -> bool:
    if a[0] is not None and b[0] is not None:
        return a[0] == b[0]
    if a[1] is not None and b[1] is not None:
        return a[1] == b[1]
    return True


def _one_way(
    targets: tuple[Key, Key], effectors: tuple[Key, Key], eq: Callable[[Key, Key], bool]
) -> int:
    """Slots of ``targets`` (expressed) that no expressed slot of ``effectors`` equals."""
    present = [e for e in effectors if e[2]]
    return sum(1 for t in targets if t[2] and not any(eq(t, e) for e in present))


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
        Donor homozygous for an allele the recipient carries, recipient not
        homozygous for it (one-way GvH mismatch; seed 004 §2.1).
    recipient_homozygous_shared : {"yes", "possible", "no"}
        The mirror situation (one-way HvG mismatch).
    """

    locus: str
    gvh: Range
    hvg: Range
    bidirectional: Range
    donor_homozygous_shared: str
    recipient_homozygous_shared: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "locus": self.locus,
            "gvh": self.gvh.to_dict(),
            "hvg": self.hvg.to_dict(),
            "bidirectional": self.bidirectional.to_dict(),
            "donor_homozygous_shared": self.donor_homozygous_shared,
            "recipient_homozygous_shared": self.recipient_homozygous_shared,
        }


def _flag(values: list[bool]) -> str:
    if values and all(values):
        return "yes"
    return "possible" if any(values) else "no"


@lru_cache(maxsize=65536)
def compare_locus(
    recipient: LocusTyping, donor: LocusTyping, level: Level = "allele"
) -> LocusMismatch:
    """Compare one locus of recipient and donor.

    Parameters
    ----------
    recipient, donor : LocusTyping
        The same locus of both typings.
    level : {"allele", "antigen"}
        Comparison level.

    Returns
    -------
    LocusMismatch
        Counts by direction (ranges when ambiguous) and homozygosity flags.
    """
    if recipient.locus != donor.locus:
        raise ValidationError("locus", donor.locus, f"must equal recipient locus {recipient.locus}")
    r_sides, d_sides = locus_sides(recipient, level), locus_sides(donor, level)
    r_simple, d_simple = _simple(r_sides), _simple(d_sides)
    if r_simple is not None and d_simple is not None:
        # Fast path: one exact resolution on each side.
        r_set = {k[0] for k in r_simple if k[2]}
        d_set = {k[0] for k in d_simple if k[2]}
        g = sum(1 for k in r_simple if k[2] and k[0] not in d_set)
        h = sum(1 for k in d_simple if k[2] and k[0] not in r_set)
        d_hom = d_simple[0][2] and d_simple[1][2] and d_simple[0][0] == d_simple[1][0]
        r_hom = r_simple[0][2] and r_simple[1][2] and r_simple[0][0] == r_simple[1][0]
        return LocusMismatch(
            recipient.locus,
            Range(g, g),
            Range(h, h),
            Range(max(g, h), max(g, h)),
            "yes" if d_hom and h == 0 and g > 0 else "no",
            "yes" if r_hom and g == 0 and h > 0 else "no",
        )
    return _compare_general(r_sides, d_sides, recipient.locus)


def _compare_general(
    r_sides: tuple[tuple[frozenset[Key], frozenset[Key]], ...],
    d_sides: tuple[tuple[frozenset[Key], frozenset[Key]], ...],
    locus: str,
) -> LocusMismatch:
    """Min/max over every resolution (the path for ambiguous typings)."""
    r_opts = _expand(_collapse(r_sides, d_sides, "r"), locus)
    d_opts = _expand(_collapse(d_sides, r_sides, "d"), locus)
    gvh_lo = hvg_lo = bi_lo = 2
    gvh_hi = hvg_hi = bi_hi = 0
    d_flags: list[bool] = []
    r_flags: list[bool] = []
    for r, d in product(r_opts, d_opts):
        g_def = _one_way(r, d, _eq_definite)
        h_def = _one_way(d, r, _eq_definite)
        g_pos = _one_way(r, d, _eq_possible)
        h_pos = _one_way(d, r, _eq_possible)
        gvh_lo, gvh_hi = min(gvh_lo, g_pos), max(gvh_hi, g_def)
        hvg_lo, hvg_hi = min(hvg_lo, h_pos), max(hvg_hi, h_def)
        bi_lo, bi_hi = min(bi_lo, max(g_pos, h_pos)), max(bi_hi, max(g_def, h_def))
        d_hom = d[0][2] and d[1][2] and _eq_definite(d[0], d[1])
        r_hom = r[0][2] and r[1][2] and _eq_definite(r[0], r[1])
        d_flags.append(d_hom and h_def == 0 and g_def > 0)
        r_flags.append(r_hom and g_def == 0 and h_def > 0)
    return LocusMismatch(
        locus,
        Range(gvh_lo, gvh_hi),
        Range(hvg_lo, hvg_hi),
        Range(bi_lo, bi_hi),
        _flag(d_flags),
        _flag(r_flags),
    )


@dataclass(frozen=True, slots=True)
class MismatchReport:
    """Mismatches between a recipient and a donor typing at one level.

    Attributes
    ----------
    level : {"allele", "antigen"}
        Comparison level.
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
            "imgt_release": imgt_release(),
            "totals": totals,
            "loci": {k: v.to_dict() for k, v in self.loci.items()},
            "missing_loci": list(self.missing),
            "homozygous_shared_loci": list(self.homozygous_shared_loci),
        }


def compare(recipient: HlaTyping, donor: HlaTyping, level: Level = "allele") -> MismatchReport:
    """Compare two parsed typings locus by locus.

    Parameters
    ----------
    recipient, donor : HlaTyping
        Parsed typings (:func:`mst.donors.nomenclature.parse_gl`).
    level : {"allele", "antigen"}
        Comparison level.

    Returns
    -------
    MismatchReport
        Per-locus results for every locus typed in both; the 12-allele loci
        missing in either are listed in ``missing``.
    """
    if level not in LEVELS:
        raise ValidationError("level", level, "must be 'allele' or 'antigen'")
    loci = {
        locus: compare_locus(recipient.loci[locus], donor.loci[locus], level)
        for locus in recipient.loci
        if locus in donor.loci
    }
    missing = tuple(k for k in LOCI_12 if k not in loci)
    return MismatchReport(level, loci, missing)


def hla_mismatch_counts(recipient_typing: str, donor_typing: str) -> dict[str, int]:
    """Bidirectional allele-level (2-field) mismatch counts for the flat analysis table.

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
    report = compare(r, d, "allele")
    out: dict[str, int] = {}
    for name, loci in (("x10", LOCI_10), ("x12", LOCI_12)):
        total = report.total("bidirectional", loci)
        assert total is not None
        if not total.exact:
            raise ValidationError(
                "hla_typing",
                f"{recipient_typing} | {donor_typing}",
                f"ambiguous typing: {name} mismatch count is {total.lo} to {total.hi}",
            )
        out[name] = total.lo
    return out
