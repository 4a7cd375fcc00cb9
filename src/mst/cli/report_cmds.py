"""``mst report``, ``mst fhir``, ``mst deidentify`` and ``mst import-table``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from mst.cli.common import emit_json, handle_errors, to_json

DbOpt = Annotated[str | None, typer.Option("--db", help="Registry SQLAlchemy URL.")]
FromOpt = Annotated[Path | None, typer.Option(
    "--from", help="Exchange file (CSV/XLSX) or flat table (CSV/XLSX/SAV).")]
KeyOpt = Annotated[Path | None, typer.Option(
    "--key-file", help="Secret key (hex) of a previous export, to reproduce its pseudonyms "
    "and shifts; default: a fresh random key per export.")]
SaveKeyOpt = Annotated[Path | None, typer.Option(
    "--save-key", help="Write the export's secret key (hex) here; keep it with the custodian, "
    "never with the data.")]
KeepHlaOpt = Annotated[bool, typer.Option(
    "--keep-hla", help="Keep HLA/KIR typing and antibodies (dropped by default).")]


def _deidentify(cohort: object, key_file: Path | None, save_key: Path | None,
                keep_hla: bool) -> object:
    """De-identify with a fresh secret key (or the custodian's), saving it if asked."""
    from mst.errors import ValidationError
    from mst.interop.deidentify import deidentify_cohort

    key = None
    if key_file is not None:
        try:
            key = bytes.fromhex(key_file.read_text(encoding="utf-8").strip())
        except ValueError as exc:
            raise ValidationError("--key-file", str(key_file), "must hold the key as hex "
                                  "digits") from exc
    res = deidentify_cohort(cohort, key=key, keep_hla=keep_hla)  # type: ignore[arg-type]
    if save_key is not None:
        save_key.write_text(res.key_hex + "\n", encoding="utf-8")
        save_key.chmod(0o600)
    return res


@contextlib.contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[str], None]]:
    """A rich progress bar on stderr, advanced once per named step."""
    if quiet:
        def silent(_s: str) -> None:
            return None

        silent.detail = None  # type: ignore[attr-defined]
        yield silent
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<22}"), BarColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task("starting", total=total)
        first = [True]

        def step(name: str) -> None:
            if not first[0]:
                prog.advance(task)
            first[0] = False
            prog.update(task, description=name)

        def detail(phase: str, done: int, total: int) -> None:
            prog.update(task, description=f"{phase} {done:,}/{total:,}")

        step.detail = detail  # type: ignore[attr-defined]
        yield step
        prog.update(task, completed=total)


@contextlib.contextmanager
def _counter(quiet: bool) -> Iterator[Callable[[str | None, int], None]]:
    """A rich progress bar on stderr: ``bar(name, total)`` starts a phase, ``bar(None, k)``
    advances it by ``k``."""
    if quiet:
        yield lambda _name, _k: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                  console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task("starting", total=1)

        def bar(name: str | None, k: int) -> None:
            if name is not None:
                prog.reset(task, total=k, description=name)
            else:
                prog.advance(task, k)

        yield bar


