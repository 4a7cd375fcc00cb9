"""Options of differential_expression on a small simulated study: apeGLM shrinkage keeps the
MLE for calls and p-values, plain BH without independent filtering, blind VST."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from mst.omics.de import Contrast, DEResult, differential_expression
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


def test_shrunken_lfc_is_the_apeglm_posterior_mode(shrunk: tuple[DEResult, object]) -> None:
    """apeglm cannot run here (not packaged in Debian; docs/omics.md "LFC shrinkage"), so the
    shrunken LFCs are checked against apeglm's model as DESeq2's lfcShrink(type = "apeglm")
    calls it, written out independently: NB likelihood (fixed MAP dispersions, log size
    factors as offset), Cauchy prior on the LFC with scale min(sqrt(A), 1) where A solves
    apeglm's priorVar equation on the MLEs and their SEs, N(0, 15^2) on the intercept. Each
    gene's mode is found with BFGS from two starts."""
    from scipy.optimize import brentq, minimize, minimize_scalar

    res, sim = shrunk
    t = res.table
    ln2 = np.log(2)
    ok = t["log2fc"].notna() & t["lfc_se"].notna()
    s2 = (t.loc[ok, "log2fc"].to_numpy() * ln2) ** 2
    d2 = (t.loc[ok, "lfc_se"].to_numpy() * ln2) ** 2

    def prior_eq(a: float) -> float:
        w = 1 / (a + d2) ** 2
        return float(((s2 - d2) * w).sum() / w.sum() - a)

    a = 1e-6 if prior_eq(1e-6) < 0 else brentq(prior_eq, 1e-6, 400, xtol=1e-14)
    scale = min(np.sqrt(a), 1.0)
    samples = sim.samples.set_index("sample_id")  # type: ignore[attr-defined]
    x = np.column_stack([np.ones(len(samples)), (samples["condition"] == "MST").to_numpy(float)])
    off = np.log(res.size_factors.loc[samples.index].to_numpy())

    def post(beta: np.ndarray, y: np.ndarray, r: float) -> float:
        eta = x @ beta + off
        nll = -np.sum(y * eta - (y + r) * np.log(r + np.exp(eta)))
        return float(nll + np.log1p(beta[1] ** 2 / scale**2) + beta[0] ** 2 / (2 * 15**2))

    def grad(beta: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
        mu = np.exp(x @ beta + off)
        g = -(y - (y + r) * mu / (r + mu)) @ x
        return g + np.array([beta[0] / 15**2, 2 * beta[1] / (scale**2 + beta[1] ** 2)])

    diffs, gaps = [], []
    for g in t.index[ok]:
        y = sim.counts.loc[g, samples.index].to_numpy(float)  # type: ignore[attr-defined]
        r = 1 / float(res.dispersions[g])
        b0 = np.log(y.mean() + 1e-3)
        best = min((minimize(post, np.array([b0, s]), args=(y, r), jac=grad, method="BFGS",
                             options={"gtol": 1e-10})
                    for s in (0.0, float(t.at[g, "log2fc"]) * ln2)), key=lambda m: m.fun)
        mine = best.x[1] / ln2
        theirs = float(t.at[g, "log2fc_shrunk"])
        at_theirs = minimize_scalar(lambda c, y=y, r=r, b=theirs * ln2: post(
            np.array([c, b]), y, r)).fun
        diffs.append(abs(mine - theirs))
        gaps.append(at_theirs - best.fun)
    diffs_a, gaps_a = np.array(diffs), np.array(gaps)
    # measured: max 1.4e-3, median 6e-6 (log2); posterior gap <= 2e-5 — pydeseq2's L-BFGS-B
    # stops on a relative tolerance, never at a worse mode
    assert np.median(diffs_a) < 1e-4
    assert diffs_a.max() < 5e-3
    assert gaps_a.max() < 1e-3


@pytest.mark.parametrize(("n_patients", "n_controls", "n_batches"), [(4, 2, 1), (10, 10, 2)])
def test_initial_means_equal_pydeseq2s(n_patients: int, n_controls: int, n_batches: int) -> None:
    """The scipy ``lin_reg_mu`` gives pydeseq2's (scikit-learn) starting means. They were
    bitwise equal with scikit-learn 1.9; the test allows 1e-12 relative so that another
    scikit-learn solver path on newer wheels does not fail it."""
    from pydeseq2.default_inference import DefaultInference

    from mst.omics.de import _inference, design_matrix

    sim = simulate_counts(n_patients, n_controls, n_genes=120, n_de=10, seed=5,
                          n_batches=n_batches)  # fmt: skip
    samples = sim.samples.set_index("sample_id")
    terms = ["batch", "condition"] if n_batches > 1 else ["condition"]
    X = design_matrix(samples, terms, Contrast.parse("condition,MST,healthy")).to_numpy()
    counts = sim.counts.T.to_numpy(dtype=np.int64)
    counts = counts[:, counts.sum(axis=0) > 0]
    sf = np.exp(np.random.default_rng(3).normal(0.0, 0.3, X.shape[0]))
    kw = {"counts": counts, "size_factors": sf, "design_matrix": X, "min_mu": 0.5}
    ours = _inference(1).lin_reg_mu(**kw)
    theirs = DefaultInference(n_cpus=1).lin_reg_mu(**kw)
    assert ours.shape == theirs.shape == counts.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_fit_runs_on_one_blas_thread_and_restores_the_pool() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    from mst.omics.de import _one_blas_thread

    def blas_threads() -> set[int]:
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with _one_blas_thread():
            assert blas_threads() == {1}
        assert blas_threads() == before
