"""``mst omics simulate | de | enrich | report``: transcriptomics of MST patients' blood
(seed 002 Methods "RNA sequencing and bioinformatics analysis"; Figure 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mst.cli.common import emit_json, handle_errors
from mst.errors import ValidationError

SamplesOpt = Annotated[
    Path, typer.Option("--samples", help="Sample sheet: sample_id, condition[, patient_id, batch].")
]
DesignOpt = Annotated[
    str, typer.Option("--design", help="Additive design formula, e.g. '~batch + condition'.")
]
ContrastOpt = Annotated[
    str, typer.Option("--contrast", help="FACTOR,TEST,REFERENCE (log2 FC = test / reference).")
]
LfcOpt = Annotated[float, typer.Option("--lfc", help="DEG threshold on |log2 FC| (002: 1).")]
PadjOpt = Annotated[float, typer.Option("--padj", help="DEG threshold on adjusted p (002: 0.05).")]
AlphaOpt = Annotated[
    float | None,
    typer.Option("--alpha", help="FDR target of independent filtering (default: --padj)."),
]
GeneSetsOpt = Annotated[
    str, typer.Option("--gene-sets", help="go-bp (shipped) or a GMT file (e.g. MSigDB KEGG).")
]
MethodOpt = Annotated[str, typer.Option("--method", help="ora (hypergeometric) or gsea.")]
DirectionOpt = Annotated[str, typer.Option("--direction", help="DEGs for ORA: both, up, down.")]
MinOpt = Annotated[
    int | None, typer.Option("--min-size", help="Smallest set (ORA 10, GSEA 15 by default).")
]
MaxOpt = Annotated[int, typer.Option("--max-size", help="Largest set within the universe.")]
PermOpt = Annotated[int, typer.Option("--permutations", help="GSEA permutations.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (default: a text summary).")]
ResultOpt = Annotated[
    Path | None,
    typer.Option("--result", help="Also write the omics result file (.json) that "
                  "'mst report --omics' reads (DE, samples, VST of the figure genes)."),
]


def _de_options(
    lfc: float, padj: float, alpha: float | None, no_cooks: bool, no_refit: bool,
    no_filter: bool, shrink: bool, vst: bool,
) -> dict[str, Any]:  # fmt: skip
    return {
        "lfc_threshold": lfc,
        "padj_threshold": padj,
        "alpha": alpha,
        "cooks_filter": not no_cooks,
        "refit_cooks": not no_refit,
        "independent_filter": not no_filter,
        "shrink": shrink,
        "vst": vst,
    }


def _check_out(path: Path, suffixes: tuple[str, ...], name: str) -> None:
    if path.suffix.lower() not in suffixes:
        raise ValidationError(name, str(path), f"must end in {' or '.join(suffixes)}")
    if not path.parent.exists():
        raise ValidationError(name, str(path), "folder does not exist")


def simulate(
    out: Annotated[Path, typer.Option("--out", help="Count matrix to write (.csv).")],
    samples: Annotated[Path, typer.Option("--samples", help="Sample sheet to write (.csv).")],
    truth: Annotated[
        Path | None, typer.Option("--truth", help="Also write the true effects (.csv).")
    ] = None,
    patients: Annotated[int, typer.Option("--patients", help="Patient samples (002: 4).")] = 4,
    controls: Annotated[int, typer.Option("--controls", help="Healthy donors (002: 2).")] = 2,
    genes: Annotated[int, typer.Option("--genes", help="Genes.")] = 2000,
    de: Annotated[int, typer.Option("--de", help="Truly changed genes (in the pathways).")] = 200,
    pathways: Annotated[
        str | None, typer.Option("--pathways", help="GO BP ids, comma-separated.")
    ] = None,
    ids: Annotated[
        str, typer.Option("--ids", help="Row identifiers: symbol or ensembl.")
    ] = "symbol",
    batches: Annotated[int, typer.Option("--batches", help="Batches (1 = none).")] = 1,
    patient_ids: Annotated[
        str | None,
        typer.Option("--patient-ids", help="Registry ids of the patients, comma-separated."),
    ] = None,
    seed: SeedOpt = 2,
) -> None:
    """Write a synthetic count matrix and sample sheet for a study like 002's (4 vs 2)."""
    from mst.omics.simulate import DEFAULT_PATHWAYS, simulate_counts

    _check_out(out, (".csv",), "out")
    _check_out(samples, (".csv",), "samples")
    if truth is not None:
        _check_out(truth, (".csv",), "truth")
    pw = (
        tuple(p.strip() for p in pathways.split(",") if p.strip()) if pathways else DEFAULT_PATHWAYS
    )
    pids = tuple(p.strip() for p in patient_ids.split(",") if p.strip()) if patient_ids else ()
    sim = simulate_counts(
        patients, controls, genes, de, pw, seed=seed, id_type=ids, n_batches=batches,
        patient_ids=pids,
    )  # fmt: skip
    sim.counts.to_csv(out, lineterminator="\n")
    sim.samples.to_csv(samples, index=False, lineterminator="\n")
    if truth is not None:
        sim.truth.to_csv(truth, lineterminator="\n")
    emit_json(
        {
            "out": str(out),
            "samples": str(samples),
            "truth": str(truth) if truth else None,
            "genes": genes,
            "patients": patients,
            "controls": controls,
            "de": int(sim.truth["de"].sum()),
            "de_up": int((sim.truth["true_log2fc"] > 0).sum()),
            "pathways": list(pw),
            "seed": seed,
        }
    )


