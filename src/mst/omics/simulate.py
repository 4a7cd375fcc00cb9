"""Synthetic RNA-seq counts for a study like 002's (patients after MST vs healthy donors).

Negative-binomial counts, with DESeq2's mean-dispersion relation ``alpha = a0 + a1 / mu``,
per-sample size factors, an optional batch effect, and a chosen number of truly changed
genes drawn from named GO biological-process sets (by default sets that echo the pathways
002 reports: haematopoietic differentiation, lysosome, Th1/Th2/Th17 differentiation), so
that differential expression and enrichment have a known truth. Same seed -> same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mst.errors import ValidationError
from mst.omics.genesets import load_gene_sets
from mst.omics.ids import id_table

DEFAULT_PATHWAYS = (
    "GO:0002244",  # hematopoietic progenitor cell differentiation (002: haematopoietic lineage)
    "GO:0030099",  # myeloid cell differentiation
    "GO:0007040",  # lysosome organization (002: lysosome)
    "GO:0042088",  # T-helper 1 type immune response (002: Th1/Th2 differentiation)
    "GO:0045064",  # T-helper 2 cell differentiation
    "GO:0072539",  # T-helper 17 cell differentiation (002: Th17 differentiation)
)


@dataclass(frozen=True)
class SimulatedCounts:
    """Output of :func:`simulate_counts`.

    Attributes
    ----------
    counts : pandas.DataFrame
        Genes x samples raw counts (index ``gene_id``).
    samples : pandas.DataFrame
        Sample sheet: ``sample_id``, ``condition``, ``patient_id``, ``batch``.
    truth : pandas.DataFrame
        Per gene: ``symbol``, ``entrez_id``, ``ensembl_id``, ``base_mean`` (true mean of the
        controls), ``dispersion``, ``true_log2fc``, ``de`` (bool), ``pathway``.
    """

    counts: pd.DataFrame
    samples: pd.DataFrame
    truth: pd.DataFrame


def simulate_counts(
    n_patients: int = 4,
    n_controls: int = 2,
    n_genes: int = 2000,
    n_de: int = 200,
    pathways: tuple[str, ...] = DEFAULT_PATHWAYS,
    *,
    seed: int = 2,
    id_type: str = "symbol",
    up_fraction: float = 883 / 1579,
    n_batches: int = 1,
    batch_sd: float = 0.3,
    patient_ids: tuple[str, ...] = (),
    asymptotic_dispersion: float = 0.05,
    extra_poisson: float = 2.0,
) -> SimulatedCounts:
    """Simulate a count matrix, a sample sheet and the truth.

    Parameters
    ----------
    n_patients, n_controls : int
        Samples per group (002: 4 survivors after MST and 2 healthy donors).
    n_genes : int
        Genes (protein-coding genes of the shipped identifier table).
    n_de : int
        Truly changed genes, drawn from the genes of ``pathways``.
    pathways : tuple of str
        GO biological-process ids of the shipped collection.
    seed : int
        Random seed.
    id_type : str
        Row identifiers: ``symbol`` or ``ensembl``.
    up_fraction : float
        Share of changed genes that go up in patients (002: 883 of 1,579).
    n_batches : int
        Batches assigned alternately within each group; each batch shifts each gene by a
        log2 effect drawn from N(0, ``batch_sd``).
    patient_ids : tuple of str
        Registry patient ids for the patient samples (optional, one per patient).
    asymptotic_dispersion, extra_poisson : float
        Dispersion ``a0 + a1 / mean``.

    Raises
    ------
    ValidationError
        Impossible sizes, unknown pathways, bad identifiers type.
    """
    if n_patients < 1 or n_controls < 1:
        raise ValidationError("samples", (n_patients, n_controls), "need at least 1 per group")
    if n_patients + n_controls < 3:
        raise ValidationError("samples", n_patients + n_controls, "need at least 3 samples")
    if id_type not in {"symbol", "ensembl"}:
        raise ValidationError("ids", id_type, "must be symbol or ensembl")
    if n_batches < 1 or n_batches > min(n_patients, n_controls):
        raise ValidationError(
            "batches", n_batches, "must be between 1 and the size of the smaller group"
        )
    if not 0 <= up_fraction <= 1:
        raise ValidationError("up-fraction", up_fraction, "must be between 0 and 1")
    if patient_ids and len(patient_ids) != n_patients:
        raise ValidationError(
            "patient-ids", ",".join(patient_ids), f"must name {n_patients} patients"
        )
    rng = np.random.default_rng(seed)
    ids = id_table()
    named = ids[(ids["ensembl_id"] != "") & (ids["symbol"] != "")]
    # protein-coding genes first; other gene types only beyond their number
    named = named.assign(
        _pc=(named["gene_type"] != "protein-coding").astype(int),
        _k=named["entrez_id"].astype(int),
    ).sort_values(["_pc", "_k"], kind="stable")
    named = named.drop_duplicates("entrez_id").drop_duplicates("symbol")
    named = named.drop_duplicates("ensembl_id")
    n_pc = int((named["_pc"] == 0).sum())
    pc = named.drop(columns=["_pc", "_k"]).reset_index(drop=True)
    if n_genes < 50 or n_genes > len(pc):
        raise ValidationError("genes", n_genes, f"must be between 50 and {len(pc)}")
    gs = load_gene_sets("go-bp")
    pathway_of: dict[str, str] = {}
    for p in pathways:
        if p not in gs.sets:
            raise ValidationError("pathways", p, "is not a GO biological-process id of go-bp")
        for g in gs.sets[p]:
            pathway_of.setdefault(g, p)
    candidates = pc.index[(pc.index < n_pc) & pc["entrez_id"].isin(pathway_of)].to_numpy()
    if n_de < 0 or n_de > min(len(candidates), n_genes // 2):
        raise ValidationError(
            "de", n_de, f"must be between 0 and {min(len(candidates), n_genes // 2)}"
        )
    de_rows = rng.choice(candidates, size=n_de, replace=False) if n_de else np.array([], int)
    pool = pc.index.to_numpy()[: max(n_pc, n_genes)]
    rest = np.setdiff1d(pool, de_rows)
    other = rng.choice(rest, size=n_genes - n_de, replace=False)
    rows = np.sort(np.concatenate([de_rows, other]))
    genes = pc.loc[rows].reset_index(drop=True)
    is_de = genes.index.isin(np.searchsorted(rows, de_rows))

    mean = np.exp(rng.normal(np.log(150.0), 1.6, size=n_genes))
    disp = asymptotic_dispersion + extra_poisson / mean
    lfc = np.zeros(n_genes)
    k = int(is_de.sum())
    sign = np.where(rng.random(k) < up_fraction, 1.0, -1.0)
    lfc[is_de] = sign * (1.0 + rng.gamma(2.0, 0.6, size=k))

    n = n_patients + n_controls
    condition = np.array(["MST"] * n_patients + ["healthy"] * n_controls)
    sample_ids = [f"MST{i + 1:02d}" for i in range(n_patients)] + [
        f"HC{i + 1:02d}" for i in range(n_controls)
    ]
    batch = np.array(
        [f"b{i % n_batches + 1}" for i in range(n_patients)]
        + [f"b{i % n_batches + 1}" for i in range(n_controls)]
    )
    batch_eff = rng.normal(0.0, batch_sd, size=(n_genes, n_batches)) if n_batches > 1 else None
    sf = np.exp(rng.normal(0.0, 0.2, size=n))
    mu = mean[:, None] * sf[None, :] * 2.0 ** (lfc[:, None] * (condition == "MST")[None, :])
    if batch_eff is not None:
        b_idx = np.array([int(b[1:]) - 1 for b in batch])
        mu = mu * 2.0 ** batch_eff[:, b_idx]
    size = 1.0 / disp[:, None]
    counts = rng.negative_binomial(size, size / (size + mu))

    key = "symbol" if id_type == "symbol" else "ensembl_id"
    index = pd.Index(genes[key].to_list(), name="gene_id")
    counts_df = pd.DataFrame(counts.astype(np.int64), index=index, columns=sample_ids)
    pids = list(patient_ids) + [""] * n_controls if patient_ids else [""] * n
    samples = pd.DataFrame(
        {
            "sample_id": sample_ids,
            "condition": condition,
            "patient_id": pids,
            "batch": batch,
        }
    )
    truth = pd.DataFrame(
        {
            "symbol": genes["symbol"].to_numpy(),
            "entrez_id": genes["entrez_id"].to_numpy(),
            "ensembl_id": genes["ensembl_id"].to_numpy(),
            "base_mean": mean,
            "dispersion": disp,
            "true_log2fc": lfc,
            "de": is_de,
            "pathway": [
                pathway_of.get(e, "") if d else ""
                for e, d in zip(genes["entrez_id"], is_de, strict=True)
            ],
        },
        index=index,
    )
    return SimulatedCounts(counts=counts_df, samples=samples, truth=truth)
