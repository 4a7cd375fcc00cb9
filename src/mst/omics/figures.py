"""The panels of 002's Figure 4 on ``matplotlib.figure.Figure`` (no pyplot, no global state):
volcano, MA plot, heatmap of the top DEGs with sample clustering, PCA of variance-stabilised
counts, and a dot plot of enriched pathways."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.cluster.hierarchy import dendrogram, leaves_list, linkage
from scipy.spatial.distance import pdist

UP, DOWN, NS = "#c0392b", "#1f4e79", "#b8b8b8"
GROUP_COLORS = ["#2e8b57", "#8e44ad", "#d35400", "#1f77b4", "#7f8c8d", "#e6ab02"]
GROUP_NAMES = ["green", "purple", "orange", "blue", "grey", "yellow"]


def svg(fig: Figure) -> str:
    """The figure as an inline SVG string (no XML header; deterministic ids)."""
    import matplotlib as mpl

    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": "mst-omics", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def _label(table: pd.DataFrame) -> pd.Series:
    if "symbol" in table.columns:
        sym = table["symbol"].fillna("").astype(str)
        return sym.where(sym != "", table.index.to_series().astype(str))
    return table.index.to_series().astype(str)


def _colors(direction: pd.Series) -> list[str]:
    return [UP if d == "up" else DOWN if d == "down" else NS for d in direction]


def volcano(table: pd.DataFrame, lfc: float, padj: float, n_labels: int = 10) -> Figure:
    """log2 fold change against -log10 adjusted p, DEGs coloured, top genes labelled."""
    t = table[table["padj"].notna()]
    y = -np.log10(np.clip(t["padj"].to_numpy(dtype=float), 1e-300, 1))
    fig = Figure(figsize=(5.2, 4.2))
    ax = fig.add_subplot()
    ax.scatter(t["log2fc"], y, s=6, c=_colors(t["direction"]), linewidths=0, rasterized=False)
    ax.axvline(lfc, color="#666", lw=0.6, ls="--")
    ax.axvline(-lfc, color="#666", lw=0.6, ls="--")
    ax.axhline(-np.log10(padj), color="#666", lw=0.6, ls="--")
    labels = _label(t)
    top = t[t["direction"] != ""].nsmallest(n_labels, "padj")
    for g in top.index:
        ax.annotate(labels[g], (top.at[g, "log2fc"], -np.log10(max(top.at[g, "padj"], 1e-300))),
                    fontsize=6, xytext=(2, 2), textcoords="offset points")  # fmt: skip
    n_up = int((t["direction"] == "up").sum())
    n_down = int((t["direction"] == "down").sum())
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 adjusted p")
    ax.set_title(f"Volcano: {n_up} up, {n_down} down", fontsize=9, loc="left")
    return fig


def ma_plot(table: pd.DataFrame) -> Figure:
    """log2 fold change against the mean of normalised counts (log scale)."""
    t = table[table["base_mean"] > 0]
    fig = Figure(figsize=(5.2, 4.2))
    ax = fig.add_subplot()
    ax.scatter(t["base_mean"], t["log2fc"], s=5, c=_colors(t["direction"]), linewidths=0)
    ax.set_xscale("log")
    ax.axhline(0, color="#444", lw=0.6)
    ax.set_xlabel("mean of normalised counts")
    ax.set_ylabel("log2 fold change")
    ax.set_title("MA plot", fontsize=9, loc="left")
    return fig


def _group_colors(groups: pd.Series) -> dict[str, str]:
    levels = list(dict.fromkeys(groups.astype(str)))
    return {lv: GROUP_COLORS[i % len(GROUP_COLORS)] for i, lv in enumerate(levels)}


def heatmap(vst: pd.DataFrame, table: pd.DataFrame, groups: pd.Series, n_genes: int = 50) -> Figure:
    """Row-centred VST values of the top DEGs (by adjusted p); samples and genes clustered
    (average linkage on correlation distance), sample dendrogram and condition bar on top."""
    degs = table[table["direction"] != ""].nsmallest(n_genes, "padj")
    if len(degs) < 2:
        degs = table[table["padj"].notna()].nsmallest(max(2, min(n_genes, 20)), "padj")
    m = vst.loc[degs.index]
    z = m.sub(m.mean(axis=1), axis=0)
    sd = m.std(axis=1, ddof=1).replace(0, 1.0)
    z = z.div(sd, axis=0)
    col_link = linkage(pdist(z.T.to_numpy(), "euclidean"), "average")
    col_order = leaves_list(col_link)
    if z.shape[0] > 2:
        row_order = leaves_list(linkage(pdist(z.to_numpy(), "euclidean"), "average"))
    else:
        row_order = np.arange(z.shape[0])
    zz = z.iloc[row_order, col_order]
    labels = _label(table).loc[zz.index]
    h = 1.2 + 0.12 * len(zz)
    fig = Figure(figsize=(1.8 + 0.45 * zz.shape[1], h))
    gs = fig.add_gridspec(3, 2, height_ratios=[0.9, 0.18, 0.12 * len(zz)], width_ratios=[1, 0.04],
                          hspace=0.02, wspace=0.05)  # fmt: skip
    axd = fig.add_subplot(gs[0, 0])
    dendrogram(col_link, ax=axd, color_threshold=0, above_threshold_color="#444",
               no_labels=True)  # fmt: skip
    axd.set_axis_off()
    axg = fig.add_subplot(gs[1, 0])
    colors = _group_colors(groups)
    col_groups = groups.astype(str).loc[zz.columns]
    axg.imshow(
        np.array([[_rgb(colors[g]) for g in col_groups]]), aspect="auto", interpolation="nearest"
    )
    axg.set_axis_off()
    axh = fig.add_subplot(gs[2, 0])
    lim = float(np.nanmax(np.abs(zz.to_numpy()))) or 1.0
    im = axh.imshow(zz.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                    interpolation="nearest")  # fmt: skip
    axh.set_xticks(range(zz.shape[1]), [str(c) for c in zz.columns], rotation=90, fontsize=7)
    axh.set_yticks(range(zz.shape[0]), list(labels), fontsize=6)
    cax = fig.add_subplot(gs[2, 1])
    fig.colorbar(im, cax=cax, label="z-score (VST)")
    names = dict(zip(GROUP_COLORS, GROUP_NAMES, strict=True))
    legend = ", ".join(f"{g} {names[c]}" for g, c in colors.items())
    axd.set_title(f"Top {len(zz)} DEGs, samples clustered (bar: {legend})", fontsize=8, loc="left")
    return fig


def _rgb(hex_color: str) -> tuple[float, float, float]:
    h = hex_color.lstrip("#")
    return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def pca_points(vst: pd.DataFrame, ntop: int = 500) -> tuple[pd.DataFrame, tuple[float, float]]:
    """PC1/PC2 of the ``ntop`` most variable VST genes (DESeq2 ``plotPCA``'s default).

    Returns
    -------
    points : pandas.DataFrame
        ``PC1``, ``PC2`` per sample.
    explained : tuple of float
        Share of variance of PC1 and PC2.
    """
    var = vst.var(axis=1, ddof=1)
    top = var.sort_values(ascending=False, kind="stable").index[: min(ntop, len(var))]
    x = vst.loc[top].T.to_numpy(dtype=float)
    x = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    pcs = u * s
    # sign convention: the largest |loading| of each PC positive (deterministic orientation)
    for j in range(min(2, pcs.shape[1])):
        if pcs[np.argmax(np.abs(pcs[:, j])), j] < 0:
            pcs[:, j] = -pcs[:, j]
    share = s**2 / np.sum(s**2) if np.sum(s**2) > 0 else np.zeros_like(s)
    pts = pd.DataFrame({"PC1": pcs[:, 0], "PC2": pcs[:, 1] if pcs.shape[1] > 1 else 0.0},
                       index=vst.columns)  # fmt: skip
    return pts, (float(share[0]), float(share[1]) if share.size > 1 else 0.0)


def pca(vst: pd.DataFrame, groups: pd.Series, ntop: int = 500) -> Figure:
    """PCA of variance-stabilised counts, coloured by condition, samples labelled."""
    pts, (v1, v2) = pca_points(vst, ntop)
    colors = _group_colors(groups)
    fig = Figure(figsize=(5.0, 4.2))
    ax = fig.add_subplot()
    for g, c in colors.items():
        sel = groups.astype(str) == g
        ax.scatter(pts.loc[sel.to_numpy(), "PC1"], pts.loc[sel.to_numpy(), "PC2"], s=40, c=c,
                   label=g, edgecolors="white", linewidths=0.5)  # fmt: skip
    for s in pts.index:
        ax.annotate(str(s), (pts.at[s, "PC1"], pts.at[s, "PC2"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")  # fmt: skip
    ax.set_xlabel(f"PC1: {100 * v1:.0f}% variance")
    ax.set_ylabel(f"PC2: {100 * v2:.0f}% variance")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(f"PCA of VST counts (top {min(ntop, len(vst))} variable genes)", fontsize=9,
                 loc="left")  # fmt: skip
    return fig


def dot_plot(enrich: pd.DataFrame, method: str = "ora", n_terms: int = 20) -> Figure:
    """Top pathways: gene ratio (ORA) or NES (GSEA) on x, dot size = genes, colour = padj."""
    t = enrich.nsmallest(n_terms, "padj").iloc[::-1] if len(enrich) else enrich
    fig = Figure(figsize=(6.4, 1.2 + 0.24 * max(len(t), 1)))
    ax = fig.add_subplot()
    if t.empty:
        ax.text(0.5, 0.5, "no gene set tested", ha="center", va="center")
        ax.set_axis_off()
        return fig
    if method == "ora":
        x = t["overlap"] / t["query_size"]
        xlabel = "gene ratio (DEGs in set / DEGs)"
    else:
        x = t["nes"]
        xlabel = "normalised enrichment score"
    padj = np.clip(t["padj"].to_numpy(dtype=float), 1e-300, 1)
    size = 12 + 6 * np.sqrt(t["overlap"].to_numpy(dtype=float))
    sc = ax.scatter(x, range(len(t)), s=size, c=-np.log10(padj), cmap="viridis",
                    edgecolors="#333", linewidths=0.3)  # fmt: skip
    names = [(d or term)[:60] for d, term in zip(t["description"], t["term"], strict=True)]
    ax.set_yticks(range(len(t)), names, fontsize=7)
    ax.set_xlabel(xlabel)
    fig.colorbar(sc, ax=ax, label="-log10 adjusted p", shrink=0.7)
    ax.set_title("Enriched pathways", fontsize=9, loc="left")
    return fig
