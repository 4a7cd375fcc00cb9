"""A self-contained HTML report of one transcriptomic comparison (002's Figure 4 panels)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from jinja2 import Environment

from mst.omics import figures
from mst.omics.de import DEResult

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;
color:#222;line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;
margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.figs{display:flex;flex-wrap:wrap;gap:1rem}.figs figure{margin:0}
figcaption{font-size:.8rem;color:#555}.note{color:#8a5300}
svg{max-width:100%;height:auto}
</style></head><body>
<h1>{{ title }}</h1>
<p>Differential expression of {{ s.contrast[1] }} against {{ s.contrast[2] }}
({{ s.n_samples }} samples, {{ s.n_genes }} genes), as in seed 002 (Methods "RNA sequencing
and bioinformatics analysis"; Figure 4). Generated {{ generated }}.</p>

<h2>Samples</h2>
<table id="samples"><tr><th>sample</th>{% for c in sample_cols %}<th>{{ c }}</th>{% endfor %}
<th>size factor</th></tr>
{% for r in samples %}<tr><td>{{ r.sample }}</td>{% for c in sample_cols %}<td>{{ r[c] }}</td>
{% endfor %}<td class="num">{{ r.size_factor }}</td></tr>{% endfor %}
</table>

<h2>Differential expression</h2>
<table id="de-summary">
<tr><th>design</th><td>{{ s.design }}</td></tr>
<tr><th>contrast</th><td>{{ s.contrast[0] }}: {{ s.contrast[1] }} vs {{ s.contrast[2] }}
(log2 fold change = {{ s.contrast[1] }} / {{ s.contrast[2] }})</td></tr>
<tr><th>DEG thresholds</th><td>|log2 FC| &ge; {{ s.lfc_threshold }} and adjusted p &le;
{{ s.padj_threshold }} (Benjamini&ndash;Hochberg)</td></tr>
<tr><th>independent filtering</th><td>{% if s.independent_filter %}on, alpha {{ s.alpha }};
genes with mean normalised count &lt; {{ "%.3g"|format(s.filter_threshold) }} not adjusted
{% else %}off{% endif %}</td></tr>
<tr><th>Cook's distance</th><td>{{ "p-values of outliers removed" if s.cooks_filter else "off" }};
outlier counts replaced from 7 replicates per group:
{{ "yes" if s.refit_cooks else "no" }}</td></tr>
<tr><th>genes tested</th><td class="num">{{ s.n_tested }}</td></tr>
<tr><th>up / down</th><td class="num" id="n-up-down">{{ s.n_up }} / {{ s.n_down }}</td></tr>
<tr><th>software</th><td>pydeseq2 {{ s.pydeseq2 }} (DESeq2 model; see docs/omics.md)</td></tr>
</table>
{% for n in notes %}<p class="note">Note: {{ n }}</p>{% endfor %}

<h2>Figures</h2>
<div class="figs">
<figure>{{ fig_volcano|safe }}<figcaption>Volcano plot.</figcaption></figure>
<figure>{{ fig_ma|safe }}<figcaption>MA plot.</figcaption></figure>
{% if fig_pca %}<figure>{{ fig_pca|safe }}<figcaption>PCA of variance-stabilised counts
(blind to the design).</figcaption></figure>{% endif %}
{% if fig_heatmap %}<figure>{{ fig_heatmap|safe }}<figcaption>Heatmap of the top DEGs,
samples clustered.</figcaption></figure>{% endif %}
{% if fig_dots %}<figure>{{ fig_dots|safe }}<figcaption>Enriched pathways.</figcaption>
</figure>{% endif %}
</div>

<h2>Top differentially expressed genes</h2>
<table id="top-degs"><tr><th>gene</th><th>symbol</th><th>base mean</th><th>log2 FC</th>
<th>SE</th><th>p</th><th>adjusted p</th><th>direction</th></tr>
{% for r in top %}<tr><td>{{ r.gene_id }}</td><td>{{ r.symbol }}</td>
<td class="num">{{ r.base_mean }}</td><td class="num">{{ r.log2fc }}</td>
<td class="num">{{ r.lfc_se }}</td><td class="num">{{ r.pvalue }}</td>
<td class="num">{{ r.padj }}</td><td>{{ r.direction }}</td></tr>{% endfor %}
</table>

{% if enrich is not none %}
<h2>Pathway enrichment ({{ einfo.method|upper }}, {{ einfo.gene_sets }})</h2>
<p>{% if einfo.method == "ora" %}Hypergeometric test of {{ einfo.degs_mapped }} DEGs against
the {{ einfo.universe_mapped }} tested genes that map to the collection (clusterProfiler's
<code>enricher</code> rules); {% else %}Preranked GSEA on the Wald statistic,
{{ einfo.permutations }} permutations (seed {{ einfo.seed }}); {% endif %}
gene sets: {{ source }}.</p>
<table id="enrichment"><tr><th>term</th><th>description</th><th>genes</th><th>set size</th>
<th>{{ "fold enrichment" if einfo.method == "ora" else "NES" }}</th><th>p</th>
<th>adjusted p</th></tr>
{% for r in enrich %}<tr><td>{{ r.term }}</td><td>{{ r.description }}</td>
<td class="num">{{ r.overlap }}</td><td class="num">{{ r.set_size }}</td>
<td class="num">{{ r.effect }}</td><td class="num">{{ r.pvalue }}</td>
<td class="num">{{ r.padj }}</td></tr>{% endfor %}
</table>
{% endif %}
</body></html>
"""


