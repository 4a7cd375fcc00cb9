"""KIR gene content (Cooley motifs, B-content group) and HLA KIR ligands.

Rules and tables come from ``mst/data/donors/kir.yaml`` (each with its source):

- centromeric / telomeric A/B motifs and the B-content group
  best / better / neutral (Cooley S et al., Blood 2010;116:2411);
- KIR ligands by residue 80 (``kir_ligands.csv``, derived once from the
  IPD-IMGT/HLA 3.58.0 protein sequences at mature positions 77–83): C1 (Asn80)
  / C2 (Lys80) for HLA-C, Bw4 (Leu82-Arg83; 80I or 80T) / Bw6 for HLA-B, and
  optionally Bw4 for HLA-A;
- ligand mismatch in the GvH direction: ligands present in the donor but
  absent in the recipient (missing-ligand model, Ruggeri L et al., Science
  2002;295:2097).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from mst.donors.mismatch import allele_proteins
from mst.donors.nomenclature import Allele, HlaTyping, LocusTyping
from mst.errors import ValidationError


@lru_cache(maxsize=1)
def kir_table() -> dict[str, Any]:
    """The shipped KIR rules (``mst/data/donors/kir.yaml``)."""
    text = resources.files("mst.data").joinpath("donors/kir.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def parse_kir_genotype(text: str) -> frozenset[str]:
    """Parse a KIR gene-content genotype.

    Parameters
    ----------
    text : str
        Comma-separated present genes, e.g. ``"KIR2DL1,KIR2DL3,KIR3DL1,KIR2DS4"``.
        Case and spaces are ignored; ``2DL1`` without the ``KIR`` prefix is accepted.

    Returns
    -------
    frozenset of str
        Present genes (``KIR2DL5A``/``KIR2DL5B`` also count as ``KIR2DL5``).

    Raises
    ------
    mst.errors.ValidationError
        ``field="kir_genotype"`` naming an unknown gene.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("kir_genotype", text, "must be a non-empty comma-separated gene list")
    known = set(kir_table()["genes"]["all"])
    genes: set[str] = set()
    for raw in text.split(","):
        token = raw.strip().upper()
        if not token:
            continue
        gene = token if token.startswith("KIR") else f"KIR{token}"
        if gene not in known:
            raise ValidationError(
                "kir_genotype", raw.strip(), f"unknown KIR gene (known: {', '.join(sorted(known))})"
            )
        genes.add(gene)
        if gene in ("KIR2DL5A", "KIR2DL5B"):
            genes.add("KIR2DL5")
    if not genes:
        raise ValidationError("kir_genotype", text, "lists no gene")
    return frozenset(genes)


def _matches(rule: dict[str, list[str]], genes: frozenset[str]) -> bool:
    if not all(g in genes for g in rule.get("present_all", [])):
        return False
    if "present_any" in rule and not any(g in genes for g in rule["present_any"]):
        return False
    if not all(g not in genes for g in rule.get("absent_all", [])):
        return False
    return not ("absent_any" in rule and all(g in genes for g in rule["absent_any"]))


@dataclass(frozen=True, slots=True)
class KirProfile:
    """Cooley B-content classification of a donor KIR genotype.

    Attributes
    ----------
    genes : frozenset of str
        Present genes.
    haplotype : {"AA", "Bx"}
        "Bx" if any B-haplotype-specific gene is present.
    centromeric, telomeric : str or None
        ``"A/A"``, ``"A/B"``, ``"B/B"``, or None when the content fits no motif.
    b_content_score : int or None
        Number of B motifs (0–4), None if a motif is undetermined.
    group : {"best", "better", "neutral", "unknown"}
        Cooley B-content group.
    source : str
        Citation.
    """

    genes: frozenset[str]
    haplotype: str
    centromeric: str | None
    telomeric: str | None
    b_content_score: int | None
    group: str
    source: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "genes": sorted(self.genes),
            "haplotype": self.haplotype,
            "centromeric": self.centromeric,
            "telomeric": self.telomeric,
            "b_content_score": self.b_content_score,
            "group": self.group,
            "source": self.source,
        }


def kir_profile(genotype: str | frozenset[str]) -> KirProfile:
    """Centromeric/telomeric motifs and Cooley B-content group of a KIR genotype.

    Parameters
    ----------
    genotype : str or frozenset of str
        Gene-content genotype (see :func:`parse_kir_genotype`).

    Returns
    -------
    KirProfile
        "best" = Cen-B/B; "better" = ≥ 2 B motifs without Cen-B/B;
        "neutral" = 0–1 B motif; "unknown" if a motif cannot be assigned
        (Cooley S et al., Blood 2010;116:2411).
    """
    genes = parse_kir_genotype(genotype) if isinstance(genotype, str) else frozenset(genotype)
    return _kir_profile(genes)


