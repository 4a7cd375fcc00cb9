"""File-level steps shared by the CLI and the report: counts + sheet -> DE table -> enrichment."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mst.errors import ValidationError
from mst.omics.de import DEResult, differential_expression
from mst.omics.enrich import deg_lists, gsea_prerank, over_representation
from mst.omics.genesets import GeneSets, load_gene_sets
from mst.omics.ids import detect_id_type, map_ids
from mst.omics.io import CountMatrix, align, read_counts, read_sample_sheet

DE_COLUMNS = ["gene_id", "symbol", "entrez_id", "base_mean", "log2fc", "lfc_se", "stat",
              "pvalue", "padj", "direction"]  # fmt: skip
DE_JSON_KEYS = ["base_mean", "log2fc", "lfc_se", "stat", "pvalue", "padj"]


def run_de(
    counts: str | Path | Sequence[str | Path],
    samples: str | Path,
    design: str,
    contrast: str,
    **options: Any,
) -> tuple[DEResult, CountMatrix, pd.DataFrame]:
    """Read, align and analyse: returns the result, the counts read and the sample sheet."""
    cm = read_counts(counts)
    factor = contrast.split(",")[0].strip() or "condition"
    sheet = read_sample_sheet(samples, condition=factor)
    mat, meta = align(cm, sheet)
    res = differential_expression(mat, meta, design, contrast, **options)
    return res, cm, meta


def annotate(table: pd.DataFrame) -> pd.DataFrame:
    """DE table with ``gene_id``, ``symbol`` and ``entrez_id`` columns first (offline map)."""
    ids = [str(g) for g in table.index]
    kind = detect_id_type(ids)
    sym = map_ids(ids, kind, "symbol")
    ent = map_ids(ids, kind, "entrez")
    out = table.copy()
    out.insert(0, "entrez_id", [ent.get(g, "") for g in ids])
    out.insert(0, "symbol", [sym.get(g, "") for g in ids])
    out.insert(0, "gene_id", ids)
    return out.reset_index(drop=True)


def de_records(annotated: pd.DataFrame) -> list[dict[str, Any]]:
    """Per-gene JSON records (NaN -> None)."""
    recs = []
    for row in annotated.itertuples(index=False):
        d = row._asdict()
        rec: dict[str, Any] = {"gene_id": d["gene_id"], "symbol": d["symbol"] or None}
        for k in DE_JSON_KEYS + [c for c in ("log2fc_shrunk", "lfc_se_shrunk") if c in d]:
            v = float(d[k])
            rec[k] = v if math.isfinite(v) else None
        rec["direction"] = d["direction"] or None
        recs.append(rec)
    return recs


def read_de_table(path: str | Path) -> pd.DataFrame:
    """Read a DE table written by ``mst omics de`` (or any CSV with the same columns).

    Raises
    ------
    ValidationError
        Missing columns or non-numeric statistics.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    try:
        df = pd.read_csv(p, sep=None, engine="python", dtype={"gene_id": str, "entrez_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValidationError(p.name, None, "could not be read as a table") from exc
    need = ["gene_id", "padj", "log2fc", "stat"]
    miss = [c for c in need if c not in df.columns]
    if miss:
        raise ValidationError(
            f"{p.name} column {miss[0]}", None, f"is required; the table has {list(df.columns)}"
        )
    for c in ("padj", "log2fc", "stat", "pvalue", "base_mean"):
        if c in df.columns:
            num = pd.to_numeric(df[c], errors="coerce")
            bad = num.isna() & df[c].notna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise ValidationError(
                    f"{p.name} row {i + 2}, {c}", df[c].iloc[i], "must be a number"
                )
            df[c] = num
    if df["gene_id"].isna().any():
        i = int(np.flatnonzero(df["gene_id"].isna().to_numpy())[0])
        raise ValidationError(f"{p.name} row {i + 2}, gene_id", None, "is missing")
    if df["gene_id"].duplicated().any():
        g = df["gene_id"][df["gene_id"].duplicated()].iloc[0]
        raise ValidationError(f"{p.name} column gene_id", g, "appears more than once")
    if "direction" not in df.columns:
        raise ValidationError(
            f"{p.name} column direction", None, "is required (up / down / blank, from mst omics de)"
        )
    df["direction"] = df["direction"].fillna("").astype(str)
    bad_dir = ~df["direction"].isin(["", "up", "down"])
    if bad_dir.any():
        i = int(np.flatnonzero(bad_dir.to_numpy())[0])
        raise ValidationError(
            f"{p.name} row {i + 2}, direction", df["direction"].iloc[i], "must be up, down or blank"
        )
    return df.set_index("gene_id", drop=False)


def _to_set_ids(ids: list[str], gene_sets: GeneSets) -> dict[str, str]:
    kind = detect_id_type(ids)
    return map_ids(ids, kind, gene_sets.id_type)


def enrich_table(
    de: pd.DataFrame,
    gene_sets: str | Path | GeneSets = "go-bp",
    *,
    method: str = "ora",
    direction: str = "both",
    min_size: int | None = None,
    max_size: int = 500,
    permutations: int = 1000,
    seed: int = 17,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Enrichment of a DE table (index = gene ids) against a gene-set collection.

    Returns
    -------
    table : pandas.DataFrame
        ORA or GSEA rows.
    info : dict
        Method, collection provenance, counts of genes mapped and tested.
    """
    gs = gene_sets if isinstance(gene_sets, GeneSets) else load_gene_sets(gene_sets)
    if method not in {"ora", "gsea"}:
        raise ValidationError("method", method, "must be ora or gsea")
    ids = [str(g) for g in de.index]
    mapping = _to_set_ids(ids, gs)
    info: dict[str, Any] = {
        "method": method,
        "gene_sets": gs.name,
        "gene_set_source": gs.source,
        "genes_in_table": len(ids),
        "genes_mapped": len(mapping),
    }
    if not mapping:
        raise ValidationError(
            "gene-sets",
            gs.name,
            f"no gene of the table maps to the collection's identifiers ({gs.id_type})",
        )
    if method == "ora":
        query, universe = deg_lists(de, direction)
        q = [mapping[g] for g in query if g in mapping]
        u = [mapping[g] for g in universe if g in mapping]
        info.update({"direction": direction, "degs": len(query), "degs_mapped": len(q),
                     "universe": len(universe), "universe_mapped": len(u)})  # fmt: skip
        table = over_representation(
            q, u, gs, min_size=10 if min_size is None else min_size, max_size=max_size
        )
    else:
        stat = de["stat"].astype(float)
        rank = pd.Series(
            {
                mapping[g]: float(stat.loc[g])
                for g in ids
                if g in mapping and np.isfinite(stat.loc[g])
            }
        )
        info.update({"ranked_genes": len(rank), "permutations": permutations, "seed": seed})
        table = gsea_prerank(
            rank,
            gs,
            min_size=15 if min_size is None else min_size,
            max_size=max_size,
            permutations=permutations,
            seed=seed,
        )
    table = _genes_to_symbols(table, gs)
    return table, info


def _genes_to_symbols(table: pd.DataFrame, gs: GeneSets) -> pd.DataFrame:
    """Leading-edge / overlap genes shown as symbols when the collection uses other ids."""
    if gs.id_type == "symbol" or table.empty:
        return table
    ids = sorted({g for s in table["genes"] for g in str(s).split("/") if g})
    sym = map_ids(ids, gs.id_type, "symbol")
    out = table.copy()
    out["genes"] = ["/".join(sym.get(g, g) for g in str(s).split("/") if g) for s in out["genes"]]
    return out


def enrich_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per-set records: (``term``, ``overlap``, ``set_size``, ``pvalue``, ``padj``, genes)."""
    recs = []
    for row in table.to_dict(orient="records"):
        rec = {k: row[k] for k in table.columns if k != "genes"}
        for k, v in rec.items():
            if isinstance(v, float) and not math.isfinite(v):
                rec[k] = None
            elif isinstance(v, np.integer):
                rec[k] = int(v)
        rec["genes"] = [g for g in str(row["genes"]).split("/") if g]
        recs.append(rec)
    return recs