def _fmt(x: Any, spec: str = ".3g") -> str:
    if x is None:
        return "NA"
    if isinstance(x, float):
        if not math.isfinite(x):
            return "NA"
        return format(x, spec)
    return str(x)


@dataclass(frozen=True)
class OmicsReportInput:
    """Everything the report shows."""

    de: DEResult
    annotated: pd.DataFrame
    samples: pd.DataFrame
    enrich: pd.DataFrame | None = None
    enrich_info: dict[str, Any] | None = None
    title: str = "Transcriptomic profiling after MST"


def render_report(inp: OmicsReportInput, n_top: int = 30, n_terms: int = 20) -> str:
    """Render the report as one HTML string (figures inline as SVG)."""
    de = inp.de
    s = de.settings
    table = inp.annotated.set_index("gene_id", drop=False)
    group = inp.samples[s["contrast"][0]].astype(str)
    fig_volcano = figures.svg(figures.volcano(table, s["lfc_threshold"], s["padj_threshold"]))
    fig_ma = figures.svg(figures.ma_plot(table))
    fig_pca = fig_heat = None
    if de.vst is not None:
        fig_pca = figures.svg(figures.pca(de.vst, group))
        fig_heat = figures.svg(figures.heatmap(de.vst, table, group))
    fig_dots = None
    enrich_rows = None
    source = ""
    if inp.enrich is not None and inp.enrich_info is not None:
        method = inp.enrich_info["method"]
        fig_dots = figures.svg(figures.dot_plot(inp.enrich, method, n_terms))
        enrich_rows = []
        for r in inp.enrich.nsmallest(n_terms, "padj").to_dict(orient="records"):
            eff = r["fold_enrichment"] if method == "ora" else r["nes"]
            enrich_rows.append(
                {
                    "term": r["term"],
                    "description": r["description"],
                    "overlap": r["overlap"],
                    "set_size": r["set_size"],
                    "effect": _fmt(float(eff)),
                    "pvalue": _fmt(float(r["pvalue"])),
                    "padj": _fmt(float(r["padj"])),
                }
            )
        src = inp.enrich_info.get("gene_set_source", {})
        source = "; ".join(f"{k}: {v}" for k, v in src.items())
    ranked = table[table["padj"].notna()].sort_values(["padj", "pvalue"], kind="stable")
    top = [
        {
            "gene_id": r["gene_id"],
            "symbol": r.get("symbol", ""),
            "direction": r["direction"],
            "base_mean": _fmt(float(r["base_mean"]), ".1f"),
            "log2fc": _fmt(float(r["log2fc"]), ".2f"),
            "lfc_se": _fmt(float(r["lfc_se"]), ".2f"),
            "pvalue": _fmt(float(r["pvalue"])),
            "padj": _fmt(float(r["padj"])),
        }
        for r in ranked.head(n_top).to_dict(orient="records")
    ]
    sample_cols = list(inp.samples.columns)
    samples = []
    for sid, row in inp.samples.iterrows():
        rec = {"sample": str(sid), "size_factor": _fmt(float(de.size_factors[sid]), ".3f")}
        for c in sample_cols:
            v = row[c]
            rec[c] = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        samples.append(rec)
    env = Environment(autoescape=True)
    return env.from_string(_TEMPLATE).render(
        title=inp.title,
        s=s,
        notes=de.notes,
        generated=dt.date.today().isoformat(),
        sample_cols=sample_cols,
        samples=samples,
        fig_volcano=fig_volcano,
        fig_ma=fig_ma,
        fig_pca=fig_pca,
        fig_heatmap=fig_heat,
        fig_dots=fig_dots,
        top=top,
        enrich=enrich_rows,
        einfo=inp.enrich_info or {},
        source=source,
    )
