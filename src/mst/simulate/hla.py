"""Simulated HLA haplotypes, GL strings and KIR genotypes.

Typings are built from haplotypes (one allele per locus) so that related donors share a
haplotype with the patient; alleles and their sampling weights come from
``mst/data/simulate/hla_alleles.yaml``. This module only *generates* typings: comparing
them is the job of :mod:`mst.donors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import numpy as np
import yaml

LOCI: tuple[str, ...] = ("A", "B", "C", "DRB1", "DQB1", "DPB1")

Haplotype = tuple[str, ...]  # one 2-field allele name per locus of LOCI, e.g. "02:01"


@dataclass(frozen=True)
class AlleleTable:
    """Alleles per locus with normalised sampling weights, and KIR gene content."""

    alleles: dict[str, tuple[str, ...]]
    weights: dict[str, np.ndarray]
    cumulative: dict[str, np.ndarray]
    kir_framework: tuple[str, ...]
    kir_a_genes: tuple[str, ...]
    kir_p_aa: float
    kir_b_genes: tuple[tuple[str, float], ...]


@lru_cache(maxsize=1)
def allele_table() -> AlleleTable:
    """Load the shipped allele table (``hla_alleles.yaml``)."""
    text = resources.files("mst.data").joinpath("simulate/hla_alleles.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    alleles: dict[str, tuple[str, ...]] = {}
    weights: dict[str, np.ndarray] = {}
    cumulative: dict[str, np.ndarray] = {}
    for locus in LOCI:
        entries = sorted(raw["loci"][locus].items())
        alleles[locus] = tuple(str(a) for a, _ in entries)
        w = np.array([float(x) for _, x in entries])
        weights[locus] = w / w.sum()
        cumulative[locus] = np.cumsum(weights[locus])
    kir = raw["kir"]
    return AlleleTable(
        alleles=alleles,
        weights=weights,
        cumulative=cumulative,
        kir_framework=tuple(kir["framework"]),
        kir_a_genes=tuple(kir["a_genes"]),
        kir_p_aa=float(kir["p_aa"]),
        kir_b_genes=tuple(sorted((str(g), float(p)) for g, p in kir["b_gene_p"].items())),
    )


def random_haplotype(rng: np.random.Generator) -> Haplotype:
    """Draw one haplotype, loci independent (no linkage disequilibrium is modelled)."""
    table = allele_table()
    u = rng.random(len(LOCI))
    out = []
    for i, locus in enumerate(LOCI):
        cum = table.cumulative[locus]
        k = min(int(np.searchsorted(cum, u[i], side="right")), len(cum) - 1)
        out.append(table.alleles[locus][k])
    return tuple(out)


def gl_string(h1: Haplotype, h2: Haplotype) -> str:
    """Format a genotype as a GL string: ``HLA-A*02:01+HLA-A*24:02^HLA-B*…``.

    Alleles of a locus are sorted so that the same genotype always gives the same text.
    """
    parts = []
    for i, locus in enumerate(LOCI):
        pair = sorted((h1[i], h2[i]))
        parts.append("+".join(f"HLA-{locus}*{a}" for a in pair))
    return "^".join(parts)


def kir_genotype(rng: np.random.Generator) -> str:
    """Draw a KIR gene-content genotype as a comma-separated gene list (sorted)."""
    table = allele_table()
    genes = set(table.kir_framework)
    u = rng.random(1 + len(table.kir_b_genes) + len(table.kir_a_genes))
    is_aa = u[0] < table.kir_p_aa
    genes.update(table.kir_a_genes)
    if not is_aa:
        for (gene, p), x in zip(table.kir_b_genes, u[1:], strict=False):
            if x < p:
                genes.add(gene)
        if not genes - set(table.kir_framework) - set(table.kir_a_genes):
            genes.add(table.kir_b_genes[0][0])
        # some Bx genotypes lack an A gene (e.g. KIR2DS4 / KIR2DL3 on both haplotypes)
        if u[-1] < 0.2:
            genes.discard("KIR2DS4")
    return ",".join(sorted(genes))


#: The loci of the x/10 mismatch count (002 Table 1: A, B, C, DRB1, DQB1).
LOCI_10: tuple[str, ...] = LOCI[:5]


@cache
def _ard_class(locus: str, allele: str) -> str:
    """ARD key of a 2-field allele (``DQB1*02:01`` and ``02:02`` are one class)."""
    from mst.donors.ard import ard_key

    return ard_key(f"{locus}*{allele}")


def _draw(rng: np.random.Generator, locus: str) -> str:
    table = allele_table()
    cum = table.cumulative[locus]
    k = min(int(np.searchsorted(cum, rng.random(), side="right")), len(cum) - 1)
    return table.alleles[locus][k]


def _other_allele(rng: np.random.Generator, locus: str, avoid: set[str]) -> str:
    """An allele (by the table's weights) whose ARD class is not in ``avoid``."""
    for _ in range(64):
        allele = _draw(rng, locus)
        if _ard_class(locus, allele) not in avoid:
            return allele
    # practically unreachable (avoid holds at most 3 classes of >= 10); stay deterministic
    return next(a for a in allele_table().alleles[locus] if _ard_class(locus, a) not in avoid)


def donor_haplotypes_with_mismatches(
    rng: np.random.Generator,
    recipient: tuple[Haplotype, Haplotype],
    mismatches_10: int,
    *,
    haploidentical: bool,
) -> tuple[Haplotype, Haplotype]:
    """A donor genotype with exactly ``mismatches_10`` ARD mismatches out of 10.

    The count is the one of :func:`mst.donors.hla_mismatch_counts` (per locus the larger of
    the graft-versus-host and host-versus-graft counts, summed over A, B, C, DRB1, DQB1).
    Up to 5, that many loci carry one mismatched allele next to one of the recipient's
    alleles and the others match both; above 5, ``mismatches_10 - 5`` loci carry two
    mismatched alleles and the rest one. A haploidentical donor's first haplotype is one of
    the recipient's (apart from loci with two mismatches); an unrelated donor's matched
    alleles come from either recipient haplotype, locus by locus. DPB1: one allele of the
    recipient's and one drawn by the table's weights (so 0-1 DPB1 mismatch, 002: 5/12 to
    7/12).

    Parameters
    ----------
    rng : numpy.random.Generator
        Generator (the patient's HLA stream); the number of draws depends on the outcome
        only through rejection of alleles equal to the recipient's.
    recipient : tuple of Haplotype
        The recipient's two haplotypes.
    mismatches_10 : int
        Target count, 0-10.
    haploidentical : bool
        Whether the donor shares a whole haplotype (child, sibling, parent).

    Returns
    -------
    tuple of Haplotype
        The donor's two haplotypes.

    Raises
    ------
    mst.errors.ValidationError
        If ``mismatches_10`` is not in 0-10.
    """
    from mst.errors import ValidationError

    if not 0 <= mismatches_10 <= 2 * len(LOCI_10):
        raise ValidationError("hla_mismatches_10", mismatches_10, "must be from 0 to 10")
    n = len(LOCI_10)
    order = [int(i) for i in rng.permutation(n)]
    per_locus = [0] * n
    if mismatches_10 <= n:
        for i in order[:mismatches_10]:
            per_locus[i] = 1
    else:
        per_locus = [1] * n
        for i in order[: mismatches_10 - n]:
            per_locus[i] = 2
    shared_index = int(rng.integers(0, 2))
    h1: list[str] = []
    h2: list[str] = []
    for i, locus in enumerate(LOCI):
        j = shared_index if haploidentical else int(rng.integers(0, 2))
        same, other = recipient[j][i], recipient[1 - j][i]
        if locus not in LOCI_10:
            h1.append(same)
            h2.append(_draw(rng, locus))
            continue
        avoid = {_ard_class(locus, recipient[0][i]), _ard_class(locus, recipient[1][i])}
        if per_locus[i] == 0:
            h1.append(same)
            h2.append(other)
        elif per_locus[i] == 1:
            h1.append(same)
            h2.append(_other_allele(rng, locus, avoid))
        else:
            first = _other_allele(rng, locus, avoid)
            h1.append(first)
            h2.append(_other_allele(rng, locus, avoid | {_ard_class(locus, first)}))
    return tuple(h1), tuple(h2)
