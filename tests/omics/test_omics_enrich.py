"""Over-representation rules (clusterProfiler's enricher), GMT reading, identifier mapping
and the DEG thresholds at their boundaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import hypergeom

from mst.errors import ValidationError
from mst.omics.de import _direction
from mst.omics.enrich import deg_lists, gsea_prerank, over_representation
from mst.omics.genesets import GeneSets, annotation_meta, load_gene_sets, read_gmt
from mst.omics.ids import detect_id_type, map_ids


def _sets(**sizes: tuple[int, int]) -> GeneSets:
    """Sets named by key: (start, size) over genes g0000..."""
    sets = {k: tuple(f"g{i:04d}" for i in range(a, a + n)) for k, (a, n) in sizes.items()}
    return GeneSets("t", sets, {k: k.upper() for k in sets}, "symbol", {})


def test_ora_counts_and_pvalue_by_hand() -> None:
    gs = _sets(A=(0, 20), B=(100, 30))
    universe = [f"g{i:04d}" for i in range(200)] + ["unannotated"]
    genes = ["g0000", "g0001", "g0002", "g0003", "g0100", "unannotated", "not-in-universe"]
    t = over_representation(genes, universe, gs).set_index("term")
    # universe = annotated universe genes (50); query = DEGs in it (5)
    assert t.loc["A", "universe_size"] == 50
    assert t.loc["A", "query_size"] == 5
    assert t.loc["A", "overlap"] == 4
    assert t.loc["A", "gene_ratio"] == "4/5"
    assert t.loc["A", "pvalue"] == pytest.approx(hypergeom.sf(3, 50, 20, 5), rel=1e-12)
    assert t.loc["A", "genes"] == "g0000/g0001/g0002/g0003"
    p = np.array([t.loc["A", "pvalue"], t.loc["B", "pvalue"]])
    assert t.loc["A", "padj"] == pytest.approx(min(1.0, p.min() * 2 / 1), rel=1e-12)


@pytest.mark.parametrize(("size", "tested"), [(9, False), (10, True), (500, True), (501, False)])
def test_ora_set_size_limits_are_inclusive(size: int, tested: bool) -> None:
    gs = _sets(S=(0, size), other=(600, 20))
    universe = [f"g{i:04d}" for i in range(700)]
    t = over_representation(["g0000", "g0600"], universe, gs)
    assert ("S" in set(t["term"])) is tested


def test_ora_set_size_counts_universe_genes_only() -> None:
    """A 12-gene set with 3 genes outside the universe has size 9 and is not tested."""
    gs = _sets(S=(0, 12), other=(100, 20))
    universe = [f"g{i:04d}" for i in range(3, 200)]
    t = over_representation(["g0005", "g0100"], universe, gs)
    assert "S" not in set(t["term"])


def test_ora_skips_sets_without_query_genes_and_refuses_empty_query() -> None:
    gs = _sets(A=(0, 20), B=(100, 30))
    universe = [f"g{i:04d}" for i in range(200)]
    assert list(over_representation(["g0001"], universe, gs)["term"]) == ["A"]
    with pytest.raises(ValidationError, match="no query gene"):
        over_representation(["zzz"], universe, gs)
    with pytest.raises(ValidationError, match="max-size"):
        over_representation(["g0001"], universe, gs, min_size=20, max_size=10)


def test_deg_thresholds_are_inclusive_at_both_boundaries() -> None:
    """002 Methods: |log2 FC| >= 1.0 and adjusted p <= 0.05."""
    lfc = np.array([1.0, -1.0, 0.999999, 1.5, 2.0, 2.0, np.nan])
    padj = np.array([0.05, 0.05, 0.01, 0.0500001, 0.049, np.nan, 0.01])
    assert _direction(lfc, padj, 1.0, 0.05) == ["up", "down", "", "", "up", "", ""]


def test_deg_lists_universe_is_genes_with_adjusted_p() -> None:
    de = pd.DataFrame(
        {"padj": [0.01, 0.2, np.nan, 0.001], "direction": ["up", "", "", "down"]},
        index=["a", "b", "c", "d"],
    )
    assert deg_lists(de, "both") == (["a", "d"], ["a", "b", "d"])
    assert deg_lists(de, "up") == (["a"], ["a", "b", "d"])
    with pytest.raises(ValidationError, match="both, up or down"):
        deg_lists(de, "sideways")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("SET1\tdesc\n", "set name, description, then genes"),
        ("SET1\tdesc\tA\tB\nSET1\tdesc\tC\n", "appears twice"),
        ("SET1\tdesc\t\t\n", "no genes"),
        ("\n\n", "contains no gene sets"),
    ],
)
def test_bad_gmt_is_refused(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "kegg.gmt"
    p.write_text(text)
    with pytest.raises(ValidationError, match=match):
        read_gmt(p)


def test_user_gmt_with_symbols(tmp_path: Path) -> None:
    p = tmp_path / "kegg.gmt"
    p.write_text("KEGG_LYSOSOME\thttp://x\tCTSB\tCTSD\tLAMP1\nKEGG_X\tna\tTP53\tMDM2\n")
    gs = read_gmt(p)
    assert gs.id_type == "symbol"
    assert gs.sets["KEGG_LYSOSOME"] == ("CTSB", "CTSD", "LAMP1")


def test_shipped_go_bp_and_provenance() -> None:
    gs = load_gene_sets("go-bp")
    assert gs.id_type == "entrez"
    assert gs.descriptions["GO:0007040"] == "lysosome organization"
    assert "7157" in gs.sets["GO:0006974"]  # TP53 in DNA damage response
    assert gs.source["licence"].startswith("CC BY 4.0")
    meta = annotation_meta()
    assert meta["org_hs_eg_db"] == "3.16.0"
    assert meta["go_bp_sets"] == len(gs.sets)
    with pytest.raises(ValidationError, match="go-bp"):
        load_gene_sets("kegg")


def test_identifier_mapping_offline() -> None:
    assert detect_id_type(["ENSG00000141510.17", "ENSG00000012048"]) == "ensembl"
    assert detect_id_type(["7157", "672"]) == "entrez"
    assert detect_id_type(["TP53", "BRCA1"]) == "symbol"
    m = map_ids(["ENSG00000141510.17", "ENSG00000000000"], "ensembl", "symbol")
    assert m == {"ENSG00000141510.17": "TP53"}
    assert map_ids(["TP53"], "symbol", "entrez") == {"TP53": "7157"}
    assert map_ids(["7157"], "entrez", "ensembl") == {"7157": "ENSG00000141510"}


def test_gsea_prerank_finds_a_shifted_set_and_is_reproducible() -> None:
    rng = np.random.default_rng(3)
    genes = [f"g{i:04d}" for i in range(400)]
    rank = pd.Series(rng.normal(size=400), index=genes)
    rank.iloc[:30] += 2.5
    gs = _sets(up=(0, 30), null=(200, 40))
    a = gsea_prerank(rank, gs, permutations=100, seed=1).set_index("term")
    b = gsea_prerank(rank, gs, permutations=100, seed=1).set_index("term")
    pd.testing.assert_frame_equal(a, b)
    assert a.loc["up", "nes"] > 0
    assert a.loc["up", "pvalue"] < 0.05
    assert a.loc["up", "set_size"] == 30
    assert a.loc["null", "nes"] < a.loc["up", "nes"]