def _read_omics(path: Path | None, enrichment: Path | None, disease: str) -> object | None:
    """The omics result of ``--omics`` (with ``--omics-enrichment`` merged in), or None."""
    from mst.errors import ValidationError

    if path is None:
        if enrichment is not None:
            raise ValidationError("--omics-enrichment", str(enrichment),
                                  "needs --omics (the DE result it belongs to)")
        return None
    if disease.lower() != "aml":
        raise ValidationError("--omics", str(path), "is part of the AML cohort report only")
    import dataclasses

    from mst.omics.result import read_enrichment_table, read_result

    res = read_result(path)
    if enrichment is not None:
        table, info = read_enrichment_table(enrichment)
        res = dataclasses.replace(res, enrich=table, enrich_info=info)
    return res


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register this module's commands on the main app."""
    del stats_app

    @app.command("report")
    @handle_errors
    def report_cmd(
        out: Annotated[Path, typer.Option("--out", help="HTML report to write.")],
        db: DbOpt = None,
        src: FromOpt = None,
        mapping: Annotated[Path | None, typer.Option(
            "--mapping", help="Mapping file for a non-standard flat table.")] = None,
        dictionary: Annotated[Path | None, typer.Option(
            "--dictionary", help="REDCap data dictionary (--from is then a REDCap export).")
        ] = None,
        by: Annotated[str | None, typer.Option("--by", help="Grouping column.")] = None,
        sheet: Annotated[str | None, typer.Option(
            "--sheet", help="Sheet of an XLSX flat table (default: the first).")] = None,
        config: Annotated[Path | None, typer.Option("--config", help="report.toml")] = None,
        pdf: Annotated[Path | None, typer.Option("--pdf", help="Also write a PDF.")] = None,
        json_out: Annotated[Path | None, typer.Option(
            "--json", help="Every number as JSON (default: next to the HTML).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
        disease: Annotated[str, typer.Option(
            "--disease", help="aml (default) or myeloma (seed 003's analyses).")] = "aml",
        omics: Annotated[Path | None, typer.Option(  # issue 17: transcriptomics section
            "--omics", help="Omics result file (.json) of 'mst omics de|report … --result': "
            "adds the section Figure 4 (DE summary, volcano, MA, PCA, heatmap).")] = None,
        omics_enrichment: Annotated[Path | None, typer.Option(
            "--omics-enrichment", help="Enrichment table (.csv) of 'mst omics enrich "
            "--out' for the section's dot plot and top terms (needs --omics).")] = None,
    ) -> None:
        """Cohort outcome report: Tables 1-2, KM/CIF figures, Cox, Fine-Gray, courses."""
        omics_res = _read_omics(omics, omics_enrichment, disease)
        if disease.lower() != "aml":  # issue 18: the myeloma report (mst.report.myeloma)
            from mst.report.myeloma import run_myeloma_report

            emit_json(run_myeloma_report(disease.lower(), out, db, src, json_out, pdf))
            return
        from mst.report import build_report, load_config, load_input

        cfg = load_config(config, by=by)
        with _progress((11 if pdf else 10) + (omics_res is not None), quiet) as step:
            step("reading")
            inp = load_input(db, src, mapping, dictionary, sheet=sheet,
                             progress=step.detail)  # type: ignore[attr-defined]
            rep = build_report(inp.table, cfg, inp.course_days, step, inp.rejections,
                               omics=omics_res)
            step("writing")
            rep.write_html(out)
            rep.write_json(json_out or out.with_suffix(".json"))
            if pdf is not None:
                step("PDF")
                rep.write_pdf(pdf)
        emit_json({"html": out, "json": json_out or out.with_suffix(".json"), "pdf": pdf,
                   "n": rep.numbers["n"], "figures": len(rep.figures),
                   "excluded": rep.numbers["quality"]["n_excluded"],
                   "inconsistent": rep.numbers["quality"]["n_inconsistent"],
                   "skipped_analyses": len(rep.numbers["quality"].get("skipped", [])),
                   "cells_treated_as_missing": len(
                       rep.numbers["quality"].get("invalid_cells", [])),
                   "import_rejections": len(inp.rejections),
                   **({} if omics_res is None else {"omics": {
                       k: rep.numbers["omics"][k] for k in
                       ("genes_tested", "up", "down", "lfc_threshold", "padj_threshold")}})})

    @app.command("fhir")
    @handle_errors
    def fhir_cmd(
        out: Annotated[Path, typer.Option("--out", help="Bundle JSON to write.")],
        db: DbOpt = None,
        src: FromOpt = None,
        deidentify: Annotated[bool, typer.Option(
            "--deidentify", help="Pseudonymous ids, shifted dates, no birth date.")] = False,
        key_file: KeyOpt = None,
        save_key: SaveKeyOpt = None,
        keep_hla: KeepHlaOpt = False,
        timezone: Annotated[str | None, typer.Option(
            "--timezone", help="Center time zone of local date-times: Europe/Berlin, or "
            "C01=Europe/Berlin,C02=Asia/Shanghai.")] = None,
        quiet: Annotated[bool, typer.Option("--quiet")] = False,
    ) -> None:
        """Export the cohort as a FHIR R4 Bundle (validated with fhir.resources R4B)."""
        from mst.interop.fhir import cohort_bundle, parse_timezones, validate_bundle
        from mst.report.inputs import load_cohort

        cohort = load_cohort(db, src)
        if deidentify:
            cohort = _deidentify(cohort, key_file, save_key, keep_hla).cohort  # type: ignore[attr-defined]
        with _counter(quiet) as bar:
            bar("building bundle", len(cohort.records))
            bundle = cohort_bundle(cohort, include_birth_date=not deidentify,
                                   progress=lambda k: bar(None, k),
                                   timezones=parse_timezones(timezone))
            bar("validating (R4B)", len(bundle["entry"]))
            n = validate_bundle(bundle, progress=lambda k: bar(None, k))
            out.write_text(to_json(bundle) + "\n", encoding="utf-8")
        if src is None:  # an export from the registry is audited (docs/registry.md)
            from mst.registry import open_registry

            with open_registry(db) as reg:
                reg.audit_event(
                    "deidentified_export" if deidentify else "export",
                    "registry",
                    out.name,
                    {"format": "fhir", "patients": len(cohort.records)},
                )
        emit_json({"out": out, "entries": n, "patients": len(cohort.records),
                   "deidentified": deidentify, "fhir_version": "4.0.1 (fhir.resources R4B)"})

    @app.command("deidentify")
    @handle_errors
    def deidentify_cmd(
        src: Annotated[Path, typer.Option("--from", help="Exchange file (CSV/XLSX).")],
        out: Annotated[Path, typer.Option("--out", help="De-identified exchange file.")],
        flat: Annotated[Path | None, typer.Option(
            "--flat", help="Also write the de-identified flat analysis table (.csv/.xlsx), "
            "with the HLA mismatch counts computed before the typing was dropped.")] = None,
        key_file: KeyOpt = None,
        save_key: SaveKeyOpt = None,
        keep_hla: KeepHlaOpt = False,
    ) -> None:
        """De-identified copy of an exchange file (see docs/interop.md): a fresh secret key
        per export, one date offset per patient, ages >= 90 top-coded, HLA/KIR dropped;
        prints what was changed and the k-anonymity of the quasi-identifiers kept."""
        from mst.cohort import build_flat_table, write_flat_table
        from mst.interop.deidentify import Deidentified
        from mst.io.exchange import write_cohort
        from mst.report.inputs import load_cohort

        res = _deidentify(load_cohort(None, src), key_file, save_key, keep_hla)
        assert isinstance(res, Deidentified)
        write_cohort(res.cohort, out)
        if flat is not None:
            table = build_flat_table(res.cohort)
            for col in ("hla_mismatches_10", "hla_mismatches_12"):
                table[col] = table["patient_id"].map(
                    lambda p, c=col: res.hla_mismatches[p][c]).astype("Int64")
            write_flat_table(table, flat)
        emit_json({"out": out, "flat": flat, "key_saved": save_key, **res.summary})

    @app.command("import-table")
    @handle_errors
    def import_table_cmd(
        file: Annotated[Path, typer.Argument(help="CSV, XLSX, SAV or REDCap CSV export.")],
        out: Annotated[Path, typer.Option("--out", help="Flat table (.csv/.xlsx/.sav).")],
        mapping: Annotated[Path | None, typer.Option("--mapping", help="Mapping file.")] = None,
        dictionary: Annotated[Path | None, typer.Option(
            "--dictionary", help="REDCap data dictionary (makes FILE a REDCap export).")] = None,
        rejections: Annotated[Path | None, typer.Option(
            "--rejections", help="Write the rejected cells as CSV.")] = None,
        sheet: Annotated[str | None, typer.Option(
            "--sheet", help="Sheet of an XLSX workbook (default: the first).")] = None,
        encoding: Annotated[str | None, typer.Option(
            "--encoding", help="Encoding of a text file without BOM (default UTF-8).")] = None,
        allow_rejects: Annotated[bool, typer.Option(
            "--allow-rejects", help="Exit 0 even when rows were rejected.")] = False,
    ) -> None:
        """Import a flat table (with a column mapping). Rejected rows are listed with their
        reasons and make the command exit 1 unless --allow-rejects is given."""
        import pandas as pd

        from mst.cohort import write_flat_table
        from mst.interop.redcap import read_table
        from mst.interop.spss import write_sav

        res = read_table(file, mapping, dictionary, sheet=sheet, encoding=encoding)
        if out.suffix.lower() == ".sav":
            write_sav(res.table, out)
        else:
            write_flat_table(res.table, out)
        if rejections is not None:
            pd.DataFrame([r.to_dict() for r in res.rejections],
                         columns=["row", "column", "value", "rule"]).to_csv(rejections,
                                                                           index=False)
        emit_json({"out": out, **res.to_dict()})
        if res.rejected_rows and not allow_rejects:
            typer.echo(f"error: {len(res.rejected_rows)} row(s) rejected (listed above; "
                       f"{len(res.table)} accepted); use --allow-rejects to accept a partial "
                       "import", err=True)
            raise typer.Exit(1)
