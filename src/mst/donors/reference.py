"""IPD-IMGT/HLA reference tables shipped with the package (release 3.58.0).

The files under ``mst/data/donors/imgt-hla-3.58.0/`` are unmodified copies of
the IPD-IMGT/HLA release files (CC BY-ND; Barker D et al., Nucleic Acids Res
2023;51:D948). They are read once, lazily, and give:

- the set of valid allele names and their truncations (to reject names that
  are well formed but not in the release);
- the members of every G and P group (``hla_nom_g.txt``, ``hla_nom_p.txt``);
- the WHO serological equivalent of every allele (``rel_dna_ser.txt``) and the
  broad → split antigen relations (``rel_ser_ser.txt``).

No network access: py-ard is not used at run time (see ``docs/donors.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

IMGT_DIR = "donors/imgt-hla-3.58.0"

#: Loci the parser accepts (issue 6: the 12-allele loci plus DRB3/4/5, DQA1, DPA1).
LOCI: tuple[str, ...] = (
    "A",
    "B",
    "C",
    "DRB1",
    "DRB3",
    "DRB4",
    "DRB5",
    "DQA1",
    "DQB1",
    "DPA1",
    "DPB1",
)

#: Loci present on some haplotypes only; ``LOCUS*NNNN`` marks a chromosome without the gene.
COPY_NUMBER_LOCI: tuple[str, ...] = ("DRB3", "DRB4", "DRB5")

#: Prefix of the serological antigen name for each locus (WHO nomenclature).
SEROLOGY_PREFIX: dict[str, str] = {
    "A": "A",
    "B": "B",
    "C": "Cw",
    "DRB1": "DR",
    "DRB3": "DR",
    "DRB4": "DR",
    "DRB5": "DR",
    "DQB1": "DQ",
}


def _read(name: str) -> list[str]:
    text = resources.files("mst.data").joinpath(f"{IMGT_DIR}/{name}").read_text("utf-8")
    return text.splitlines()


@lru_cache(maxsize=1)
def imgt_release() -> str:
    """IPD-IMGT/HLA release of the shipped files, e.g. ``"3.58.0"``.

    Returns
    -------
    str
        The version read from ``release_version.txt``.
    """
    for line in _read("release_version.txt"):
        if line.startswith("# version:"):
            return line.split()[-1]
    raise RuntimeError("release_version.txt has no version line")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class ImgtTables:
    """Lookup tables built from the release files (see :func:`imgt_tables`)."""

    names: frozenset[str]
    """Full allele names and every truncation (``A*01:01:01:02N``, ``A*01:01``, ``A*01``)."""
    groups: dict[str, tuple[str, ...]]
    """G/P group name (``A*01:01:01G``) → member allele names."""
    serology: dict[str, str | None]
    """2-field name (``A*01:01``, ``A*01:04N``) or 1-field family → antigen; None if unknown."""
    splits: dict[str, frozenset[str]]
    """Broad antigen (``A9``) → its split antigens (``A23``, ``A24``), and antigen (``A2``)
    → its associated antigens (``A203``, ``A210``), from ``rel_ser_ser.txt``."""


def _split_name(name: str) -> tuple[str, list[str], str]:
    locus, rest = name.split("*", 1)
    suffix = ""
    if rest and rest[-1].isalpha():
        suffix, rest = rest[-1], rest[:-1]
    return locus, rest.split(":"), suffix


def _allele_serology(fields: list[str]) -> str | None:
    """Serology of one ``rel_dna_ser`` row: unambiguous, else assumed, else a single possible.

    '0' means null. The fourth column ("expert assigned exceptions in search
    determinants of some registries") is a registry search convention, not a
    serological assignment, and is not used (as in py-ard).
    """
    unambiguous, possible, assumed, _expert = (fields + ["", "", "", ""])[:4]
    for value in (unambiguous, assumed, possible):
        value = value.strip()
        if value and value != "?" and "/" not in value:
            return value
    return None


@lru_cache(maxsize=1)
def allele_prefixes() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """Every allele of a supported locus in ``Allelelist.txt``, read once for all tables.

    Returns
    -------
    tuple
        ``(name, suffix, prefixes)`` per allele in file order: ``prefixes`` are the names
        of its first 1, 2, … fields without the expression suffix (``A*01:04:01:01N`` →
        ``A*01``, ``A*01:04``, ``A*01:04:01``, ``A*01:04:01:01``).
    """
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for line in _read("Allelelist.txt"):
        if not line or line.startswith("#") or line.startswith("AlleleID"):
            continue
        allele = line.split(",", 1)[1].strip()
        locus, fields, suffix = _split_name(allele)
        if locus not in LOCI:
            continue
        head = len(locus) + 1  # "A*"
        prefixes = []
        cut = head - 1
        for f in fields:  # allele[:cut] is the name of the fields so far
            cut += len(f) + 1
            prefixes.append(allele[:cut])
        out.append((allele, suffix, tuple(prefixes)))
    return tuple(out)


@lru_cache(maxsize=1)
def imgt_tables() -> ImgtTables:
    """The lookup tables of the shipped release, built once per process (or loaded from
    the per-user cache of :mod:`mst.donors.table_cache`).

    Returns
    -------
    ImgtTables
        Names, groups, serology and broad/split relations.
    """
    from mst.donors.table_cache import cached_tables

    return cached_tables("imgt-tables", build_imgt_tables, ImgtTables)


def build_imgt_tables() -> ImgtTables:
    """Build the lookup tables of :func:`imgt_tables` from the release files.

    Returns
    -------
    ImgtTables
        Names, groups, serology and broad/split relations.
    """
    names: set[str] = set()
    stem_suffixes: dict[str, set[str]] = {}
    for allele, suffix, prefixes in allele_prefixes():
        names.add(allele)
        for stem in prefixes[:-1]:
            names.add(stem)
            bucket = stem_suffixes.get(stem)
            if bucket is None:
                stem_suffixes[stem] = {suffix}
            else:
                bucket.add(suffix)
    # A truncated name keeps the suffix when every allele under it shares it
    # (A*01:04N: all A*01:04 alleles are null; not A*01:01N).
    for stem, suffixes in stem_suffixes.items():
        if len(suffixes) == 1 and (only := next(iter(suffixes))) and stem.count(":") >= 1:
            names.add(stem + only)

    groups: dict[str, tuple[str, ...]] = {}
    for fname, tag in (("wmda/hla_nom_g.txt", "G"), ("wmda/hla_nom_p.txt", "P")):
        for line in _read(fname):
            if not line or line.startswith("#"):
                continue
            locus_star, members, group = (line.split(";") + ["", ""])[:3]
            locus = locus_star.rstrip("*")
            if locus not in LOCI or not group.strip():
                continue
            group = group.strip()
            if not group.endswith(tag):
                continue
            groups[f"{locus}*{group}"] = tuple(f"{locus}*{m}" for m in members.split("/") if m)

    per_name: dict[str, set[str | None]] = {}
    for line in _read("wmda/rel_dna_ser.txt"):
        if not line or line.startswith("#"):
            continue
        parts = line.split(";")
        locus = parts[0].rstrip("*")
        prefix = SEROLOGY_PREFIX.get(locus)
        if prefix is None:
            continue
        allele = parts[1]
        _, fields, suffix = _split_name(f"{locus}*{allele}")
        ser = _allele_serology(parts[2:6])
        if ser == "0" or suffix == "N":
            continue  # null alleles carry no antigen
        antigen = f"{prefix}{ser}" if ser is not None else None
        two = f"{locus}*{':'.join(fields[:2])}"
        one = f"{locus}*{fields[0]}"
        # 2-field: same protein, so unknown rows do not blur a known antigen;
        # 1-field family: different proteins, so an unknown row makes it unknown.
        if antigen is not None:
            per_name.setdefault(two, set()).add(antigen)
        else:
            per_name.setdefault(two, set())
        per_name.setdefault(one, set()).add(antigen)
    serology: dict[str, str | None] = {}
    for key, values in per_name.items():
        known = values - {None}
        serology[key] = next(iter(known)) if len(values) == 1 and len(known) == 1 else None

    splits: dict[str, frozenset[str]] = {}
    for line in _read("wmda/rel_ser_ser.txt"):
        if not line or line.startswith("#"):
            continue
        locus, broad, split_list, assoc = (line.split(";") + ["", "", ""])[:4]
        prefix = {"A": "A", "B": "B", "Cw": "Cw", "DR": "DR", "DQ": "DQ"}.get(locus)
        children = [s for s in (split_list.split("/") + assoc.strip().split("/")) if s]
        if prefix is None or not children:
            continue
        splits[f"{prefix}{broad}"] = frozenset(f"{prefix}{s}" for s in children)
    return ImgtTables(frozenset(names), groups, serology, splits)
