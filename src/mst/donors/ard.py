"""Reduction of typed HLA names to proteins and antigen-recognition-domain (ARD) groups.

Every typed name (1 to 4 fields, expression suffix, G or P group) stands for a
*set* of possible proteins; comparisons work on these sets, never on pairs of
expanded alleles (``docs/donors.md``, "Reduction level").

- **Protein** (2-field name): the expressed alleles a typed name may be. A name
  is *null* when every allele under it in ``Allelelist.txt`` is null (``N``),
  whether or not the typed name carries the ``N`` (``A*01:04`` and
  ``A*01:04N`` are both null; IPD-IMGT/HLA 3.58.0 has 53 such 2-field names
  without the suffix). Null alleles under an expressed name (``A*01:01:01:02N``
  under ``A*01:01``) are named separately in WHO nomenclature and are not a
  resolution of the expressed name; G groups likewise stand for their expressed
  members (NMDP/WMDA convention; py-ard ``lgx`` does the same).
- **ARD group**: proteins identical in the antigen recognition domain (exons 2
  and 3 for class I, exon 2 for class II) share a P group (``hla_nom_p.txt``);
  expressed members of one G group (``hla_nom_g.txt``, identical ARD exons)
  are joined too, which matters where a G group member is missing from the P
  file (``A*11:441`` in 3.58.0). The ARD key of a protein is the 2-field name
  of its P group (``A*02:09`` → ``A*02:01``), else the lowest-numbered protein
  of its class, else the protein itself. This is py-ard's ``lgx`` level,
  except that ``lgx`` follows G groups (nucleotides) where a P group joins
  proteins of different G groups (6 proteins in 3.58.0, e.g. ``C*03:404`` =
  ``C*03:04`` here; ``docs/donors.md``).
- ``DRB3``/``DRB4``/``DRB5`` may be written ``DRB4*NNNN`` for an absent gene copy
  (WMDA convention); it expresses nothing, like a null allele.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from mst.donors.reference import COPY_NUMBER_LOCI as COPY_NUMBER_LOCI
from mst.donors.reference import LOCI as _LOCI
from mst.donors.reference import _read, _split_name, allele_prefixes, imgt_tables

NULL: None = None
"""Set member meaning "no expressed protein" (null allele or absent gene copy)."""


def two_field(name: str) -> str:
    """First two fields of an allele name, expression suffix dropped (``A*01:01``)."""
    locus, fields, _suffix = _split_name(name)
    return f"{locus}*{':'.join(fields[:2])}"


def _natural(name: str) -> tuple[str, tuple[int, ...]]:
    locus, rest = name.split("*", 1)
    return locus, tuple(int(f) for f in rest.split(":"))


@dataclass(frozen=True, slots=True)
class Reduction:
    """Lookup tables of :func:`reduction`."""

    expressed: dict[str, tuple[str, ...]]
    """Name prefix (1–3 fields, no suffix) → 2-field proteins of its expressed alleles
    (tuples, not sets: tuples of strings are not tracked by the garbage collector, which
    keeps collections fast while these 41,000 entries live)."""
    null_prefixes: frozenset[str]
    """Prefixes (``A*01:04``) every allele of which is null."""
    ard: dict[str, str]
    """Expressed 2-field protein → ARD key (2-field name of its P group, or itself)."""


@lru_cache(maxsize=1)
def reduction() -> Reduction:
    """The protein and ARD tables, built once per process (or loaded from the per-user
    cache of :mod:`mst.donors.table_cache`).

    Returns
    -------
    Reduction
        Prefix → expressed proteins, null prefixes and protein → ARD key.
    """
    from mst.donors.table_cache import cached_tables

    return cached_tables("ard-reduction", build_reduction, Reduction)


def build_reduction() -> Reduction:
    """Build the tables of :func:`reduction` from the shipped release files.

    Returns
    -------
    Reduction
        Prefix → expressed proteins, null prefixes and protein → ARD key.
    """
    expressed: dict[str, set[str]] = {}
    members: dict[str, int] = {}
    for _allele, suffix, prefixes in allele_prefixes():
        two = prefixes[1] if len(prefixes) > 1 else prefixes[0]
        for prefix in prefixes:
            members[prefix] = members.get(prefix, 0) + 1
            bucket = expressed.get(prefix)
            if bucket is None:
                bucket = expressed[prefix] = set()
            if suffix != "N":
                bucket.add(two)
    nulls = frozenset(p for p, s in expressed.items() if not s and members.get(p))

    # Union-find over 2-field proteins: members of one P group (identical ARD protein)
    # and expressed members of one G group (identical ARD exons, hence protein) share a key.
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    p_name: dict[str, str] = {}
    for fname, tag in (("wmda/hla_nom_p.txt", "P"), ("wmda/hla_nom_g.txt", "G")):
        for line in _read(fname):
            if not line or line.startswith("#"):
                continue
            locus_star, names, group = (line.split(";") + ["", ""])[:3]
            locus = locus_star.rstrip("*")
            group = group.strip()
            if locus not in _LOCI or not group.endswith(tag):
                continue
            proteins = [
                two_field(f"{locus}*{m}") for m in names.split("/") if m and not m.endswith("N")
            ]
            if not proteins:
                continue
            if tag == "P":
                p_name[proteins[0]] = f"{locus}*{':'.join(group[:-1].split(':')[:2])}"
            root = find(proteins[0])
            for q in proteins[1:]:
                other = find(q)
                if other != root:
                    parent[other] = root
    classes: dict[str, list[str]] = {}
    for q in parent:
        classes.setdefault(find(q), []).append(q)
    ard: dict[str, str] = {}
    for members in classes.values():
        named = sorted((p_name[q] for q in members if q in p_name), key=_natural)
        key = named[0] if named else min(members, key=_natural)
        for q in members:
            ard[q] = key
    return Reduction({p: tuple(sorted(s)) for p, s in expressed.items() if s}, nulls, ard)


def ard_key(protein: str) -> str:
    """ARD key of an expressed 2-field protein (``A*02:09`` → ``A*02:01``).

    Parameters
    ----------
    protein : str
        2-field name of an expressed protein.

    Returns
    -------
    str
        The 2-field name of the protein's P group, or the protein itself.
    """
    return reduction().ard.get(protein, protein)


def name_proteins(
    locus: str, fields: tuple[str, ...], suffix: str, group: str
) -> frozenset[str | None]:
    """Proteins a typed name may be: expressed 2-field names, or ``{NULL}``.

    Parameters
    ----------
    locus, fields, suffix, group
        The parts of a parsed :class:`mst.donors.nomenclature.Allele`.

    Returns
    -------
    frozenset
        Non-empty; ``{None}`` when the name expresses nothing.
    """
    if fields == ("NNNN",):
        return frozenset({NULL})
    if suffix == "N":
        return frozenset({NULL})
    red = reduction()
    name = f"{locus}*{':'.join(fields)}"
    if group:
        members = imgt_tables().groups[f"{name}{group}"]
        out = {two_field(m) for m in members if not m.endswith("N")}
        return frozenset(out) if out else frozenset({NULL})
    if name in red.null_prefixes:
        return frozenset({NULL})
    found = red.expressed.get(name)
    if found is None:  # a 2-field name carrying a shared suffix only (checked by the parser)
        return frozenset({two_field(name)})
    return frozenset(found)


def protein_antigen(protein: str) -> str | None:
    """WHO serological antigen of an expressed protein (``rel_dna_ser.txt``).

    A protein without its own assignment takes the antigen of its ARD class
    representative (serology is determined by the antigen recognition domain), so
    every member of ``B*08:01:01G`` is B8. None when neither is assigned.
    """
    serology = imgt_tables().serology
    own = serology.get(protein)
    return own if own is not None else serology.get(ard_key(protein))
