"""mst.omics against R DESeq2 1.38 and base R (phyper, p.adjust, lowess): reference JSON
written by tests/reference/make_reference_omics.R from tests/reference/data/omics/.

Targets (issue 17): size factors within 1e-6, log2 fold changes within 1e-3 for genes with
base mean > 10, Spearman correlation of the p-values >= 0.999, DEG sets at |log2FC| >= 1 and
padj <= 0.05 with Jaccard >= 0.98; ORA p-values equal to 1e-10. Set MST_R_REFERENCE_DIR to
compare with freshly generated JSON as well (CI re-runs the R script).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from mst.omics.de import DEResult, differential_expression, independent_filtering
from mst.omics.enrich import over_representation
from mst.omics.genesets import GeneSets, _parse_gmt
from mst.omics.lowess import lowess

pytestmark = pytest.mark.r_parity

HERE = Path(__file__).resolve().parents[1] / "reference"
DATA = HERE / "data" / "omics"
FRESH = os.environ.get("MST_R_REFERENCE_DIR")
DIRS = [HERE] + ([Path(FRESH)] if FRESH else [])
CASES = {
    "example": ("~condition", "condition", "B", "A"),
    "sim4v2": ("~condition", "condition", "MST", "healthy"),
    "sim4v4batch": ("~batch + condition", "condition", "MST", "healthy"),
}


def ref(name: str, where: Path = HERE) -> dict[str, Any]:
    return json.loads((where / name).read_text())


def arr(x: Any) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in x], dtype=float)


@pytest.fixture(scope="module", params=list(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, DEResult]:
    name = request.param
    counts = pd.read_csv(DATA / f"{name}_counts.csv", index_col=0)
    samples = pd.read_csv(DATA / f"{name}_samples.csv", index_col=0, dtype=str)
    design, factor, test, reference = CASES[name]
    res = differential_expression(counts, samples, design, f"{factor},{test},{reference}")
    return name, res


@pytest.mark.parametrize("where", DIRS, ids=lambda p: "fresh" if p != HERE else "committed")
def test_deseq2_parity(case: tuple[str, DEResult], where: Path) -> None:
    name, res = case
    r = ref(f"ref_omics_de_{name}.json", where)
    t = res.table
    assert list(t.index) == r["gene_id"]
    assert list(res.size_factors.index) == r["samples"]
    np.testing.assert_allclose(res.size_factors, r["size_factors"], rtol=0, atol=1e-6)
    bm = arr(r["base_mean"])
    np.testing.assert_allclose(t["base_mean"], bm, rtol=1e-9, atol=1e-12)
    big = bm > 10
    assert big.sum() > 0.5 * bm.size
    np.testing.assert_allclose(t["log2fc"][big], arr(r["log2fc"])[big], rtol=0, atol=1e-3)
    p_r = arr(r["pvalue"])
    np.testing.assert_array_equal(np.isnan(t["pvalue"]), np.isnan(p_r))
    ok = ~np.isnan(p_r)
    rho = spearmanr(t["pvalue"][ok], p_r[ok]).statistic
    assert rho >= 0.999
    deg_r = set(r["deg"])
    deg_py = set(res.degs.index)
    jaccard = len(deg_r & deg_py) / len(deg_r | deg_py)
    assert len(deg_r) >= 50
    assert jaccard >= 0.98, (len(deg_r), len(deg_py), jaccard)


def test_independent_filtering_equals_deseq2_given_its_pvalues() -> None:
    """With R's own p-values our filtering picks R's threshold and R's adjusted p."""
    for name in CASES:
        r = ref(f"ref_omics_de_{name}.json")
        padj, thr, theta = independent_filtering(arr(r["base_mean"]), arr(r["pvalue"]), 0.05)
        assert thr == pytest.approx(r["filter_threshold"], rel=1e-12)
        assert theta == pytest.approx(r["filter_theta"], rel=1e-12)
        np.testing.assert_allclose(padj, arr(r["padj"]), rtol=1e-12, equal_nan=True)
        nr = r["filter_num_rej"]
        np.testing.assert_allclose(
            lowess(arr(nr["theta"]), arr(nr["num_rej"]), f=1 / 5), arr(nr["lowess"]), rtol=1e-10
        )


@pytest.mark.parametrize("where", DIRS, ids=lambda p: "fresh" if p != HERE else "committed")
def test_lowess_equals_r(where: Path) -> None:
    r = ref("ref_omics_lowess.json", where)
    x, y = arr(r["x"]), arr(r["y"])
    np.testing.assert_allclose(lowess(x, y, f=0.2), arr(r["fit_f02"]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lowess(x, y), arr(r["fit_f067"]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        lowess(x, y, f=0.3, iters=0), arr(r["fit_iter0"]), rtol=1e-10, atol=1e-12
    )


@pytest.fixture(scope="module")
def ora_inputs() -> tuple[list[str], list[str], GeneSets]:
    text = gzip.decompress((DATA / "ora_sets.gmt.gz").read_bytes()).decode()
    sets, desc = _parse_gmt(text, "ora_sets.gmt.gz")
    gs = GeneSets("ora", sets, desc, "entrez", {})
    genes = (DATA / "ora_genes.txt").read_text().split()
    universe = (DATA / "ora_universe.txt").read_text().split()
    return genes, universe, gs


@pytest.mark.parametrize("where", DIRS, ids=lambda p: "fresh" if p != HERE else "committed")
@pytest.mark.parametrize(("key", "lo", "hi"), [("default", 10, 500), ("narrow", 15, 200)])
def test_ora_equals_phyper_bh(
    ora_inputs: tuple[list[str], list[str], GeneSets], where: Path, key: str, lo: int, hi: int
) -> None:
    genes, universe, gs = ora_inputs
    r = ref("ref_omics_ora.json", where)[key]
    out = over_representation(genes, universe, gs, min_size=lo, max_size=hi).set_index("term")
    assert sorted(out.index) == sorted(r["term"])
    o = out.loc[r["term"]]
    assert (o["query_size"] == r["query_size"]).all()
    assert (o["universe_size"] == r["universe_size"]).all()
    np.testing.assert_array_equal(o["overlap"], r["overlap"])
    np.testing.assert_array_equal(o["set_size"], r["set_size"])
    np.testing.assert_allclose(o["pvalue"], arr(r["pvalue"]), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(o["padj"], arr(r["padj"]), rtol=1e-9, atol=1e-10)
    assert (o["pvalue"] < 1e-6).any()


@pytest.mark.skipif(not FRESH, reason="MST_R_REFERENCE_DIR not set")
def test_fresh_reference_equals_committed() -> None:
    for name in (
        "ref_omics_de_example.json",
        "ref_omics_de_sim4v2.json",
        "ref_omics_de_sim4v4batch.json",
        "ref_omics_lowess.json",
        "ref_omics_ora.json",
    ):
        a, b = ref(name), ref(name, Path(str(FRESH)))
        _same(a, b, name)


def _same(a: Any, b: Any, path: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            if k != "meta":
                _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and a and isinstance(a[0], float | int | type(None)):
        np.testing.assert_allclose(arr(a), arr(b), rtol=1e-10, equal_nan=True, err_msg=path)
    else:
        assert a == b, path
