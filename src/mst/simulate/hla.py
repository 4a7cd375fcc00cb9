"""Simulated HLA haplotypes, GL strings and KIR genotypes.

Typings are built from haplotypes (one allele per locus) so that related donors share a
haplotype with the patient; alleles and their sampling weights come from
``mst/data/simulate/hla_alleles.yaml``. This module only *generates* typings: comparing
them is the job of :mod:`mst.donors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
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
