"""The omics result file: what the cohort report needs to show one transcriptomic comparison.

``mst omics de … --result omics.json`` and ``mst omics report … --result omics.json`` write it;
``mst report … --omics omics.json [--omics-enrichment enrich.csv]`` reads it. It holds the
DE settings, the samples (condition, patient link, size factor), every gene's statistics, the
variance-stabilised counts of the genes the PCA and the heatmap use, and optionally the
enrichment table. Reading checks every field and names the file and field it refuses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mst.errors import ValidationError
from mst.omics.de import DEResult
from mst.omics.enrich import GSEA_COLUMNS, ORA_COLUMNS

FORMAT = "mst-omics-result"
VERSION = 1
PCA_TOP = 500  # DESeq2 plotPCA's ntop
HEATMAP_TOP = 50
GENE_NUMBERS = ("base_mean", "log2fc", "lfc_se", "stat", "pvalue", "padj")


@dataclass(frozen=True)
class OmicsResult:
    """One comparison as read back from a result file.

    Attributes
    ----------
    settings : dict
        Design, contrast ``[factor, test, reference]``, thresholds (``lfc_threshold``,
        ``padj_threshold``), filtering and software, as written by
        :func:`mst.omics.de.differential_expression`.
    samples : pandas.DataFrame
        Index ``sample_id``; the contrast factor, optional ``patient_id``/``batch``,
        ``size_factor``.
    table : pandas.DataFrame
        Index ``gene_id``; ``symbol``, ``base_mean``, ``log2fc``, ``lfc_se``, ``stat``,
        ``pvalue``, ``padj``, ``direction``.
    vst : pandas.DataFrame or None
        Variance-stabilised counts (genes x samples) of the figure genes.
    enrich : pandas.DataFrame or None
        ORA or GSEA rows (``genes`` joined by ``/``).
    enrich_info : dict or None
        ``method`` (``ora``/``gsea``), ``gene_sets`` and what else the enrichment recorded.
    notes : list of str
        Warnings of the DE fit.
    source : str
        The file read.
    """

    settings: dict[str, Any]
    samples: pd.DataFrame
    table: pd.DataFrame
    vst: pd.DataFrame | None
    enrich: pd.DataFrame | None
    enrich_info: dict[str, Any] | None
    notes: list[str]
    source: str


def _num(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def figure_genes(table: pd.DataFrame, vst: pd.DataFrame) -> list[str]:
    """The genes the PCA (``PCA_TOP`` most variable) and the heatmap (top DEGs) draw."""
    var = vst.var(axis=1, ddof=1)
    top_var = list(var.sort_values(ascending=False, kind="stable").index[:PCA_TOP])
    degs = table[table["direction"] != ""].nsmallest(HEATMAP_TOP, "padj").index
    tested = table[table["padj"].notna()].nsmallest(HEATMAP_TOP, "padj").index
    keep = set(top_var) | set(degs) | set(tested)
    return [g for g in vst.index if g in keep]


def build_result(de: DEResult, annotated: pd.DataFrame, samples: pd.DataFrame,
                 enrich: pd.DataFrame | None = None,
                 enrich_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The result file's content (JSON-ready) from a DE fit with VST and an optional enrichment.

    Parameters
    ----------
    de : DEResult
        Fit of :func:`mst.omics.de.differential_expression` with ``vst=True``.
    annotated : pandas.DataFrame
        :func:`mst.omics.pipeline.annotate` of ``de.table``.
    samples : pandas.DataFrame
        Sample sheet (index ``sample_id``).
    enrich, enrich_info : optional
        Output of :func:`mst.omics.pipeline.enrich_table`.

    Returns
    -------
    dict
    """
    from mst.omics.pipeline import de_records, enrich_records

    if de.vst is None:
        raise ValidationError("vst", None, "the omics result needs the variance-stabilised "
                              "counts (fit with vst=True)")
    table = annotated.set_index("gene_id", drop=False)
    table["direction"] = table["direction"].fillna("").astype(str)
    keep = figure_genes(table, de.vst)
    rows = []
    for sid, row in samples.iterrows():
        rec: dict[str, Any] = {"sample_id": str(sid)}
        for c in samples.columns:
            v = row[c]
            rec[str(c)] = None if v is None or (isinstance(v, float) and math.isnan(v)) \
                else str(v)
        rec["size_factor"] = float(de.size_factors[sid])
        rows.append(rec)
    vst = de.vst.loc[keep, [str(s) for s in samples.index]]
    return {
        "format": FORMAT,
        "version": VERSION,
        "settings": de.settings,
        "notes": list(de.notes),
        "samples": rows,
        "genes": de_records(annotated),
        "vst": {"genes": [str(g) for g in vst.index], "samples": list(vst.columns),
                "values": [[_num(x) for x in r] for r in vst.to_numpy(dtype=float)],
                "note": f"the {PCA_TOP} most variable genes and the top {HEATMAP_TOP} DEGs "
                        "(blind VST)"},
        "enrichment": None if enrich is None or enrich_info is None else
        {"info": enrich_info, "sets": enrich_records(enrich)},
    }