@lru_cache(maxsize=4096)
def _kir_profile(genes: frozenset[str]) -> KirProfile:
    table = kir_table()
    motifs = table["motifs"]
    haplotype = "Bx" if any(g in genes for g in table["genes"]["b_haplotype_genes"]) else "AA"

    def motif(region: str) -> str | None:
        hits = [name for name, rule in motifs[region].items() if _matches(rule, genes)]
        return hits[0] if len(hits) == 1 else None

    cen, tel = motif("centromeric"), motif("telomeric")
    score: int | None = None
    if cen == "B/B":
        group = "best"
    elif cen is None or tel is None:
        group = "unknown"
    else:
        counts = motifs["b_motif_count"]
        score = counts[cen] + counts[tel]
        group = "better" if score >= 2 else "neutral"
    if cen is not None and tel is not None:
        score = motifs["b_motif_count"][cen] + motifs["b_motif_count"][tel]
    return KirProfile(genes, haplotype, cen, tel, score, group, motifs["source"])


@lru_cache(maxsize=1)
def ligand_table() -> dict[str, tuple[str, str]]:
    """2-field HLA-A/B/C protein → (ligand, Bw4 residue-80 subtype), from ``kir_ligands.csv``.

    Ligand is ``C1``/``C2`` (HLA-C, residue 80 Asn/Lys), ``Bw4``/``Bw6`` (HLA-B,
    residues 82–83), ``Bw4``/``none`` (HLA-A) or ``unknown``; the subtype is ``80I``
    or ``80T`` for Bw4. Built from the IPD-IMGT/HLA 3.58.0 protein sequences by
    ``mst/data/donors/build_kir_ligands.py``.
    """
    text = resources.files("mst.data").joinpath("donors/kir_ligands.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {row["protein"]: (row["ligand"], row["bw4_80"]) for row in rows}


@dataclass(frozen=True, slots=True)
class KirLigands:
    """KIR ligands carried by one HLA typing.

    Attributes
    ----------
    present : frozenset of str
        Ligands certainly present (``"C1"``, ``"C2"``, ``"Bw4"``).
    uncertain : frozenset of str
        Ligands that may be present (ambiguous typing or unknown assignment).
    per_allele : dict
        Locus → list of (allele key, ligand or ``"unknown"``).
    """

    present: frozenset[str]
    uncertain: frozenset[str]
    per_allele: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "present": sorted(self.present),
            "uncertain": sorted(self.uncertain),
            "per_allele": {k: [list(p) for p in v] for k, v in self.per_allele.items()},
        }


def kir_ligands(typing: HlaTyping, include_hla_a: bool = False) -> KirLigands:
    """KIR ligands (C1, C2, Bw4) of an HLA typing.

    Parameters
    ----------
    typing : HlaTyping
        Parsed typing; HLA-C and HLA-B are used (and HLA-A if ``include_hla_a``).
    include_hla_a : bool
        Count Bw4 carried by HLA-A (A23, A24, A25, A32), default False.

    Returns
    -------
    KirLigands
        A ligand is *present* if every resolution of the ambiguity carries it,
        *uncertain* if some might (or an allele's ligand is unknown).
    """
    loci = ("C", "B", "A") if include_hla_a else ("C", "B")
    return _ligands(tuple((k, typing.loci.get(k)) for k in loci))


@lru_cache(maxsize=16384)
def _ligands(loci: tuple[tuple[str, LocusTyping | None], ...]) -> KirLigands:
    present: set[str] = set()
    maybe: set[str] = set()
    per_allele: dict[str, list[tuple[str, str]]] = {}
    for locus, lt in loci:
        if lt is None:
            maybe.update({"C1", "C2"} if locus == "C" else {"Bw4"})
            continue
        common, possible, listing = _locus_ligands(lt)
        present |= common
        maybe |= possible
        per_allele[locus] = list(listing)
    return KirLigands(frozenset(present), frozenset(maybe - present), per_allele)


def _protein_ligand(locus: str, protein: str) -> str | None:
    """Ligand class of one expressed protein (None when unknown or not derivable)."""
    del locus
    ligand = ligand_table().get(protein, ("unknown", ""))[0]
    return None if ligand == "unknown" else ligand


def _protein_label(locus: str, protein: str) -> str:
    """Ligand with the Bw4 residue-80 subtype for the per-allele listing (``Bw4-80I``)."""
    ligand, sub = ligand_table().get(protein, ("unknown", ""))
    del locus
    return f"{ligand}-{sub}" if sub else ligand


_LIGANDS = ("C1", "C2", "Bw4")


