"""Simulated HLA typings and KIR genotypes: real allele names, well-formed GL strings."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.simulate.hla import LOCI, allele_table, gl_string, kir_genotype, random_haplotype

ALLELELIST = Path("/work/shared/reference/imgt-hla-3.58.0/Allelelist.txt")


@pytest.mark.skipif(not ALLELELIST.exists(), reason="IPD-IMGT/HLA 3.58.0 reference not available")
def test_every_allele_exists_in_imgt_3_58_0() -> None:
    names = set()
    for line in ALLELELIST.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and not line.startswith("AlleleID"):
            name = line.split(",")[1]
            names.add(":".join(name.split(":")[:2]))
    table = allele_table()
    for locus in LOCI:
        for allele in table.alleles[locus]:
            assert f"{locus}*{allele}" in names


def test_weights_are_distributions() -> None:
    table = allele_table()
    for locus in LOCI:
        assert len(table.alleles[locus]) >= 10
        assert table.weights[locus].sum() == pytest.approx(1.0)
        assert (table.weights[locus] > 0).all()


@settings(deadline=None, derandomize=True, max_examples=50)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_gl_string_form(seed: int) -> None:
    rng = np.random.Generator(np.random.PCG64(seed))
    h1, h2 = random_haplotype(rng), random_haplotype(rng)
    gl = gl_string(h1, h2)
    parts = gl.split("^")
    assert len(parts) == len(LOCI)
    for locus, part in zip(LOCI, parts, strict=True):
        a, b = part.split("+")
        for allele in (a, b):
            assert re.fullmatch(rf"HLA-{locus}\*\d{{2}}:\d{{2}}", allele)
        assert a <= b
    assert gl == gl_string(h2, h1)


@settings(deadline=None, derandomize=True, max_examples=50)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_kir_genotype(seed: int) -> None:
    genes = kir_genotype(np.random.Generator(np.random.PCG64(seed))).split(",")
    assert genes == sorted(set(genes))
    assert {"KIR3DL3", "KIR3DP1", "KIR2DL4", "KIR3DL2"} <= set(genes)  # framework genes
    assert all(re.fullmatch(r"KIR[23]D[LSP]\d", g) for g in genes)
