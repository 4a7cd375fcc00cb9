"""Offline gene identifier mapping (Entrez <-> symbol <-> Ensembl) from org.Hs.eg.db.

The table ships as ``mst/data/omics/gene_ids.tsv.gz`` (built by
``mst/data/omics/build_annotation.R``; release and licence in the README there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Literal

import pandas as pd

IdType = Literal["ensembl", "entrez", "symbol"]
_ENSEMBL = re.compile(r"^ENSG\d{11}(\.\d+)?(_PAR_Y)?$")
_ENTREZ = re.compile(r"^\d+$")


@lru_cache(maxsize=1)
def id_table() -> pd.DataFrame:
    """The shipped identifier table (``entrez_id``, ``symbol``, ``ensembl_id``, ``gene_type``)."""
    ref = resources.files("mst.data").joinpath("omics/gene_ids.tsv.gz")
    with resources.as_file(ref) as path:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return df


def strip_version(ensembl_id: str) -> str:
    """``ENSG00000141510.17`` -> ``ENSG00000141510``."""
    return ensembl_id.split(".")[0]


def detect_id_type(ids: Iterable[str]) -> IdType:
    """Guess the identifier type from the values: Ensembl gene ids, Entrez ids or symbols.

    A list is Ensembl (or Entrez) when at least 90 % of its values look like one.
    """
    vals = [str(x) for x in ids]
    if not vals:
        return "symbol"
    ens = sum(bool(_ENSEMBL.match(v)) for v in vals)
    ent = sum(bool(_ENTREZ.match(v)) for v in vals)
    if ens >= 0.9 * len(vals):
        return "ensembl"
    if ent >= 0.9 * len(vals):
        return "entrez"
    return "symbol"


@lru_cache(maxsize=8)
def _mapping(src: IdType, dst: IdType) -> dict[str, str]:
    col = {"ensembl": "ensembl_id", "entrez": "entrez_id", "symbol": "symbol"}
    df = id_table()
    ok = (df[col[src]] != "") & (df[col[dst]] != "")
    sub = pd.DataFrame(
        {
            "src": df.loc[ok, col[src]].to_numpy(),
            "dst": df.loc[ok, col[dst]].to_numpy(),
            "k": df.loc[ok, "entrez_id"].astype(int).to_numpy(),
        }
    )
    # one-to-many: keep the pair with the lowest Entrez id (deterministic, documented)
    sub = sub.sort_values(["k", "dst"], kind="stable").drop_duplicates("src", keep="first")
    return dict(zip(sub["src"], sub["dst"], strict=True))


def map_ids(ids: Iterable[str], src: IdType, dst: IdType) -> dict[str, str]:
    """Map identifiers; ids without a match are absent from the result.

    Ensembl version suffixes are ignored. When one id maps to several targets, the target
    of the lowest Entrez gene id is taken.
    """
    vals = [str(x) for x in ids]
    if src == dst:
        return {v: v for v in vals}
    table = _mapping(src, dst)
    out: dict[str, str] = {}
    for v in vals:
        key = strip_version(v) if src == "ensembl" else v
        hit = table.get(key)
        if hit is not None:
            out[v] = hit
    return out