@lru_cache(maxsize=65536)
def _allele_ligands(allele: Allele) -> tuple[frozenset[str], frozenset[str], bool, str]:
    """(ligands of every protein, ligands of some protein, some ligand unknown, label)."""
    locus = allele.locus
    per: list[set[str]] = []
    unknown = False
    labels: set[str] = set()
    for p in allele_proteins(allele):
        if p is None:
            per.append(set())
            labels.add("null")
            continue
        lig = _protein_ligand(locus, p)
        unknown = unknown or lig is None
        per.append({lig} & set(_LIGANDS) if lig else set())
        labels.add(_protein_label(locus, p))
    return (
        frozenset(set.intersection(*per)),
        frozenset(set().union(*per)),
        unknown,
        "/".join(sorted(labels)),
    )


@lru_cache(maxsize=16384)
def _locus_ligands(
    lt: LocusTyping,
) -> tuple[frozenset[str], frozenset[str], tuple[tuple[str, str], ...]]:
    """(certain ligands, possible ligands, per-typed-name listing) of one locus typing.

    Set-based: a genotype certainly carries a ligand when every protein one of its
    chromosomes may be carries it; possibly when any protein does.
    """
    common: set[str] | None = None
    maybe: set[str] = set()
    unknown_any = False
    listing: dict[str, str] = {}
    for genotype in lt.genotypes:
        certain: set[str] = set()
        for side in genotype:
            side_all: set[str] | None = None
            for allele in side:
                every, some, unknown, label = _allele_ligands(allele)
                listing[allele.name] = label
                side_all = set(every) if side_all is None else side_all & every
                maybe |= some
                unknown_any = unknown_any or unknown
            certain |= side_all or set()
        common = certain if common is None else common & certain
    common = common or set()
    if unknown_any:
        maybe |= {"C1", "C2"} if lt.locus == "C" else {"Bw4"}
    return frozenset(common), frozenset(maybe - common), tuple(sorted(listing.items()))


@dataclass(frozen=True, slots=True)
class LigandMismatch:
    """KIR-ligand mismatch in the GvH direction (donor ligand absent in the recipient).

    Attributes
    ----------
    status : {"mismatch", "match", "possible"}
        "mismatch" when a donor ligand is certainly missing in the recipient,
        "possible" when it may be (ambiguous typing or a ligand of unknown group).
    missing_in_recipient : tuple of str
        Donor ligands certainly absent from the recipient.
    possibly_missing : tuple of str
        Donor ligands that may be absent (ambiguity/unknown ligand).
    donor_receptor_present : dict
        Ligand → True/False if the donor carries an inhibitory KIR for it
        (None when the donor KIR genotype is not given).
    source : str
        Citation.
    """

    status: str
    missing_in_recipient: tuple[str, ...]
    possibly_missing: tuple[str, ...]
    donor_receptor_present: dict[str, bool | None]
    source: str = "Ruggeri L et al., Science 2002;295:2097 (missing-ligand, GvH direction)"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "status": self.status,
            "missing_in_recipient": list(self.missing_in_recipient),
            "possibly_missing": list(self.possibly_missing),
            "donor_receptor_present": self.donor_receptor_present,
            "source": self.source,
        }


def ligand_mismatch_gvh(
    recipient: HlaTyping,
    donor: HlaTyping,
    donor_kir: frozenset[str] | None = None,
    include_hla_a: bool = False,
) -> LigandMismatch:
    """KIR-ligand mismatch in the GvH direction.

    Parameters
    ----------
    recipient, donor : HlaTyping
        Parsed typings.
    donor_kir : frozenset of str, optional
        Donor KIR genes, to report whether the matching inhibitory receptor exists.
    include_hla_a : bool
        Count HLA-A Bw4.

    Returns
    -------
    LigandMismatch
        Ligands the donor carries (so its NK cells are educated to them) that
        the recipient lacks.
    """
    r = kir_ligands(recipient, include_hla_a)
    d = kir_ligands(donor, include_hla_a)
    sure = tuple(
        sorted(lig for lig in d.present if lig not in r.present and lig not in r.uncertain)
    )
    possible = tuple(
        sorted(lig for lig in d.present | d.uncertain if lig not in r.present and lig not in sure)
    )
    receptors = kir_table()["ligands"]["receptors"]
    receptor_present: dict[str, bool | None] = {}
    for lig in sure + possible:
        receptor_present[lig] = (
            None if donor_kir is None else any(g in donor_kir for g in receptors[lig])
        )
    if sure:
        status = "mismatch"
    elif possible:
        status = "possible"
    else:
        status = "match"
    return LigandMismatch(status, sure, possible, receptor_present)
