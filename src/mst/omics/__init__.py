"""Transcriptomics of MST patients' blood (seed 002, Methods "RNA sequencing and
bioinformatics analysis", Results "Transcriptomic profiling", Figure 4).

Differential expression with pydeseq2 (DESeq2's model; DESeq2's independent filtering and
Wald-test conventions, checked against R), over-representation and preranked GSEA on GMT
gene sets (GO biological process shipped; KEGG from the user's own GMT), offline identifier
mapping, a count simulator for a 4-vs-2 study like 002's, and the Figure 4 panels in an HTML
report. This package never imports the registry or the web app.
"""

from mst.omics.de import Contrast, DEResult, differential_expression
from mst.omics.enrich import deg_lists, gsea_prerank, over_representation
from mst.omics.genesets import GeneSets, load_gene_sets, read_gmt
from mst.omics.io import CountMatrix, SampleSheet, align, read_counts, read_sample_sheet
from mst.omics.simulate import SimulatedCounts, simulate_counts

__all__ = [
    "Contrast",
    "CountMatrix",
    "DEResult",
    "GeneSets",
    "SampleSheet",
    "SimulatedCounts",
    "align",
    "deg_lists",
    "differential_expression",
    "gsea_prerank",
    "load_gene_sets",
    "over_representation",
    "read_counts",
    "read_gmt",
    "read_sample_sheet",
    "simulate_counts",
]
