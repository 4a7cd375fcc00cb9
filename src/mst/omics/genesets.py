"""Gene-set collections from GMT files; the shipped default is GO biological process."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from mst.errors import ValidationError
from mst.omics.ids import IdType, detect_id_type

DEFAULT_COLLECTIONS = ("go-bp",)


@dataclass(frozen=True)
class GeneSets:
    """A named collection of gene sets.

    Attributes
    ----------
    name : str
        ``go-bp`` or the GMT file name.
    sets : dict[str, tuple[str, ...]]
        Term id -> genes.
    descriptions : dict[str, str]
        Term id -> description (GMT second column).
    id_type : str
        Identifier type of the genes (``entrez``, ``symbol`` or ``ensembl``).
    source : dict
        Provenance (release, licence) for the report.
    """

    name: str
    sets: dict[str, tuple[str, ...]]
    descriptions: dict[str, str]
    id_type: IdType
    source: dict[str, Any]


def _parse_gmt(text: str, label: str) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    sets: dict[str, tuple[str, ...]] = {}
    desc: dict[str, str] = {}
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) < 3:
            raise ValidationError(
                f"{label} line {i}",
                parts[0][:60],
                "a GMT line is: set name, description, then genes, separated by tabs",
            )
        name = parts[0].strip()
        if not name:
            raise ValidationError(f"{label} line {i}", None, "gene-set name is missing")
        if name in sets:
            raise ValidationError(f"{label} line {i}", name, "gene-set name appears twice")
        genes = tuple(dict.fromkeys(g.strip() for g in parts[2:] if g.strip()))
        if not genes:
            raise ValidationError(f"{label} line {i}", name, "gene set has no genes")
        sets[name] = genes
        desc[name] = parts[1].strip()
    if not sets:
        raise ValidationError(label, None, "contains no gene sets")
    return sets, desc


def read_gmt(path: str | Path) -> GeneSets:
    """Read a GMT file (optionally gzip-compressed), e.g. MSigDB's KEGG collection.

    Raises
    ------
    ValidationError
        Malformed lines, duplicated set names, empty sets, an empty file.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    raw = p.read_bytes()
    if p.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(p.name, None, "is not UTF-8 text") from exc
    sets, desc = _parse_gmt(text, p.name)
    genes = [g for s in list(sets.values())[:200] for g in s]
    return GeneSets(
        name=p.name,
        sets=sets,
        descriptions=desc,
        id_type=detect_id_type(genes),
        source={"file": str(p), "licence": "as supplied by the user"},
    )


def annotation_meta() -> dict[str, Any]:
    """Versions and source dates of the shipped annotation (``annotation_meta.json``)."""
    ref = resources.files("mst.data").joinpath("omics/annotation_meta.json")
    return json.loads(ref.read_text(encoding="utf-8"))


def load_gene_sets(spec: str | Path) -> GeneSets:
    """``go-bp`` (shipped) or a path to a GMT file.

    Raises
    ------
    ValidationError
        An unknown collection name that is not an existing file.
    """
    if str(spec) == "go-bp":
        return _go_bp()
    p = Path(spec)
    if p.suffix.lower() not in {".gmt", ".gz"} and not p.exists():
        raise ValidationError(
            "gene-sets", str(spec), f"must be one of {list(DEFAULT_COLLECTIONS)} or a .gmt file"
        )
    return read_gmt(p)


@lru_cache(maxsize=1)
def _go_bp() -> GeneSets:
    """The shipped GO BP collection (parsed once per process; treat as read-only)."""
    ref = resources.files("mst.data").joinpath("omics/go_bp.gmt.gz")
    sets, desc = _parse_gmt(gzip.decompress(ref.read_bytes()).decode("utf-8"), "go_bp.gmt.gz")
    meta = annotation_meta()
    return GeneSets(
        name="go-bp",
        sets=sets,
        descriptions=desc,
        id_type="entrez",
        source={
            "collection": "Gene Ontology biological process (GOALL: genes annotated to the "
            "term or a descendant; all evidence codes)",
            "org_hs_eg_db": meta["org_hs_eg_db"],
            "go_db": meta["go_db"],
            "go_source_date": meta["go_source_date"],
            "licence": "CC BY 4.0 (Gene Ontology Consortium)",
        },
    )
