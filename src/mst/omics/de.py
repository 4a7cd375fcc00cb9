"""Differential expression with pydeseq2 (the maintained Python port of DESeq2).

pydeseq2 does the modelling: median-of-ratios size factors, gene-wise dispersions, the
parametric dispersion trend and its empirical-Bayes shrinkage, the negative-binomial GLM
and Wald test, Cook's distances (outlier replacement from 7 replicates on, p-value
filtering from 3) and optional apeGLM shrinkage of the log fold changes.

One step is done here instead: the **independent filtering** that decides which genes get
an adjusted p-value. pydeseq2 smooths the rejection curve with its own lowess, which can
choose another mean-count threshold than DESeq2; :func:`independent_filtering` reproduces
DESeq2's ``results()`` exactly (genefilter's ``filtered_p`` over 50 quantiles of the base
mean, R's ``lowess(f = 1/5)``, the first quantile whose rejections exceed the fitted maximum
minus the residual root-mean-square), then Benjamini-Hochberg. See ``docs/omics.md``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from mst.errors import ValidationError
from mst.omics.lowess import lowess

DEFAULT_LFC = 1.0  # 002 Methods: |log2 FC| >= 1.0
DEFAULT_PADJ = 0.05  # 002 Methods: adjusted p <= 0.05 (Benjamini-Hochberg)
_TERM = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class Contrast:
    """``factor``: compare level ``test`` against level ``reference`` (log2 test/reference)."""

    factor: str
    test: str
    reference: str

    @classmethod
    def parse(cls, text: str) -> Contrast:
        """Parse ``"condition,MST,healthy"``."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 3 or not all(parts):
            raise ValidationError(
                "contrast",
                text,
                "must be FACTOR,TEST_LEVEL,REFERENCE_LEVEL, e.g. condition,MST,healthy",
            )
        if parts[1] == parts[2]:
            raise ValidationError("contrast", text, "test and reference levels must differ")
        return cls(*parts)


@dataclass(frozen=True)
class DEResult:
    """Result of :func:`differential_expression`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per gene (index ``gene_id``): ``base_mean``, ``log2fc``, ``lfc_se``, ``stat``,
        ``pvalue``, ``padj``, ``direction`` (``up`` / ``down`` for DEGs at the thresholds,
        else empty); with shrinkage also ``log2fc_shrunk`` and ``lfc_se_shrunk``.
    size_factors : pandas.Series
        Median-of-ratios size factor per sample.
    dispersions : pandas.Series
        Final (MAP) dispersion per gene (NaN for all-zero genes).
    settings : dict
        Design, contrast, thresholds, filtering threshold, software versions.
    notes : list of str
        Warnings raised by the modelling library, in words.
    vst : pandas.DataFrame or None
        Variance-stabilised counts (genes x samples, blind to the design) when requested.
    normalized : pandas.DataFrame
        Counts divided by size factors (genes x samples).
    """

    table: pd.DataFrame
    size_factors: pd.Series
    dispersions: pd.Series
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    vst: pd.DataFrame | None = None
    normalized: pd.DataFrame | None = None

    @property
    def degs(self) -> pd.DataFrame:
        """Rows that pass both thresholds (``direction`` is ``up`` or ``down``)."""
        return self.table[self.table["direction"] != ""]


def design_terms(design: str) -> list[str]:
    """Variables of an additive design formula ``~ a + b`` (no interactions).

    Raises
    ------
    ValidationError
        Not of the form ``~ var + var ...``.
    """
    text = design.strip()
    if not text.startswith("~"):
        raise ValidationError(
            "design", design, "must start with '~', e.g. ~condition or ~batch + condition"
        )
    terms = [t.strip() for t in text[1:].split("+")]
    if not terms or any(not _TERM.match(t) for t in terms):
        raise ValidationError(
            "design",
            design,
            "must be an additive formula of sample-sheet columns, e.g. ~batch + condition "
            "(interactions and transformations are not supported)",
        )
    if len(set(terms)) != len(terms):
        raise ValidationError("design", design, "names a variable twice")
    return terms


