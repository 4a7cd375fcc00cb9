"""Options of differential_expression on a small simulated study: apeGLM shrinkage keeps the
MLE for calls and p-values, plain BH without independent filtering, blind VST."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from mst.omics.de import DEResult, differential_expression
from mst.omics.simulate import simulate_counts


@pytest.fixture(scope="module")
def shrunk() -> tuple[DEResult, object]:
    sim = simulate_counts(4, 2, n_genes=150, n_de=20, seed=11)
    samples = sim.samples.set_index("sample_id")
    res = differential_expression(
        sim.counts, samples, "~condition", "condition,MST,healthy",
        shrink=True, vst=True, independent_filter=False,
    )  # fmt: skip
    return res, sim


def test_shrinkage_is_added_next_to_the_mle(shrunk: tuple[DEResult, object]) -> None:
    res, _ = shrunk
    t = res.table
    assert res.settings["shrink"] == "apeglm"
    assert {"log2fc_shrunk", "lfc_se_shrunk"} <= set(t.columns)
    ok = t["log2fc"].notna() & t["log2fc_shrunk"].notna()
    assert not np.allclose(t.loc[ok, "log2fc"], t.loc[ok, "log2fc_shrunk"])
    # apeGLM pulls estimates towards zero: never further out than the MLE (small slack)
    assert (t.loc[ok, "log2fc_shrunk"].abs() <= t.loc[ok, "log2fc"].abs() + 1e-6).mean() > 0.95
    # calls use the MLE, as DESeq2's results()
    calls = (t["padj"] <= 0.05) & (t["log2fc"].abs() >= 1)
    assert set(t.index[calls]) == set(res.degs.index)


def test_without_independent_filtering_padj_is_plain_bh(shrunk: tuple[DEResult, object]) -> None:
    res, _ = shrunk
    t = res.table
    ok = t["pvalue"].notna()
    assert res.settings["filter_threshold"] == 0.0
    np.testing.assert_allclose(
        t.loc[ok, "padj"], false_discovery_control(t.loc[ok, "pvalue"], method="bh"), rtol=1e-12
    )


def test_vst_is_on_log2_scale_and_complete(shrunk: tuple[DEResult, object]) -> None:
    res, sim = shrunk
    assert res.vst is not None
    assert res.vst.shape == sim.counts.shape  # type: ignore[attr-defined]
    assert np.isfinite(res.vst.to_numpy()).all()
    hi = res.table["base_mean"].idxmax()
    assert res.vst.loc[hi].mean() == pytest.approx(
        np.log2(res.normalized.loc[hi].mean()),
        abs=0.5,  # type: ignore[union-attr]
    )
