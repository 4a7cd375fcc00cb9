"""Donor microchimerism: marker selection and quantification by NGS, qPCR and STR."""

from mst.monitoring.chimerism.genotypes import (
    Genotype,
    InformativeMarker,
    call_genotype,
    select_informative_markers,
)
from mst.monitoring.chimerism.limits import ChimerismValue, clopper_pearson, lob_lod_from_replicates
from mst.monitoring.chimerism.ngs import NgsMarkerResult, NgsResult, quantify_ngs
from mst.monitoring.chimerism.qpcr import StandardCurve, ddct_percent, fit_standard_curve
from mst.monitoring.chimerism.series import ChimerismCourse, summarize_series
from mst.monitoring.chimerism.str_ import (
    StrMarkerResult,
    StrResult,
    quantify_str,
    str_marker_percent,
)

__all__ = [
    "ChimerismCourse",
    "ChimerismValue",
    "Genotype",
    "InformativeMarker",
    "NgsMarkerResult",
    "NgsResult",
    "StandardCurve",
    "StrMarkerResult",
    "StrResult",
    "call_genotype",
    "clopper_pearson",
    "ddct_percent",
    "fit_standard_curve",
    "lob_lod_from_replicates",
    "quantify_ngs",
    "quantify_str",
    "select_informative_markers",
    "str_marker_percent",
    "summarize_series",
]