def design_matrix(samples: pd.DataFrame, terms: list[str], contrast: Contrast) -> pd.DataFrame:
    """Treatment-coded design matrix (intercept + one column per non-reference level).

    Every design variable is a factor; the contrast's reference level is the reference of
    its factor, the first level in sheet order for the others.

    Raises
    ------
    ValidationError
        Unknown variables or levels, a single-level factor, a design that is not full rank,
        or no residual degrees of freedom.
    """
    for t in terms:
        if t not in samples.columns:
            raise ValidationError(
                f"design variable {t}",
                None,
                f"is not a sample-sheet column {list(samples.columns)}",
            )
    if contrast.factor not in terms:
        raise ValidationError(
            "contrast", contrast.factor, f"factor must be one of the design variables {terms}"
        )
    levels_present = list(dict.fromkeys(samples[contrast.factor]))
    for lv, role in ((contrast.test, "test"), (contrast.reference, "reference")):
        if lv not in levels_present:
            raise ValidationError(
                f"contrast {role} level",
                lv,
                f"is not a value of column {contrast.factor} {levels_present}",
            )
    cols: dict[str, NDArray[np.float64]] = {"Intercept": np.ones(len(samples))}
    for t in terms:
        values = samples[t].astype(str)
        levels = list(dict.fromkeys(values))
        if len(levels) < 2:
            raise ValidationError(
                f"design variable {t}", levels[0], "has a single level; remove it from the design"
            )
        ref = contrast.reference if t == contrast.factor else levels[0]
        for lv in levels:
            if lv != ref:
                cols[f"{t}[T.{lv}]"] = (values == lv).to_numpy(dtype=float)
    X = pd.DataFrame(cols, index=samples.index)
    rank = int(np.linalg.matrix_rank(X.to_numpy()))
    if rank < X.shape[1]:
        raise ValidationError(
            "design",
            " + ".join(terms),
            "is not full rank: some variables are combinations of others (for example a batch "
            "that coincides with a condition); the effects cannot be separated",
        )
    if X.shape[0] <= X.shape[1]:
        raise ValidationError(
            "design",
            " + ".join(terms),
            f"leaves no replicates: {X.shape[0]} samples for {X.shape[1]} coefficients",
        )
    return X


