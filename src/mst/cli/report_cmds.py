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
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of pseudonyms and date shifts.")]


@contextlib.contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[str], None]]:
    """A rich progress bar on stderr, advanced once per named step."""
    if quiet:
        yield lambda _s: None
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
        config: Annotated[Path | None, typer.Option("--config", help="report.toml")] = None,
        pdf: Annotated[Path | None, typer.Option("--pdf", help="Also write a PDF.")] = None,
        json_out: Annotated[Path | None, typer.Option(
            "--json", help="Every number as JSON (default: next to the HTML).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    ) -> None:
        """Cohort outcome report: Tables 1-2, KM/CIF figures, Cox, Fine-Gray, courses."""
        from mst.report import build_report, load_config, load_input

        cfg = load_config(config, by=by)
        with _progress(10 if pdf else 9, quiet) as step:
            step("reading")
            inp = load_input(db, src, mapping, dictionary)
            rep = build_report(inp.table, cfg, inp.course_days, step, inp.rejections)
            rep.write_html(out)
            rep.write_json(json_out or out.with_suffix(".json"))
            if pdf is not None:
                step("PDF")
                rep.write_pdf(pdf)
        emit_json({"html": out, "json": json_out or out.with_suffix(".json"), "pdf": pdf,
                   "n": rep.numbers["n"], "figures": len(rep.figures),
                   "excluded": rep.numbers["quality"]["n_excluded"],
                   "inconsistent": rep.numbers["quality"]["n_inconsistent"],
                   "import_rejections": len(inp.rejections)})

    @app.command("fhir")
    @handle_errors
    def fhir_cmd(
        out: Annotated[Path, typer.Option("--out", help="Bundle JSON to write.")],
        db: DbOpt = None,
        src: FromOpt = None,
        deidentify: Annotated[bool, typer.Option(
            "--deidentify", help="Pseudonymous ids, shifted dates, no birth date.")] = False,
        seed: SeedOpt = 0,
        quiet: Annotated[bool, typer.Option("--quiet")] = False,
    ) -> None:
        """Export the cohort as a FHIR R4 Bundle (validated with fhir.resources R4B)."""
        from mst.interop.deidentify import deidentify_cohort
        from mst.interop.fhir import cohort_bundle, validate_bundle
        from mst.report.inputs import load_cohort

        cohort = load_cohort(db, src)
        if deidentify:
            cohort, _ = deidentify_cohort(cohort, seed)
        with _counter(quiet) as bar:
            bar("building bundle", len(cohort.records))
            bundle = cohort_bundle(cohort, include_birth_date=not deidentify,
                                   progress=lambda k: bar(None, k))
            bar("validating (R4B)", len(bundle["entry"]))
            n = validate_bundle(bundle, progress=lambda k: bar(None, k))
            out.write_text(to_json(bundle) + "\n", encoding="utf-8")
        emit_json({"out": out, "entries": n, "patients": len(cohort.records),
                   "deidentified": deidentify, "fhir_version": "4.0.1 (fhir.resources R4B)"})

    @app.command("deidentify")
    @handle_errors
    def deidentify_cmd(
        src: Annotated[Path, typer.Option("--from", help="Exchange file (CSV/XLSX).")],
        out: Annotated[Path, typer.Option("--out", help="De-identified exchange file.")],
        seed: SeedOpt = 0,
    ) -> None:
        """De-identified copy of an exchange file (see docs/interop.md)."""
        from mst.interop.deidentify import deidentify_cohort
        from mst.io.exchange import write_cohort
        from mst.report.inputs import load_cohort

        cohort, _ = deidentify_cohort(load_cohort(None, src), seed)
        write_cohort(cohort, out)
        emit_json({"out": out, "patients": len(cohort.records),
                   "removed": ["birth_date", "event detail", "center names"],
                   "changed": ["patient and donor ids", "dates (per-patient shift)"]})

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
    ) -> None:
        """Import a flat table (with a column mapping); rejected rows are listed, not fatal."""
        import pandas as pd

        from mst.cohort import write_flat_table
        from mst.interop.redcap import read_table
        from mst.interop.spss import write_sav

        res = read_table(file, mapping, dictionary)
        if out.suffix.lower() == ".sav":
            write_sav(res.table, out)
        else:
            write_flat_table(res.table, out)
        if rejections is not None:
            pd.DataFrame([r.to_dict() for r in res.rejections],
                         columns=["row", "column", "value", "rule"]).to_csv(rejections,
                                                                           index=False)
        emit_json({"out": out, **res.to_dict()})
