"""Pathway enrichment: over-representation (as clusterProfiler's ``enricher``) and
preranked GSEA (gseapy).

Over-representation follows clusterProfiler/DOSE ``enricher_internal`` with a given
universe: the universe is intersected with the genes that belong to at least one set of the
collection; each set is restricted to that universe and kept when its size is within
``[min_size, max_size]``; the query is the DEGs in the universe; only sets that contain at
least one query gene are tested. With ``N`` universe genes, ``M`` set genes, ``n`` query
genes and ``k`` of them in the set, ``p = P(X >= k)`` for ``X ~ Hypergeometric(N, M, n)``
(R: ``phyper(k - 1, M, N - M, n, lower.tail = FALSE)``), adjusted by Benjamini-Hochberg
over the tested sets.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from scipy.stats import hypergeom

from mst.errors import ValidationError
from mst.omics.de import _bh
from mst.omics.genesets import GeneSets

DEFAULT_MIN_SIZE = 10  # clusterProfiler enricher minGSSize
DEFAULT_MAX_SIZE = 500  # clusterProfiler enricher maxGSSize
ORA_COLUMNS = [
    "term",
    "description",
    "overlap",
    "set_size",
    "query_size",
    "universe_size",
    "gene_ratio",
    "bg_ratio",
    "fold_enrichment",
    "pvalue",
    "padj",
    "genes",
]


def _check_sizes(min_size: int, max_size: int) -> None:
    if min_size < 1:
        raise ValidationError("min-size", min_size, "must be at least 1")
    if max_size < min_size:
        raise ValidationError("max-size", max_size, f"must be >= min-size ({min_size})")


def over_representation(
    genes: Iterable[str],
    universe: Iterable[str],
    gene_sets: GeneSets,
    *,
    min_size: int = DEFAULT_MIN_SIZE,
    max_size: int = DEFAULT_MAX_SIZE,
) -> pd.DataFrame:
    """Hypergeometric over-representation test of ``genes`` against ``universe``.

    Parameters
    ----------
    genes : iterable of str
        Query genes (e.g. DEGs), in the identifier type of ``gene_sets``.
    universe : iterable of str
        Background (e.g. every gene with an adjusted p-value), same identifier type.
    gene_sets : GeneSets
        The collection.
    min_size, max_size : int
        Limits on the set size within the universe (clusterProfiler: 10 and 500).

    Returns
    -------
    pandas.DataFrame
        One row per tested set, sorted by p-value: ``term``, ``description``, ``overlap``
        (k), ``set_size`` (M), ``query_size`` (n), ``universe_size`` (N), ``gene_ratio``
        (``k/n``), ``bg_ratio`` (``M/N``), ``fold_enrichment``, ``pvalue``, ``padj``,
        ``genes`` (the overlapping genes, ``/``-separated).

    Raises
    ------
    ValidationError
        Bad size limits, or no query gene in the annotated universe.
    """
    _check_sizes(min_size, max_size)
    annotated = {g for s in gene_sets.sets.values() for g in s}
    uni = [g for g in dict.fromkeys(str(u) for u in universe) if g in annotated]
    uni_set = set(uni)
    query = [g for g in dict.fromkeys(str(x) for x in genes) if g in uni_set]
    if not uni:
        raise ValidationError(
            "universe", None, "no universe gene belongs to any gene set (identifier type mismatch?)"
        )
    if not query:
        raise ValidationError(
            "genes", None, "no query gene belongs to the annotated universe; nothing to test"
        )
    qset = set(query)
    N, n = len(uni), len(query)
    rows: list[dict[str, Any]] = []
    for term, members in gene_sets.sets.items():
        in_uni = [g for g in members if g in uni_set]
        M = len(in_uni)
        if min_size > M or max_size < M:
            continue
        hits = [g for g in in_uni if g in qset]
        k = len(hits)
        if k == 0:
            continue
        rows.append(
            {
                "term": term,
                "description": gene_sets.descriptions.get(term, ""),
                "overlap": k,
                "set_size": M,
                "query_size": n,
                "universe_size": N,
                "gene_ratio": f"{k}/{n}",
                "bg_ratio": f"{M}/{N}",
                "fold_enrichment": (k / n) / (M / N),
                "pvalue": float(hypergeom.sf(k - 1, N, M, n)),
                "genes": "/".join(sorted(hits)),
            }
        )
    df = pd.DataFrame(rows, columns=[c for c in ORA_COLUMNS if c != "padj"])
    df["padj"] = _bh(df["pvalue"].to_numpy(dtype=float)) if len(df) else []
    df = df.sort_values(["pvalue", "term"], kind="stable").reset_index(drop=True)
    return df[ORA_COLUMNS]


GSEA_COLUMNS = [
    "term",
    "description",
    "es",
    "nes",
    "pvalue",
    "padj",
    "set_size",
    "overlap",
    "genes",
]


def gsea_prerank(
    ranking: pd.Series,
    gene_sets: GeneSets,
    *,
    min_size: int = 15,
    max_size: int = 500,
    permutations: int = 1000,
    seed: int = 17,
    weight: float = 1.0,
) -> pd.DataFrame:
    """Preranked GSEA (gseapy ``prerank``) on a per-gene statistic (DESeq2's Wald ``stat``).

    Parameters
    ----------
    ranking : pandas.Series
        Gene -> statistic, identifiers of ``gene_sets``' type; NaN entries are dropped.
    gene_sets : GeneSets
    min_size, max_size : int
        Set-size limits after intersection with the ranked genes (gseapy's 15 / 500).
    permutations : int
        Gene-set permutations for the nominal p-value.
    seed : int
        Random seed (results are reproducible for a given seed).
    weight : float
        Weighting exponent of the running sum (1 = classic GSEA).

    Returns
    -------
    pandas.DataFrame
        ``term``, ``description``, ``es``, ``nes``, ``pvalue`` (nominal), ``padj`` (gseapy's
        FDR q-value), ``set_size``, ``overlap`` (leading-edge size), ``genes`` (leading edge).
    """
    import gseapy

    _check_sizes(min_size, max_size)
    if permutations < 10:
        raise ValidationError("permutations", permutations, "must be at least 10")
    rnk = ranking.dropna()
    rnk = rnk[~rnk.index.duplicated(keep="first")].sort_values(ascending=False)
    if rnk.empty:
        raise ValidationError("ranking", None, "no gene has a statistic")
    ranked = set(rnk.index)
    sets = {t: [g for g in genes if g in ranked] for t, genes in gene_sets.sets.items()}
    sets = {t: g for t, g in sets.items() if min_size <= len(g) <= max_size}
    if not sets:
        raise ValidationError(
            "gene-sets",
            gene_sets.name,
            f"no set has between {min_size} and {max_size} ranked genes (identifier mismatch?)",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gseapy.prerank(
            rnk=rnk.rename_axis("gene").reset_index(name="score"),
            gene_sets=sets,
            min_size=min_size,
            max_size=max_size,
            permutation_num=permutations,
            weight=weight,
            seed=seed,
            threads=1,
            outdir=None,
            no_plot=True,
            verbose=False,
        )
    r = res.res2d
    out = pd.DataFrame(
        {
            "term": r["Term"].astype(str),
            "description": [gene_sets.descriptions.get(str(t), "") for t in r["Term"]],
            "es": r["ES"].astype(float),
            "nes": r["NES"].astype(float),
            "pvalue": r["NOM p-val"].astype(float),
            "padj": r["FDR q-val"].astype(float),
            "set_size": [len(sets[str(t)]) for t in r["Term"]],
            "genes": r["Lead_genes"].astype(str).str.replace(";", "/"),
        }
    )
    out["overlap"] = [len(g.split("/")) if g else 0 for g in out["genes"]]
    out = out.sort_values(["pvalue", "nes", "term"], ascending=[True, False, True], kind="stable")
    return out[GSEA_COLUMNS].reset_index(drop=True)


def deg_lists(de_table: pd.DataFrame, direction: str = "both") -> tuple[list[str], list[str]]:
    """Query genes (DEGs of the chosen direction) and universe (genes with an adjusted p).

    Parameters
    ----------
    de_table : pandas.DataFrame
        A DE table with ``padj`` and ``direction`` (``up``/``down``/empty), indexed by gene.
    direction : str
        ``both``, ``up`` or ``down``.
    """
    if direction not in {"both", "up", "down"}:
        raise ValidationError("direction", direction, "must be both, up or down")
    tested = de_table[de_table["padj"].notna()]
    want: Sequence[str] = ("up", "down") if direction == "both" else (direction,)
    genes = [str(g) for g in tested.index[tested["direction"].isin(want)]]
    return genes, [str(g) for g in tested.index]
