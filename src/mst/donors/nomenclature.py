"""Parser for WHO HLA allele names and GL strings (ambiguity kept, never guessed).

Allele names
    ``[HLA-]LOCUS*F1[:F2[:F3[:F4]]][suffix][G|P]`` with LOCUS one of
    :data:`mst.donors.reference.LOCI`, fields of 2–4 digits, an optional
    expression suffix (N null, L low, S secreted, C cytoplasm, A aberrant,
    Q questionable) and optional G/P group designation
    (``A*01:01:01G``, ``A*01:01P``). The name must exist in the shipped
    IPD-IMGT/HLA release (as an allele, a truncation of one, or a G/P group).

GL strings (Milius RP et al., Hum Immunol 2013;74:1175)
    Operators from loosest to tightest: ``^`` (loci), ``|`` (genotype
    list), ``+`` (the two chromosomes), ``~`` (phased haplotype),
    ``/`` (allele list). Every locus needs two alleles joined by ``+``:
    a homozygous typing is written ``A*01:01+A*01:01``. DRB3, DRB4 and DRB5
    are present on some haplotypes only: one copy is written
    ``DRB4*01:01+DRB4*NNNN`` and absence ``DRB4*NNNN+DRB4*NNNN`` (WMDA).

Every rejection is a :class:`mst.errors.ValidationError` naming the offending
token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from mst.donors.reference import COPY_NUMBER_LOCI, LOCI, imgt_release, imgt_tables
from mst.errors import ValidationError

_ALLELE_RE = re.compile(
    r"^(?:HLA-)?(?P<locus>[A-Z]+[0-9]?)\*(?P<fields>\d{2,4}(?::\d{2,4}){0,3})"
    r"(?P<suffix>[NLSCAQ])?(?P<group>[GP])?$"
)
_ABSENT_RE = re.compile(r"^(?:HLA-)?(?P<locus>[A-Z]+[0-9]?)\*NNNN$")
_GL_CHARS = re.compile(r"^[A-Za-z0-9*:+/^~|\-]+$")
MAX_GL_LENGTH = 20000


@dataclass(frozen=True, slots=True)
class Allele:
    """One HLA allele name (or G/P group), as written in WHO nomenclature.

    Attributes
    ----------
    locus : str
        ``"A"``, ``"DRB1"`` …
    fields : tuple of str
        The 1 to 4 numeric fields, zero-padded as written.
    suffix : str
        Expression suffix (``"N"``, ``"L"``, ``"S"``, ``"C"``, ``"A"``, ``"Q"``) or ``""``.
    group : str
        ``"G"`` or ``"P"`` for a group designation, else ``""``.
    """

    locus: str
    fields: tuple[str, ...]
    suffix: str = ""
    group: str = ""

    @property
    def name(self) -> str:
        """Canonical name without the ``HLA-`` prefix."""
        return f"{self.locus}*{':'.join(self.fields)}{self.suffix}{self.group}"

    @property
    def expressed(self) -> bool:
        """False when the name expresses nothing: a null allele by the allele list of the
        release (``A*01:04`` is null although written without ``N``) or an absent
        DRB3/4/5 copy (``DRB4*NNNN``)."""
        from mst.donors.mismatch import allele_proteins

        return None not in allele_proteins(self)

    def __str__(self) -> str:
        return self.name


@lru_cache(maxsize=65536)
def parse_allele(token: str) -> Allele:
    """Parse and check one allele name.

    Parameters
    ----------
    token : str
        E.g. ``"HLA-A*02:01:01:01"``, ``"B*44:02:01:02S"``, ``"DRB1*15:01"``,
        ``"A*01:01:01G"``.

    Returns
    -------
    Allele
        The parsed name.

    Raises
    ------
    mst.errors.ValidationError
        ``field="hla_allele"`` with the token when the name is malformed, the
        locus unsupported, or the name absent from the shipped IPD-IMGT/HLA release.
    """
    if not isinstance(token, str):
        raise ValidationError("hla_allele", token, "must be a string")
    text = token.strip()
    absent = _ABSENT_RE.match(text)
    if absent is not None:
        # WMDA convention: LOCUS*NNNN = this chromosome carries no copy of the gene.
        if absent["locus"] not in COPY_NUMBER_LOCI:
            raise ValidationError(
                "hla_allele",
                token,
                f"'NNNN' (gene absent) is only valid for {', '.join(COPY_NUMBER_LOCI)}",
            )
        return Allele(absent["locus"], ("NNNN",))
    m = _ALLELE_RE.match(text)
    if m is None and text != text.upper() and _ALLELE_RE.match(text.upper()):
        raise ValidationError(
            "hla_allele",
            token,
            f"WHO allele names are written in capitals ({text.upper()!r}); lower case is"
            " not read, so that a typo is never taken for a name",
        )
    if m is None:
        raise ValidationError(
            "hla_allele",
            token,
            "malformed WHO allele name (expected LOCUS*NN[:NN[:NN[:NN]]][N|L|S|C|A|Q][G|P],"
            " e.g. 'A*02:01'; MAC and XX codes are not supported, write an allele list"
            " with '/')",
        )
    locus = m["locus"]
    if locus not in LOCI:
        raise ValidationError("hla_allele", token, f"locus must be one of {', '.join(LOCI)}")
    fields = tuple(m["fields"].split(":"))
    suffix = m["suffix"] or ""
    group = m["group"] or ""
    allele = Allele(locus, fields, suffix, group)
    tables = imgt_tables()
    if group:
        if suffix:
            raise ValidationError("hla_allele", token, "a G/P group takes no expression suffix")
        if allele.name not in tables.groups:
            raise ValidationError(
                "hla_allele", token, f"not a {group} group of IPD-IMGT/HLA {imgt_release()}"
            )
    elif allele.name not in tables.names:
        raise ValidationError(
            "hla_allele", token, f"not an allele name of IPD-IMGT/HLA {imgt_release()}"
        )
    return allele


AlleleList = tuple[Allele, ...]
"""Alternatives for one chromosome at one locus (``/`` in a GL string)."""

Genotype = tuple[AlleleList, AlleleList]
"""The two chromosomes at one locus (``+``)."""


@dataclass(frozen=True, slots=True)
class LocusTyping:
    """Typing of one locus: one or more possible genotypes (``|``).

    Attributes
    ----------
    locus : str
        Locus name.
    genotypes : tuple of Genotype
        The possible genotypes; more than one means genotype ambiguity.
    """

    locus: str
    genotypes: tuple[Genotype, ...]
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.locus, self.genotypes)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def ambiguous(self) -> bool:
        """True when more than one genotype or allele is possible."""
        return len(self.genotypes) > 1 or any(len(side) > 1 for g in self.genotypes for side in g)


@dataclass(frozen=True, slots=True)
class HlaTyping:
    """A parsed HLA typing (from a GL string), one :class:`LocusTyping` per locus.

    Attributes
    ----------
    gl : str
        The GL string as given (whitespace removed).
    loci : dict
        Locus name → :class:`LocusTyping` (read-only; typings are cached and shared).
    """

    gl: str
    loci: Mapping[str, LocusTyping]

    def __getitem__(self, locus: str) -> LocusTyping:
        return self.loci[locus]

    def __contains__(self, locus: object) -> bool:
        return locus in self.loci


def _split_top(text: str, op: str, what: str) -> list[str]:
    parts = text.split(op)
    for part in parts:
        if not part:
            raise ValidationError("hla_typing", text, f"empty {what} around '{op}'")
    return parts


def _parse_allele_list(text: str) -> AlleleList:
    alleles = tuple(parse_allele(t) for t in _split_top(text, "/", "allele"))
    loci = {a.locus for a in alleles}
    if len(loci) > 1:
        raise ValidationError("hla_typing", text, "an allele list ('/') must be of one locus")
    return tuple(dict.fromkeys(alleles))


def _parse_haplotype(text: str) -> dict[str, AlleleList]:
    out: dict[str, AlleleList] = {}
    for part in _split_top(text, "~", "haplotype member"):
        alist = _parse_allele_list(part)
        locus = alist[0].locus
        if locus in out:
            raise ValidationError("hla_typing", text, f"locus {locus} twice in one haplotype")
        out[locus] = alist
    return out


@lru_cache(maxsize=65536)
def _parse_block(block: str) -> dict[str, LocusTyping]:
    per_locus: dict[str, list[Genotype]] = {}
    loci_seen: frozenset[str] | None = None
    for gtext in _split_top(block, "|", "genotype"):
        chromosomes = _split_top(gtext, "+", "chromosome")
        if len(chromosomes) != 2:
            raise ValidationError(
                "hla_typing",
                gtext,
                "a genotype needs exactly two chromosomes joined by '+' (write"
                " 'A*01:01+A*01:01' for a homozygous typing)",
            )
        h1, h2 = (_parse_haplotype(c) for c in chromosomes)
        if set(h1) != set(h2):
            raise ValidationError(
                "hla_typing", gtext, "both chromosomes of a genotype must cover the same loci"
            )
        loci = frozenset(h1)
        if loci_seen is not None and loci != loci_seen:
            raise ValidationError(
                "hla_typing", block, "every genotype of a list ('|') must cover the same loci"
            )
        loci_seen = loci
        for locus in h1:
            genotype = (h1[locus], h2[locus])
            bucket = per_locus.setdefault(locus, [])
            if genotype not in bucket and (genotype[1], genotype[0]) not in bucket:
                bucket.append(genotype)
    return {locus: LocusTyping(locus, tuple(g)) for locus, g in per_locus.items()}


@lru_cache(maxsize=16384)
def parse_gl(text: str) -> HlaTyping:
    """Parse a GL string into a per-locus typing.

    Parameters
    ----------
    text : str
        E.g. ``"A*01:01+A*02:01^B*08:01+B*44:02^DPB1*04:01+DPB1*02:01/DPB1*02:02"``.
        Whitespace is ignored; ``HLA-`` prefixes are accepted.

    Returns
    -------
    HlaTyping
        Loci in input order, ambiguity (``/`` and ``|``) kept.

    Raises
    ------
    mst.errors.ValidationError
        ``field="hla_typing"`` (structure) or ``field="hla_allele"`` (a name),
        with the offending token.

    Notes
    -----
    Phase given with ``~`` is used to assign alleles to loci; linkage across
    loci is not used for counting (each locus is compared on its own).
    """
    if not isinstance(text, str):
        raise ValidationError("hla_typing", text, "must be a string")
    compact = "".join(text.split())
    if not compact:
        raise ValidationError("hla_typing", text, "is empty")
    if len(compact) > MAX_GL_LENGTH:
        raise ValidationError("hla_typing", text[:40] + "…", f"longer than {MAX_GL_LENGTH}")
    if not _GL_CHARS.match(compact):
        bad = next(ch for ch in compact if not _GL_CHARS.match(ch))
        raise ValidationError(
            "hla_typing", text, f"character {bad!r} is not allowed in a GL string"
        )
    loci: dict[str, LocusTyping] = {}
    for block in _split_top(compact, "^", "locus block"):
        for locus, typing in _parse_block(block).items():
            if locus in loci:
                raise ValidationError("hla_typing", block, f"locus {locus} appears twice")
            loci[locus] = typing
    return HlaTyping(compact, MappingProxyType(loci))