def write_result(path: str | Path, result: dict[str, Any]) -> None:
    """Write the result file (one JSON document, replaced atomically)."""
    from mst.jsonout import to_json

    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(to_json(result) + "\n", encoding="utf-8")
    tmp.replace(p)


class _Reader:
    """Field checks that name the file and the field."""

    def __init__(self, name: str) -> None:
        self.name = name

    def err(self, field: str, value: Any, rule: str) -> ValidationError:
        return ValidationError(f"{self.name}, field {field}", value, rule)

    def get(self, obj: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...],
            what: str) -> Any:
        if key not in obj:
            raise self.err(f"{where}{key}", None, "is missing")
        v = obj[key]
        if not isinstance(v, kind) or (isinstance(v, bool) and kind is not bool):
            raise self.err(f"{where}{key}", v, f"must be {what}")
        return v

    def number(self, obj: dict[str, Any], key: str, where: str, nullable: bool) -> float:
        if key not in obj:
            raise self.err(f"{where}{key}", None, "is missing")
        v = obj[key]
        if v is None and nullable:
            return math.nan
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.err(f"{where}{key}", v, "must be a number"
                           + (" or null" if nullable else ""))
        return float(v)


def read_result(path: str | Path) -> OmicsResult:
    """Read and check an omics result file.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValidationError
        Not JSON, not an omics result, or a field missing or of the wrong kind (the message
        names the file and the field).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    rd = _Reader(p.name)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(p.name, None, "is not a JSON omics result (write one with "
                              "'mst omics de … --result' or 'mst omics report … --result')"
                              ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise rd.err("format", data.get("format") if isinstance(data, dict) else None,
                     f"must be '{FORMAT}' (write the file with 'mst omics de … --result')")
    if data.get("version") != VERSION:
        raise rd.err("version", data.get("version"), f"must be {VERSION}")
    s = rd.get(data, "settings", "", dict, "an object")
    con = rd.get(s, "contrast", "settings.", list, "a list [factor, test, reference]")
    if len(con) != 3 or not all(isinstance(c, str) and c for c in con):
        raise rd.err("settings.contrast", con, "must be a list [factor, test, reference]")
    rd.get(s, "design", "settings.", str, "a design formula")
    lfc_t = rd.number(s, "lfc_threshold", "settings.", False)
    padj_t = rd.number(s, "padj_threshold", "settings.", False)
    if lfc_t < 0:
        raise rd.err("settings.lfc_threshold", lfc_t, "must be at least 0")
    if not 0 < padj_t <= 1:
        raise rd.err("settings.padj_threshold", padj_t, "must be in (0, 1]")
    notes = [str(n) for n in data.get("notes") or []]
    samples = _read_samples(rd, data, con[0])
    table = _read_genes(rd, data, lfc_t, padj_t)
    vst = _read_vst(rd, data, samples, table)
    enrich = info = None
    if data.get("enrichment") is not None:
        e = rd.get(data, "enrichment", "", dict, "an object or null")
        info = rd.get(e, "info", "enrichment.", dict, "an object")
        sets = rd.get(e, "sets", "enrichment.", list, "a list")
        enrich = _sets_frame(rd, info, sets)
    return OmicsResult(dict(s), samples, table, vst, enrich, info, notes, str(p))


def _read_samples(rd: _Reader, data: dict[str, Any], factor: str) -> pd.DataFrame:
    rows = rd.get(data, "samples", "", list, "a list of samples")
    if len(rows) < 2:
        raise rd.err("samples", None, "must list at least two samples")
    recs = []
    for i, r in enumerate(rows):
        w = f"samples[{i}]."
        if not isinstance(r, dict):
            raise rd.err(f"samples[{i}]", r, "must be an object")
        rec = {"sample_id": rd.get(r, "sample_id", w, str, "a sample id"),
               factor: rd.get(r, factor, w, str, f"a level of {factor}"),
               "size_factor": rd.number(r, "size_factor", w, False)}
        for k, v in r.items():
            if k not in rec:
                rec[k] = "" if v is None else str(v)
        recs.append(rec)
    df = pd.DataFrame(recs)
    dup = df["sample_id"].duplicated()
    if dup.any():
        raise rd.err("samples.sample_id", df["sample_id"][dup].iloc[0], "appears twice")
    return df.set_index("sample_id")


def _read_genes(rd: _Reader, data: dict[str, Any], lfc_t: float, padj_t: float
                ) -> pd.DataFrame:
    genes = rd.get(data, "genes", "", list, "a list of genes")
    if not genes:
        raise rd.err("genes", None, "is empty")
    recs = []
    for i, g in enumerate(genes):
        w = f"genes[{i}]."
        if not isinstance(g, dict):
            raise rd.err(f"genes[{i}]", g, "must be an object")
        rec: dict[str, Any] = {"gene_id": rd.get(g, "gene_id", w, str, "a gene id")}
        sym = g.get("symbol")
        if sym is not None and not isinstance(sym, str):
            raise rd.err(f"{w}symbol", sym, "must be text or null")
        rec["symbol"] = sym or ""
        for k in GENE_NUMBERS:
            rec[k] = rd.number(g, k, w, nullable=k != "base_mean")
        d = g.get("direction") or ""
        if d not in ("", "up", "down"):
            raise rd.err(f"{w}direction", d, "must be up, down or null")
        call = (not math.isnan(rec["padj"]) and rec["padj"] <= padj_t
                and not math.isnan(rec["log2fc"]) and abs(rec["log2fc"]) >= lfc_t)
        want = ("up" if rec["log2fc"] > 0 else "down") if call else ""
        if d != want:
            raise rd.err(f"{w}direction", d or None,
                         f"disagrees with log2fc, padj and the thresholds (|log2 FC| >= "
                         f"{lfc_t:g}, padj <= {padj_t:g}); expected {want or 'null'}")
        rec["direction"] = d
        recs.append(rec)
    df = pd.DataFrame(recs)
    dup = df["gene_id"].duplicated()
    if dup.any():
        raise rd.err("genes.gene_id", df["gene_id"][dup].iloc[0], "appears twice")
    return df.set_index("gene_id", drop=False)


def _read_vst(rd: _Reader, data: dict[str, Any], samples: pd.DataFrame,
              table: pd.DataFrame) -> pd.DataFrame | None:
    v = data.get("vst")
    if v is None:
        return None
    if not isinstance(v, dict):
        raise rd.err("vst", v, "must be an object or null")
    genes = rd.get(v, "genes", "vst.", list, "a list of gene ids")
    cols = rd.get(v, "samples", "vst.", list, "a list of sample ids")
    values = rd.get(v, "values", "vst.", list, "a list of rows")
    if sorted(map(str, cols)) != sorted(samples.index):
        raise rd.err("vst.samples", cols, "must be the samples of the field samples")
    unknown = [g for g in genes if g not in table.index]
    if unknown:
        raise rd.err("vst.genes", unknown[0], "is not in the field genes")
    if len(values) != len(genes):
        raise rd.err("vst.values", None, f"must have one row per gene ({len(genes)})")
    mat = np.empty((len(genes), len(cols)))
    for i, row in enumerate(values):
        if not isinstance(row, list) or len(row) != len(cols):
            raise rd.err(f"vst.values[{i}]", None, f"must be a list of {len(cols)} numbers")
        for j, x in enumerate(row):
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
                raise rd.err(f"vst.values[{i}][{j}]", x, "must be a number")
            mat[i, j] = x
    return pd.DataFrame(mat, index=[str(g) for g in genes], columns=[str(c) for c in cols])


def _method_of(columns: list[str]) -> str | None:
    if "nes" in columns:
        return "gsea"
    if "query_size" in columns:
        return "ora"
    return None


def _sets_frame(rd: _Reader, info: dict[str, Any], sets: list[Any]) -> pd.DataFrame:
    method = info.get("method")
    if method not in ("ora", "gsea"):
        raise rd.err("enrichment.info.method", method, "must be ora or gsea")
    need = ORA_COLUMNS if method == "ora" else GSEA_COLUMNS
    recs = []
    for i, s in enumerate(sets):
        if not isinstance(s, dict):
            raise rd.err(f"enrichment.sets[{i}]", s, "must be an object")
        miss = [c for c in need if c not in s]
        if miss:
            raise rd.err(f"enrichment.sets[{i}].{miss[0]}", None, "is missing")
        rec = dict(s)
        g = rec["genes"]
        rec["genes"] = "/".join(map(str, g)) if isinstance(g, list) else str(g or "")
        recs.append(rec)
    return _check_sets(pd.DataFrame(recs, columns=need), method,
                       lambda i, c: f"{rd.name}, field enrichment.sets[{i}].{c}")


def _check_sets(df: pd.DataFrame, method: str, field: Callable[[int, str], str]
                ) -> pd.DataFrame:
    nums = ["overlap", "set_size", "pvalue", "padj"] + (
        ["query_size"] if method == "ora" else ["nes"])
    for c in nums:
        v = pd.to_numeric(df[c], errors="coerce")
        bad = v.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValidationError(field(i, c), df[c].iloc[i], "must be a number")
        df[c] = v
    df["term"] = df["term"].astype(str)
    df["description"] = df["description"].fillna("").astype(str)
    df["genes"] = df["genes"].fillna("").astype(str)
    return df


def read_enrichment_table(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read an enrichment table written by ``mst omics enrich --out`` (ORA or GSEA).

    Returns
    -------
    table : pandas.DataFrame
    info : dict
        ``method`` (recognised from the columns) and ``gene_sets`` (the file name).

    Raises
    ------
    FileNotFoundError, ValidationError
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    try:
        df = pd.read_csv(p, dtype={"term": str, "description": str, "genes": str},
                         keep_default_na=False, na_values=["", "NA"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as exc:
        raise ValidationError(p.name, None, "could not be read as a table") from exc
    method = _method_of(list(df.columns))
    if method is None:
        raise ValidationError(f"{p.name}, column nes or query_size", None,
                              "is missing: not an enrichment table of 'mst omics enrich'")
    need = ORA_COLUMNS if method == "ora" else GSEA_COLUMNS
    miss = [c for c in need if c not in df.columns]
    if miss:
        raise ValidationError(f"{p.name}, column {miss[0]}", None,
                              f"is required in an {method.upper()} table")
    df = _check_sets(df[need].copy(), method, lambda i, c: f"{p.name}, row {i + 2}, {c}")
    go = len(df) > 0 and bool(df["term"].str.startswith("GO:").all())
    name = f"the GO terms of {p.name}" if go else f"the gene sets of {p.name}"
    return df, {"method": method, "gene_sets": name, "source_table": str(p)}


def summary(res: OmicsResult, n_terms: int = 10, n_genes: int = 20) -> dict[str, Any]:
    """The numbers the cohort report prints (and writes to its JSON)."""
    s = res.settings
    t = res.table
    factor, test, ref = s["contrast"]
    groups = res.samples[factor].astype(str)
    out: dict[str, Any] = {
        "source": res.source,
        "design": s["design"],
        "contrast": [factor, test, ref],
        "samples": len(res.samples),
        "samples_per_level": {str(k): int(v) for k, v in groups.value_counts(sort=False).items()},
        "patients_linked": int(sum(1 for v in res.samples.get("patient_id", pd.Series(dtype=str))
                                   if str(v).strip())),
        "lfc_threshold": float(s["lfc_threshold"]),
        "padj_threshold": float(s["padj_threshold"]),
        "alpha": s.get("alpha"),
        "independent_filter": s.get("independent_filter"),
        "filter_threshold": s.get("filter_threshold"),
        "genes": len(t),
        "genes_tested": int(t["pvalue"].notna().sum()),
        "genes_adjusted": int(t["padj"].notna().sum()),
        "up": int((t["direction"] == "up").sum()),
        "down": int((t["direction"] == "down").sum()),
        "pydeseq2": s.get("pydeseq2"),
        "notes": list(res.notes),
        "top_genes": [
            {"gene_id": r["gene_id"], "symbol": r["symbol"] or None,
             "base_mean": _num(r["base_mean"]), "log2fc": _num(r["log2fc"]),
             "padj": _num(r["padj"]), "direction": r["direction"]}
            for r in t[t["direction"] != ""].sort_values(["padj", "pvalue"], kind="stable")
            .head(n_genes).to_dict(orient="records")],
    }
    if res.enrich is not None and res.enrich_info is not None:
        e = res.enrich
        info = res.enrich_info
        out["enrichment"] = {
            "method": info["method"],
            "gene_sets": info.get("gene_sets"),
            "sets_tested": len(e),
            "sets_significant": int((e["padj"] <= 0.05).sum()),
            "significance": "adjusted p <= 0.05",
            "top_terms": [
                {"term": r["term"], "description": r["description"] or None,
                 "overlap": int(r["overlap"]), "set_size": int(r["set_size"]),
                 "effect": _num(r["overlap"] / r["query_size"] if info["method"] == "ora"
                                else r["nes"]),
                 "pvalue": _num(r["pvalue"]), "padj": _num(r["padj"])}
                for r in e.sort_values(["padj", "pvalue"], kind="stable").head(n_terms)
                .to_dict(orient="records")],
        }
    return out