def de_cmd(
    counts: Annotated[
        list[Path],
        typer.Argument(help="Count matrix, featureCounts table, or HTSeq-count files."),
    ],
    samples: SamplesOpt,
    out: Annotated[Path, typer.Option("--out", help="DE table to write (.csv).")],
    design: DesignOpt = "~condition",
    contrast: ContrastOpt = "condition,MST,healthy",
    lfc: LfcOpt = 1.0,
    padj: PadjOpt = 0.05,
    alpha: AlphaOpt = None,
    no_cooks: Annotated[
        bool, typer.Option("--no-cooks-filter", help="Keep Cook's outliers.")
    ] = False,
    no_refit: Annotated[
        bool, typer.Option("--no-refit-cooks", help="Do not replace outliers.")
    ] = False,
    no_filter: Annotated[
        bool, typer.Option("--no-independent-filter", help="BH over every tested gene.")
    ] = False,
    shrink: Annotated[bool, typer.Option("--shrink", help="Add apeGLM-shrunk log2 FC.")] = False,
    result: ResultOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Differential expression (DESeq2's method via pydeseq2); writes one row per gene."""
    from mst.omics.pipeline import annotate, de_records, run_de

    _check_out(out, (".csv",), "out")
    if result is not None:
        _check_out(result, (".json",), "result")
    opts = _de_options(lfc, padj, alpha, no_cooks, no_refit, no_filter, shrink,
                       result is not None)  # fmt: skip
    res, cm, meta = run_de(counts, samples, design, contrast, **opts)
    table = annotate(res.table)
    table.to_csv(out, index=False, lineterminator="\n")
    if result is not None:
        from mst.omics.result import build_result, write_result

        write_result(result, build_result(res, table, meta))
    s = res.settings
    if as_json:
        emit_json(
            {
                "settings": s,
                "input_format": cm.source_format,
                "dropped_rows": cm.dropped_rows,
                "size_factors": {k: float(v) for k, v in res.size_factors.items()},
                "notes": res.notes,
                "genes": de_records(table),
            }
        )
        return
    typer.echo(
        f"{s['n_genes']} genes x {s['n_samples']} samples ({cm.source_format}); "
        f"{s['n_tested']} tested; {s['contrast'][1]} vs {s['contrast'][2]}: "
        f"{s['n_up']} up, {s['n_down']} down at |log2 FC| >= {s['lfc_threshold']:g} and "
        f"padj <= {s['padj_threshold']:g}; independent filtering threshold "
        f"{s['filter_threshold']:.3g} (alpha {s['alpha']:g}); written to {out}"
    )
    for n in res.notes:
        typer.echo(f"note: {n}")


def enrich_cmd(
    de_table: Annotated[Path, typer.Argument(help="DE table written by 'mst omics de'.")],
    out: Annotated[Path, typer.Option("--out", help="Enrichment table to write (.csv).")],
    gene_sets: GeneSetsOpt = "go-bp",
    method: MethodOpt = "ora",
    direction: DirectionOpt = "both",
    min_size: MinOpt = None,
    max_size: MaxOpt = 500,
    permutations: PermOpt = 1000,
    seed: SeedOpt = 17,
    as_json: JsonOpt = False,
) -> None:
    """Pathway enrichment of a DE table: ORA (clusterProfiler's enricher) or preranked GSEA."""
    from mst.omics.pipeline import enrich_records, enrich_table, read_de_table

    _check_out(out, (".csv",), "out")
    de = read_de_table(de_table)
    table, info = enrich_table(
        de, gene_sets, method=method, direction=direction, min_size=min_size,
        max_size=max_size, permutations=permutations, seed=seed,
    )  # fmt: skip
    table.to_csv(out, index=False, lineterminator="\n")
    if as_json:
        emit_json({"info": info, "sets": enrich_records(table)})
        return
    n_sig = int((table["padj"] <= 0.05).sum()) if len(table) else 0
    typer.echo(
        f"{method.upper()} on {info['gene_sets']}: {len(table)} sets tested, {n_sig} with "
        f"adjusted p <= 0.05; written to {out}"
    )
    for r in table.head(5).itertuples():
        typer.echo(f"  {r.term}  {r.description[:60]}  padj={r.padj:.3g}")


def report_cmd(
    counts: Annotated[
        list[Path],
        typer.Argument(help="Count matrix, featureCounts table, or HTSeq-count files."),
    ],
    samples: SamplesOpt,
    out: Annotated[Path, typer.Option("--out", help="HTML report to write.")],
    design: DesignOpt = "~condition",
    contrast: ContrastOpt = "condition,MST,healthy",
    lfc: LfcOpt = 1.0,
    padj: PadjOpt = 0.05,
    alpha: AlphaOpt = None,
    gene_sets: Annotated[
        str | None,
        typer.Option("--gene-sets", help="go-bp or a GMT file; 'none' skips enrichment."),
    ] = "go-bp",
    method: MethodOpt = "ora",
    min_size: MinOpt = None,
    max_size: MaxOpt = 500,
    permutations: PermOpt = 1000,
    seed: SeedOpt = 17,
    de_out: Annotated[
        Path | None, typer.Option("--de-out", help="Also write the DE table.")
    ] = None,
    result: ResultOpt = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Registry URL: check patient_id values and show the patients."),
    ] = None,
) -> None:
    """Run DE (+ enrichment) and write the Figure 4-style HTML report.

    With --db, every non-blank patient_id of the sample sheet must be a registry patient
    (visible to the caller); the report then shows center, age, diagnosis, courses and vital
    status next to each sample.
    """
    from mst.omics.pipeline import annotate, enrich_table, run_de
    from mst.omics.report import OmicsReportInput, render_report

    _check_out(out, (".html", ".htm"), "out")
    if de_out is not None:
        _check_out(de_out, (".csv",), "de-out")
    if result is not None:
        _check_out(result, (".json",), "result")
    opts = _de_options(lfc, padj, alpha, False, False, False, False, True)
    registry = None
    if db is not None:  # fail fast, before the model is fitted
        from mst.omics.io import read_sample_sheet

        factor = contrast.split(",")[0].strip() or "condition"
        registry = _with_registry(read_sample_sheet(samples, condition=factor).table, db)
    res, _, meta = run_de(counts, samples, design, contrast, **opts)
    if registry is not None:
        extra = [c for c in registry.columns if c not in meta.columns]
        meta = meta.join(registry[extra])
    table = annotate(res.table)
    if de_out is not None:
        table.to_csv(de_out, index=False, lineterminator="\n")
    enrich = info = None
    if gene_sets and gene_sets.lower() != "none":
        if res.settings["n_up"] + res.settings["n_down"] == 0 and method == "ora":
            info = None
        else:
            enrich, info = enrich_table(
                table.set_index("gene_id", drop=False), gene_sets, method=method,
                min_size=min_size, max_size=max_size, permutations=permutations, seed=seed,
            )  # fmt: skip
    html = render_report(
        OmicsReportInput(de=res, annotated=table, samples=meta, enrich=enrich, enrich_info=info)
    )
    if result is not None:
        from mst.omics.result import build_result, write_result

        write_result(result, build_result(res, table, meta, enrich, info))
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    emit_json(
        {
            "out": str(out),
            "result": None if result is None else str(result),
            "n_up": res.settings["n_up"],
            "n_down": res.settings["n_down"],
            "enriched_sets": None if enrich is None else int((enrich["padj"] <= 0.05).sum()),
        }
    )


def _with_registry(meta: Any, db: str) -> Any:
    """Sample sheet with the registry patients' center, age, diagnosis, courses, status."""
    from mst.registry import open_registry

    if "patient_id" not in meta.columns:
        raise ValidationError("patient_id", None, "--db needs a patient_id column in the sheet")
    out = meta.copy()
    cols: dict[str, list[str]] = {
        "center": [], "age": [], "diagnosis": [], "courses": [], "vital_status": []
    }  # fmt: skip
    with open_registry(db) as reg:
        for sid, pid in out["patient_id"].items():
            pid = "" if pid is None or isinstance(pid, float) else str(pid).strip()
            if not pid:
                for v in cols.values():
                    v.append("")
                continue
            hits = [p for p in reg.patient_summaries(query=pid) if p.id == pid]
            if not hits:
                raise ValidationError(
                    f"sample {sid}, patient_id", pid, "is not a patient of the registry"
                )
            p = hits[0]
            cols["center"].append(p.center_id)
            cols["age"].append(str(p.age))
            cols["diagnosis"].append(p.diagnosis)
            cols["courses"].append(str(p.courses))
            cols["vital_status"].append("alive" if p.alive else f"died {p.death_date}")
    for k, v in cols.items():
        out[k] = v
    return out


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register ``mst omics ...`` on the main app."""
    del stats_app
    omics_app = typer.Typer(
        help="Transcriptomics: differential expression (DESeq2 via pydeseq2), enrichment, report.",
        no_args_is_help=True,
    )
    omics_app.command("simulate")(handle_errors(simulate))
    omics_app.command("de")(handle_errors(de_cmd))
    omics_app.command("enrich")(handle_errors(enrich_cmd))
    omics_app.command("report")(handle_errors(report_cmd))
    app.add_typer(omics_app, name="omics")
