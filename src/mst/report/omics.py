"""The optional omics section of the cohort report (seed 002 Figure 4): DE and enrichment
summary, top genes and terms, volcano, MA, heatmap, PCA and dot plot, from an omics result
file (:mod:`mst.omics.result`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from matplotlib.figure import Figure

from mst.omics.result import OmicsResult
from mst.report.document import Block, Fig, Para, Row, Table

SECTION_TITLE = "Figure 4. Transcriptomic profiling"


def _g(x: float | None, spec: str = ".3g") -> str:
    return "NA" if x is None or not math.isfinite(x) else format(x, spec)


def omics_figures(res: OmicsResult) -> list[tuple[str, str, Callable[[], Figure]]]:
    """``(id, caption, draw)`` of the omics panels; PCA and heatmap only with VST values."""
    from mst.omics import figures

    s = res.settings
    factor, test, ref = s["contrast"]
    lfc, padj = float(s["lfc_threshold"]), float(s["padj_threshold"])
    t = res.table
    out: list[tuple[str, str, Callable[[], Figure]]] = [
        ("omics_volcano", f"Volcano plot, {test} vs {ref}: log2 fold change against −log10 "
         f"adjusted p; DEGs (|log2 FC| ≥ {lfc:g}, adjusted p ≤ {padj:g}) coloured",
         lambda: figures.volcano(t, lfc, padj)),
        ("omics_ma", "MA plot: log2 fold change against the mean of normalised counts",
         lambda: figures.ma_plot(t)),
    ]
    if res.vst is not None:
        vst = res.vst
        groups = res.samples[factor].astype(str).loc[list(vst.columns)]
        out.append(("omics_pca", "PCA of variance-stabilised counts (blind to the design; "
                    f"{min(500, len(vst))} most variable genes), coloured by {factor}",
                    lambda: figures.pca(vst, groups)))
        out.append(("omics_heatmap", "Heatmap of the top DEGs (row z-scores of VST values; "
                    "samples and genes clustered, average linkage, Euclidean distance)",
                    lambda: figures.heatmap(vst, t, groups)))
    if res.enrich is not None and res.enrich_info is not None:
        e, method = res.enrich, res.enrich_info["method"]
        what = "gene ratio" if method == "ora" else "normalised enrichment score"
        out.append(("omics_dots", f"Enriched pathways ({method.upper()}): {what}; dot size = "
                    "genes in the set; colour = −log10 adjusted p",
                    lambda: figures.dot_plot(e, method)))
    return out


def omics_blocks(o: Mapping[str, Any], figs: Mapping[str, Fig]) -> list[Block]:
    """Paragraphs, tables and figures of the section from the report's ``omics`` numbers."""
    _factor, test, ref = o["contrast"]
    per = ", ".join(f"{k} n = {v}" for k, v in o["samples_per_level"].items())
    filt = (f"independent filtering at alpha {_g(o['alpha'])} (mean normalised count ≥ "
            f"{_g(o['filter_threshold'])})" if o.get("independent_filter")
            else "no independent filtering")
    blocks: list[Block] = [Para(
        f"RNA sequencing of {o['samples']} samples ({per}; {o['patients_linked']} linked to "
        f"registry patients). Differential expression of {test} against {ref} with DESeq2's "
        f"model (pydeseq2 {o.get('pydeseq2') or ''}; design {o['design']}; Wald test, "
        f"Benjamini–Hochberg, {filt}). Of {o['genes']} genes, {o['genes_tested']} were tested "
        f"and {o['genes_adjusted']} received an adjusted p; {o['up']} were up and {o['down']} "
        f"down at |log2 FC| ≥ {o['lfc_threshold']:g} and adjusted p ≤ "
        f"{o['padj_threshold']:g} (002 Methods). Source: {o['source']}.")]
    blocks.append(Table("omics_summary", f"Differential expression, {test} vs {ref}",
                        ["Measure", "Value"], [Row(r) for r in [
                            ["Genes in the count matrix", str(o["genes"])],
                            ["Genes tested (with a p-value)", str(o["genes_tested"])],
                            ["Genes with an adjusted p", str(o["genes_adjusted"])],
                            [f"Up in {test}", str(o["up"])],
                            [f"Down in {test}", str(o["down"])],
                            ["Thresholds", f"|log2 FC| ≥ {o['lfc_threshold']:g}, adjusted p ≤ "
                             f"{o['padj_threshold']:g}"]]]))
    for n in o.get("notes", []):
        blocks.append(Para(f"Note: {n}", "note"))
    if o["top_genes"]:
        blocks.append(Table(
            "omics_top_genes", f"Top {len(o['top_genes'])} DEGs by adjusted p",
            ["Gene", "Symbol", "Base mean", "log2 FC", "Adjusted p", "Direction"],
            [Row([g["gene_id"], g["symbol"] or "", _g(g["base_mean"], ".1f"),
                  _g(g["log2fc"], ".2f"), _g(g["padj"], ".2e"), g["direction"]])
             for g in o["top_genes"]]))
    blocks += [figs[k] for k in ("omics_volcano", "omics_ma", "omics_pca", "omics_heatmap")
               if k in figs]
    e = o.get("enrichment")
    if e is not None:
        method = e["method"]
        how = ("over-representation, hypergeometric test as clusterProfiler's enricher"
               if method == "ora" else "preranked GSEA on the Wald statistic")
        blocks.append(Para(
            f"Pathway enrichment ({how}) against "
            f"{e['gene_sets']}: {e['sets_tested']} gene sets tested, "
            f"{e['sets_significant']} with adjusted p ≤ 0.05."))
        if e["top_terms"]:
            blocks.append(Table(
                "omics_top_terms", f"Top {len(e['top_terms'])} gene sets by adjusted p",
                ["Term", "Description", "Genes", "Set size",
                 "Gene ratio" if method == "ora" else "NES", "Adjusted p"],
                [Row([t["term"], t["description"] or "", str(t["overlap"]), str(t["set_size"]),
                      _g(t["effect"], ".3f" if method == "ora" else ".2f"),
                      _g(t["padj"], ".2e")]) for t in e["top_terms"]]))
        if "omics_dots" in figs:
            blocks.append(figs["omics_dots"])
    return blocks
