"""Registry commands: ``mst demo``, ``mst db upgrade``, ``mst import``, ``mst export``,
``mst cohort`` and ``mst audit``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mst.cli.common import emit_json, fail, handle_errors, stdout_is_terminal
from mst.domain import Cohort
from mst.errors import ValidationError

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL (default: $MST_DATABASE_URL, else ./mst.sqlite)."),
]

EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Text encoding of a CSV without byte-order mark (default UTF-8), e.g. cp1252.",
    ),
]

DEMO_PATIENTS = 360
DEMO_SEED = 2023
DEMO_CENTERS = 4


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        disable=not stdout_is_terminal(),
    )


def _import(cohort: Cohort, db: str | None, checked: bool = False) -> dict[str, int]:
    from mst.registry import open_registry

    with open_registry(db) as reg, _progress() as bar:
        task = bar.add_task("writing patients", total=len(cohort.records))
        reg.import_cohort(cohort, progress=lambda i: bar.update(task, completed=i),
                          checked=checked)
        return reg.counts()


def _import_file(file: Path, encoding: str | None, db: str | None) -> tuple[int, dict[str, int]]:
    """Read and validate an exchange file column by column, then write it (two phases).

    No domain objects are built for patients new to the registry
    (:meth:`mst.registry.Repository.import_frames`); the frames are dropped before the
    registry's counts are read.
    """
    from mst.io.exchange_frames import read_frames
    from mst.registry import open_registry

    with _progress() as bar:
        reading = bar.add_task("reading", total=None)
        frames = read_frames(
            file, encoding=encoding,
            progress=lambda done, total: bar.update(reading, completed=done, total=total),
        )
        bar.update(reading, visible=False)
        n = len(frames.patients)
        with open_registry(db) as reg:
            writing = bar.add_task("writing patients", total=n)
            reg.import_frames(frames, progress=lambda i: bar.update(writing, completed=i))
            del frames
            return n, reg.counts()


def _summary(cohort: Cohort) -> dict[str, object]:
    per_center = Counter(r.patient.center_id for r in cohort.records)
    deaths = sum(1 for r in cohort.records if r.death is not None)
    return {
        "centers": len(cohort.centers),
        "patients": len(cohort.records),
        "patients_per_center": dict(sorted(per_center.items())),
        "diagnoses": dict(
            sorted(Counter(r.patient.diagnosis.value for r in cohort.records).items())
        ),
        "courses": sum(len(r.courses) for r in cohort.records),
        "infusions": sum(len(r.infusions) for r in cohort.records),
        "lab_results": sum(len(r.labs) for r in cohort.records),
        "deaths": deaths,
    }


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register the registry commands on the main app."""
    del stats_app
    db_app = typer.Typer(help="Registry database maintenance.", no_args_is_help=True)
    app.add_typer(db_app, name="db")

    @db_app.command("upgrade")
    @handle_errors
    def db_upgrade(db: DbOption = None) -> None:
        """Create the registry database or upgrade it to the latest schema (Alembic)."""
        from mst.registry.db import current_revision, database_url, make_engine, upgrade

        engine = make_engine(db)
        try:
            upgrade(engine)
            typer.echo(f"{database_url(db)}: schema at revision {current_revision(engine)}")
        finally:
            engine.dispose()

    @db_app.command("backup")
    @handle_errors
    def db_backup(
        out: Annotated[Path, typer.Option("--out", help="Backup file to write (must not exist).")],
        db: DbOption = None,
    ) -> None:
        """Back up the registry while it stays in use (SQLite backup API; pg_dump)."""
        from mst.registry.backup import backup

        written = backup(db, out)
        typer.echo(f"backup written to {written}")

    @db_app.command("restore")
    @handle_errors
    def db_restore(
        file: Annotated[Path, typer.Argument(help="A file written by mst db backup.")],
        db: DbOption = None,
    ) -> None:
        """Restore a backup into an empty registry (refuses a registry holding data)."""
        from mst.registry.backup import restore
        from mst.registry.db import database_url

        restore(file, db)
        typer.echo(f"restored {file} into {database_url(db)}")

    @app.command("demo")
    @handle_errors
    def demo(
        db: DbOption = None,
        n: Annotated[int, typer.Option("--n", min=1, help="Demo patients.")] = DEMO_PATIENTS,
        seed: Annotated[int, typer.Option("--seed", help="Simulator seed.")] = DEMO_SEED,
        json_out: Annotated[
            bool, typer.Option("--json", help="Print the summary as JSON.")
        ] = False,
        serve: Annotated[
            bool, typer.Option("--serve/--no-serve", help="Serve the web app afterwards.")
        ] = True,
        port: Annotated[int, typer.Option("--port", help="Web app port.")] = 8000,
        disease: Annotated[str, typer.Option(
            "--disease", help="aml (default), myeloma, or all (AML and the myeloma cohort).")
        ] = "aml",
    ) -> None:
        """Load the demo cohort into the registry (SQLite default), print a summary, serve the app.

        The app is served on http://127.0.0.1:PORT with demo logins (printed); stop it
        with Ctrl-C. ``--no-serve`` only loads and summarises.
        """
        from mst.cli.web_cmds import DEMO_PASSWORD, create_demo_users
        from mst.cli.web_cmds import serve as serve_app
        from mst.registry import database_url
        from mst.simulate.myeloma import demo_cohort  # issue 18: --disease aml|myeloma|all

        cohort = demo_cohort(disease.lower(), n, seed, DEMO_CENTERS)
        counts = _import(cohort, db)
        users = create_demo_users(db)
        summary = {"database": database_url(db), **_summary(cohort), "registry_rows": counts}
        if json_out:
            emit_json(summary)
            if serve:
                serve_app(db, "127.0.0.1", port, secure_cookies=False)
            return
        typer.echo(f"Demo registry: {summary['database']}")
        typer.echo(
            f"  {summary['patients']} patients from {summary['centers']} centers "
            f"{summary['patients_per_center']}"
        )
        typer.echo(f"  diagnoses: {summary['diagnoses']}")
        typer.echo(
            f"  {summary['courses']} MST courses, {summary['infusions']} GPBSC infusions, "
            f"{summary['lab_results']} lab results, {summary['deaths']} deaths"
        )
        typer.echo(
            "  next: mst cohort --out table.csv && mst stats km table.csv "
            "--time os_months --event os_event --group age_group"
        )
        if serve:
            typer.echo(f"Web app: http://127.0.0.1:{port}  (Ctrl-C stops it)")
            typer.echo(f"  demo logins (password {DEMO_PASSWORD}):")
            for name, role, center in users:
                typer.echo(f"    {name:<11} {role}{' of ' + center if center else ''}")
            serve_app(db, "127.0.0.1", port, secure_cookies=False)

    @app.command("import")
    @handle_errors
    def import_(
        file: Annotated[Path, typer.Argument(help="Exchange file (.csv or .xlsx).")],
        encoding: EncodingOption = None,
        db: DbOption = None,
    ) -> None:
        """Import an exchange file into the registry: every row or none."""
        n, counts = _import_file(file, encoding, db)
        typer.echo(f"imported {n} patients from {file} ({counts['patients']} in registry)")

    @app.command("export")
    @handle_errors
    def export(
        out: Annotated[Path, typer.Option("--out", help="Output file.")],
        fmt: Annotated[str, typer.Option("--format", help="csv or xlsx.")] = "csv",
        center: Annotated[str | None, typer.Option("--center", help="Only this center.")] = None,
        db: DbOption = None,
    ) -> None:
        """Export the registry as an exchange file (CSV or XLSX)."""
        from mst.io.exchange_write import write_frames
        from mst.registry import open_registry

        if fmt not in ("csv", "xlsx"):
            raise ValidationError("--format", fmt, "must be csv or xlsx")
        if out.suffix.lower() != f".{fmt}":
            raise ValidationError("--out", str(out), f"must end in .{fmt} for --format {fmt}")
        with open_registry(db) as reg:  # registry → frames → file, no record objects
            frames = reg.load_frames(center_id=center)
            n = len(frames.patients)
            write_frames(frames, out)
            reg.audit_event(
                "export",
                "registry",
                out.name,
                {"format": fmt, "patients": n, "center": center},
                center_id=center,
            )
        typer.echo(f"exported {n} patients to {out}")

    @app.command("cohort")
    @handle_errors
    def cohort_cmd(
        out: Annotated[Path, typer.Option("--out", help="Flat analysis table (.csv or .xlsx).")],
        from_file: Annotated[
            Path | None,
            typer.Option("--from", help="Read an exchange file instead of the registry."),
        ] = None,
        center: Annotated[str | None, typer.Option("--center", help="Only this center.")] = None,
        encoding: EncodingOption = None,
        db: DbOption = None,
        disease: Annotated[str, typer.Option(
            "--disease", help="aml (the AML flat table, default) or myeloma (docs/myeloma.md).")
        ] = "aml",
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    ) -> None:
        """Write the flat analysis table (one row per patient; see docs/flat_table.md)."""
        from mst.cohort import build_flat_table, flat_table_from_frames, write_flat_table

        if from_file is not None and disease.lower() == "aml":  # issue 16: file → frames → table
            from mst.cli.report_cmds import _progress
            from mst.report.inputs import exchange_frames

            with _progress(3, quiet) as step:
                step("reading")
                frames = exchange_frames(
                    from_file, step.detail, encoding=encoding  # type: ignore[attr-defined]
                )
                if frames.patients.empty:
                    fail("no patients to tabulate")
                step("flat table")
                table = flat_table_from_frames(frames)
                step("writing")
                write_flat_table(table, out)
            typer.echo(f"wrote {len(table)} patients × {table.shape[1]} columns to {out}")
            return
        if from_file is None and disease.lower() == "aml":  # registry → frames → table
            from mst.registry import open_registry

            with open_registry(db) as reg:
                frames = reg.load_frames(center_id=center)
            if frames.patients.empty:
                fail("no patients to tabulate")
            table = flat_table_from_frames(frames)
            write_flat_table(table, out)
            typer.echo(f"wrote {len(table)} patients × {table.shape[1]} columns to {out}")
            return
        if from_file is not None:
            from mst.io.exchange import read_cohort

            cohort = read_cohort(from_file, encoding=encoding)
        else:
            from mst.registry import open_registry

            with open_registry(db) as reg:
                cohort = reg.load_cohort(center_id=center)
        if not cohort.records:
            fail("no patients to tabulate")
        if disease.lower() not in ("aml", "myeloma"):  # issue 18
            raise ValidationError("--disease", disease, "must be aml or myeloma")
        if disease.lower() == "myeloma":
            from mst.cohort.myeloma_table import build_myeloma_table

            table = build_myeloma_table(cohort)
            if table.empty:
                fail("no myeloma patients to tabulate")
        else:
            table = build_flat_table(cohort)
        write_flat_table(table, out)
        typer.echo(f"wrote {len(table)} patients × {table.shape[1]} columns to {out}")

    audit_app = typer.Typer(
        help="The audit trail: print it (default) or verify its hash chain.",
        invoke_without_command=True,
    )
    app.add_typer(audit_app, name="audit")

    @audit_app.callback()
    @handle_errors
    def audit(
        ctx: typer.Context,
        patient: Annotated[str | None, typer.Option("--patient", help="Only this patient.")] = None,
        limit: Annotated[
            int | None, typer.Option("--limit", min=1, help="Newest N entries.")
        ] = None,
        db: DbOption = None,
    ) -> None:
        """Print the audit trail (who, when, entity, before, after) as JSON."""
        if ctx.invoked_subcommand is not None:
            return
        from mst.registry import open_registry

        with open_registry(db) as reg:
            entries = reg.audit_log(patient_id=patient, limit=limit)
        emit_json([e.__dict__ for e in entries])

    @audit_app.command("verify")
    @handle_errors
    def audit_verify(
        db: DbOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    ) -> None:
        """Recompute the audit hash chains; exit 1 naming the first broken row."""
        from mst.registry import open_registry

        with open_registry(db) as reg:
            report = reg.verify_audit()
        if as_json:
            emit_json(report.as_dict())
        elif report.ok:
            chains = ", ".join(f"{c}: {n}" for c, n in sorted(report.chains.items()))
            typer.echo(f"audit trail intact: {report.rows} rows ({chains or 'no rows'})")
        else:
            typer.echo(f"audit trail BROKEN: {report.problem}", err=True)
        if not report.ok:
            raise typer.Exit(1)