def _bh(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Benjamini-Hochberg over the non-missing values (R ``p.adjust(method = "BH")``)."""
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    n = q.size
    if n == 0:
        return out
    order = np.argsort(q)[::-1]
    ranks = np.arange(n, 0, -1)
    adj = np.minimum.accumulate(q[order] * n / ranks)
    res = np.empty(n)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def independent_filtering(
    base_mean: NDArray[np.float64], pvalue: NDArray[np.float64], alpha: float
) -> tuple[NDArray[np.float64], float, float]:
    """DESeq2's independent filtering on the mean of normalised counts.

    Parameters
    ----------
    base_mean, pvalue : numpy.ndarray
        Per gene; NaN p-values (all-zero genes, Cook's outliers) stay NaN.
    alpha : float
        Target FDR (DESeq2's ``results(alpha=)``).

    Returns
    -------
    padj : numpy.ndarray
        BH-adjusted p-values of the genes kept (NaN for filtered genes).
    threshold : float
        Base-mean cut-off (genes with ``base_mean >= threshold`` are kept).
    quantile : float
        The chosen quantile ``theta``.
    """
    bm = np.asarray(base_mean, dtype=float)
    p = np.asarray(pvalue, dtype=float)
    lower = float(np.mean(bm == 0))
    upper = 0.95 if lower < 0.95 else 1.0
    theta = np.linspace(lower, upper, 50)
    cutoffs = np.quantile(bm, theta)  # R quantile type 7
    padjs = []
    num_rej = np.zeros(theta.size)
    for i, c in enumerate(cutoffs):
        use = bm >= c
        adj = np.full(p.shape, np.nan)
        adj[use] = _bh(p[use])
        padjs.append(adj)
        num_rej[i] = np.sum(adj < alpha)
    if num_rej.max() <= 10:
        j = 0
    else:
        fit = lowess(theta, num_rej, f=1 / 5)
        pos = num_rej > 0
        residual = num_rej[pos] - fit[pos]
        thresh = fit.max() - np.sqrt(np.mean(residual**2))
        above = np.flatnonzero(num_rej > thresh)
        j = int(above[0]) if above.size else 0
    return padjs[j], float(cutoffs[j]), float(theta[j])


def _direction(
    lfc: NDArray[np.float64], padj: NDArray[np.float64], lfc_t: float, padj_t: float
) -> list[str]:
    out = []
    for lf, q in zip(lfc, padj, strict=True):
        if np.isfinite(q) and q <= padj_t and np.isfinite(lf) and abs(lf) >= lfc_t:
            out.append("up" if lf > 0 else "down")
        else:
            out.append("")
    return out


def differential_expression(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    design: str = "~condition",
    contrast: Contrast | str = "condition,MST,healthy",
    *,
    lfc_threshold: float = DEFAULT_LFC,
    padj_threshold: float = DEFAULT_PADJ,
    alpha: float | None = None,
    cooks_filter: bool = True,
    refit_cooks: bool = True,
    independent_filter: bool = True,
    shrink: bool = False,
    vst: bool = False,
    n_cpus: int = 1,
) -> DEResult:
    """Run DESeq2's pipeline (via pydeseq2) and call DEGs at the study's thresholds.

    Parameters
    ----------
    counts : pandas.DataFrame
        Raw counts, genes x samples (``int``), columns in the order of ``samples``' index.
    samples : pandas.DataFrame
        Sample sheet indexed by sample id with the design variables as columns.
    design : str
        Additive formula over sheet columns, e.g. ``~condition`` or ``~batch + condition``.
    contrast : Contrast or str
        ``factor,test,reference``; log2 fold changes are test / reference.
    lfc_threshold, padj_threshold : float
        DEG calls: ``|log2fc| >= lfc_threshold`` and ``padj <= padj_threshold``
        (002 Methods: 1 and 0.05).
    alpha : float, optional
        FDR target of independent filtering (DESeq2 ``results(alpha=)``); default
        ``padj_threshold``.
    cooks_filter, refit_cooks, independent_filter : bool
        DESeq2's defaults (all on).
    shrink : bool
        Add apeGLM-shrunk log fold changes (``log2fc_shrunk``, ``lfc_se_shrunk``); DEG calls
        and p-values keep the unshrunk estimate, as DESeq2's ``results()`` does.
    vst : bool
        Also compute blind variance-stabilised counts (for PCA and heatmaps).
    n_cpus : int
        Worker processes for pydeseq2.

    Returns
    -------
    DEResult

    Raises
    ------
    ValidationError
        Bad design, contrast or thresholds; samples that do not match.
    """
    import pydeseq2
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.ds import DeseqStats

    if not isinstance(contrast, Contrast):
        contrast = Contrast.parse(contrast)
    if not lfc_threshold >= 0 or not np.isfinite(lfc_threshold):
        raise ValidationError("lfc", lfc_threshold, "must be a number >= 0")
    if not 0 < padj_threshold <= 1:
        raise ValidationError("padj", padj_threshold, "must be in (0, 1]")
    alpha = padj_threshold if alpha is None else alpha
    if not 0 < alpha < 1:
        raise ValidationError("alpha", alpha, "must be in (0, 1)")
    if list(counts.columns) != list(samples.index):
        raise ValidationError("samples", None, "count columns and sample sheet rows must match")
    terms = design_terms(design)
    X = design_matrix(samples, terms, contrast)
    if counts.to_numpy().sum(axis=1).max() == 0:
        raise ValidationError("counts", None, "every gene has zero counts in every sample")
    zero_samples = [s for s in counts.columns if counts[s].sum() == 0]
    if zero_samples:
        raise ValidationError(f"sample {zero_samples[0]}", None, "has zero reads in every gene")
    if (counts > 0).all(axis=1).sum() == 0:
        raise ValidationError(
            "counts",
            None,
            "no gene has a count above zero in every sample, so median-of-ratios size factors "
            "cannot be computed",
        )

    meta = samples[terms].astype(str).copy()
    for t in terms:
        levels = list(dict.fromkeys(meta[t]))
        if t == contrast.factor:
            levels = [contrast.reference] + [lv for lv in levels if lv != contrast.reference]
        meta[t] = pd.Categorical(meta[t], categories=levels)
    notes: list[str] = []
    inference = _inference(n_cpus)
    with _one_blas_thread(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dds = DeseqDataSet(
            counts=counts.T.astype(np.int64),
            metadata=meta,
            design=X,
            refit_cooks=refit_cooks,
            inference=inference,
            quiet=True,
        )
        dds.deseq2()
        ds = DeseqStats(
            dds,
            contrast=_contrast_vector(X, contrast),
            alpha=alpha,
            cooks_filter=cooks_filter,
            independent_filter=False,
            inference=inference,
            quiet=True,
        )
        _wald_test_deseq2(ds, dds.min_mu)
        ds.summary()
        res = ds.results_df.copy()  # MLE results, before any shrinkage replaces them
        shrunk = None
        if shrink:
            coeff = f"{contrast.factor}[T.{contrast.test}]"
            ds.lfc_shrink(coeff=coeff)
            shrunk = (
                ds.LFC[coeff].to_numpy() / np.log(2),
                np.asarray(ds.SE, dtype=float) / np.log(2),
            )
        vst_df = None
        if vst:
            dds.vst(use_design=False)
            vst_df = pd.DataFrame(
                np.asarray(dds.layers["vst_counts"]).T, index=counts.index, columns=counts.columns
            )
    for w in caught:
        msg = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
        if msg and msg not in notes:
            notes.append(msg)

    base_mean = res["baseMean"].to_numpy(dtype=float)
    pvalue = res["pvalue"].to_numpy(dtype=float)
    if independent_filter:
        padj, threshold, quantile = independent_filtering(base_mean, pvalue, alpha)
    else:
        padj, threshold, quantile = _bh(pvalue), 0.0, 0.0
    lfc = res["log2FoldChange"].to_numpy(dtype=float)
    table = pd.DataFrame(
        {
            "base_mean": base_mean,
            "log2fc": lfc,
            "lfc_se": res["lfcSE"].to_numpy(dtype=float),
            "stat": res["stat"].to_numpy(dtype=float),
            "pvalue": pvalue,
            "padj": padj,
        },
        index=pd.Index(counts.index, name="gene_id"),
    )
    if shrunk is not None:
        table["log2fc_shrunk"] = shrunk[0]
        table["lfc_se_shrunk"] = shrunk[1]
    table["direction"] = _direction(lfc, padj, lfc_threshold, padj_threshold)
    sf = pd.Series(dds.obs["size_factors"].to_numpy(dtype=float), index=counts.columns)
    disp = pd.Series(np.asarray(dds.var["dispersions"], dtype=float), index=counts.index)
    normalized = counts / sf.to_numpy()[None, :]
    settings: dict[str, Any] = {
        "design": "~" + " + ".join(terms),
        "contrast": [contrast.factor, contrast.test, contrast.reference],
        "lfc_threshold": lfc_threshold,
        "padj_threshold": padj_threshold,
        "alpha": alpha,
        "cooks_filter": cooks_filter,
        "refit_cooks": refit_cooks,
        "independent_filter": independent_filter,
        "filter_threshold": threshold,
        "filter_quantile": quantile,
        "shrink": "apeglm" if shrink else None,
        "n_genes": int(counts.shape[0]),
        "n_samples": int(counts.shape[1]),
        "n_tested": int(np.sum(~np.isnan(pvalue))),
        "n_up": int(sum(d == "up" for d in table["direction"])),
        "n_down": int(sum(d == "down" for d in table["direction"])),
        "pydeseq2": pydeseq2.__version__,
    }
    return DEResult(
        table=table,
        size_factors=sf,
        dispersions=disp,
        settings=settings,
        notes=notes,
        vst=vst_df,
        normalized=normalized,
    )


def _inference(n_cpus: int) -> Any:
    """pydeseq2's ``DefaultInference`` with the initial linear-model means computed by scipy.

    ``lin_reg_mu`` (the starting means of the gene-wise dispersion fit, DESeq2's
    ``linearModelMu``) is pydeseq2's one step that fits a scikit-learn ``LinearRegression``
    per gene. Its input validation cost ~3 ms a gene, a third of the fit's profile. The
    override makes the very same LAPACK call (``scipy.linalg.lstsq`` with scikit-learn's
    ``cond``) and the same products, gene by gene, so the means are bitwise those of
    pydeseq2 (scikit-learn 1.9; ``tests/omics/test_omics_de_options.py`` checks 1e-12).
    """
    from pydeseq2.default_inference import DefaultInference
    from scipy.linalg import lstsq

    class _Inference(DefaultInference):  # type: ignore[misc]
        def lin_reg_mu(
            self,
            counts: NDArray[np.float64],
            size_factors: NDArray[np.float64],
            design_matrix: NDArray[np.float64],
            min_mu: float,
        ) -> NDArray[np.float64]:
            X = np.asarray(design_matrix, dtype=float)
            sf = np.asarray(size_factors, dtype=float)
            cond = 1e-6  # scikit-learn LinearRegression(tol=1e-6) passes it to lstsq
            mu = np.empty(counts.shape, dtype=float)
            for i in range(counts.shape[1]):
                coef = lstsq(X, counts[:, i] / sf, cond=cond)[0]
                mu[:, i] = np.maximum(sf * (X @ coef), min_mu)
            return mu

    return _Inference(n_cpus=n_cpus)


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run the fit with one BLAS/OpenMP thread in this process.

    pydeseq2 fits every gene on its own: an L-BFGS-B search for the dispersion (twice) and
    an IRLS for the coefficients, on vectors of the sample count and p x p matrices. No BLAS
    call is large enough for a second thread to help, but OpenBLAS (scipy's copy, used by
    L-BFGS-B) still hands some to its thread pool, and on a machine with more runnable jobs
    than cores every hand-over waits for a time slice: 200 dispersion fits took 8-10 s
    instead of 1 s, and the fit of 2,000 genes x 6 samples 180 s instead of 50 s. pydeseq2
    already gives its joblib workers one thread (``inner_max_num_threads=1``); this does the
    same for the process that runs ``n_cpus=1`` fits and the vectorised steps. The limit is
    only on threads: the arithmetic, and so every result, is unchanged.
    """
    with warnings.catch_warnings():  # threadpoolctl may warn about OpenMP runtimes
        warnings.simplefilter("ignore")
        limits = threadpool_limits(limits=1)
    try:
        yield
    finally:
        limits.restore_original_limits()


def _wald_test_deseq2(ds: Any, min_mu: float) -> None:
    """Wald test as DESeq2 computes it, using pydeseq2's own test function.

    Two conventions of DESeq2's ``fitBeta`` differ from pydeseq2's ``run_wald_test``: the
    fitted means enter the weights clamped at ``minmu`` (0.5), and the ridge is
    ``1e-6 / log(2)^2`` on the natural-log scale. They matter for genes with an all-zero
    group, whose standard error pydeseq2 inflates; elsewhere the change is below 1e-9.
    """
    X = ds.design_matrix.to_numpy(dtype=float)
    lfc = ds.LFC.to_numpy(dtype=float)
    sf = ds.dds.obs["size_factors"].to_numpy(dtype=float)
    mu = np.maximum(np.exp(X @ lfc.T) * sf[:, None], min_mu)
    ridge = np.diag(np.repeat(1e-6 / np.log(2) ** 2, X.shape[1]))
    pvals, stats, se = ds.inference.wald_test(
        design_matrix=X,
        disp=ds.dds.var["dispersions"].to_numpy(dtype=float),
        lfc=lfc,
        mu=mu,
        ridge_factor=ridge,
        contrast=ds.contrast_vector,
        lfc_null=0.0,
        alt_hypothesis=None,
    )
    names = ds.dds.var_names
    ds.p_values = pd.Series(pvals, index=names)
    ds.statistics = pd.Series(stats, index=names)
    ds.SE = pd.Series(se, index=names)
    if ds.dds.refit_cooks and ds.dds.var["replaced"].sum() > 0:
        ds.SE.loc[ds.dds.new_all_zeroes_genes] = 0.0
        ds.statistics.loc[ds.dds.new_all_zeroes_genes] = 0.0
        ds.p_values.loc[ds.dds.new_all_zeroes_genes] = 1.0


def _contrast_vector(X: pd.DataFrame, contrast: Contrast) -> NDArray[np.float64]:
    vec = np.zeros(X.shape[1])
    col = f"{contrast.factor}[T.{contrast.test}]"
    vec[list(X.columns).index(col)] = 1.0
    return vec
