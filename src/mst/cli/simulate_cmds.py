"""CLI: ``mst simulate`` — write a seeded synthetic MST cohort (exchange format)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mst.cli.common import emit_json, handle_errors, stdout_is_terminal
from mst.domain import Cohort, PatientRecord


def _records_with_progress(n: int, seed: int, centers: int,
                           config: object = None) -> list[PatientRecord]:
    """Simulate with a rich progress bar on standard error (the JSON goes to standard out)."""
    from rich.console import Console
    from rich.progress import Progress

    from mst.simulate import iter_records

    out: list[PatientRecord] = []
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("simulating patients", total=max(n, 0))
        for rec in iter_records(n, seed, n_centers=centers, config=config):  # type: ignore[arg-type]
            out.append(rec)
            progress.advance(task)
    return out


def simulate(
    n: Annotated[int, typer.Option("--n", help="Number of patients (>= 0).")],
    seed: Annotated[int, typer.Option("--seed", help="Seed (>= 0): same seed, identical file.")],
    out: Annotated[Path, typer.Option("--out", help="Cohort file to write (.csv or .xlsx).")],
    centers: Annotated[int, typer.Option("--centers", help="Number of centers (1-99).")] = 4,
    table: Annotated[
        Path | None,
        typer.Option("--table", help="Also write the flat analysis table here (.csv or .xlsx)."),
    ] = None,
    under_60: Annotated[float | None, typer.Option(
        "--under-60", help="Share of patients younger than 60 (default 0: 002 enrolled "
        "patients >= 60 only); the other age groups keep their proportions.")] = None,
    hla_model: Annotated[str | None, typer.Option(
        "--hla-model", help="seed_002 (default: every donor 5/10 or 6/10 HLA-mismatched, "
        "002 Table 1) or haplotype (mismatches from haplotype sharing alone: 2-10/10).")] = None,
) -> None:
    """Simulate a synthetic MST cohort calibrated to seed 002 and write it.

    The cohort is written in the exchange format (mst.io.exchange); with --table the flat
    analysis table too, including the HLA mismatch counts (the patients' own simulated
    typings are not part of the exchange format). A JSON summary is printed. Same
    --n --seed --centers give byte-identical files.
    """
    from mst.cohort import build_flat_table, write_flat_table
    from mst.io.exchange import write_cohort
    from mst.simulate import (
        calibration_version,
        simulate_cohort,
        simulated_centers,
    )
    from mst.simulate.config import SimConfig

    cfg = SimConfig.default()
    if under_60 is not None:
        if not 0 <= under_60 < 1:
            from mst.errors import ValidationError

            raise ValidationError("--under-60", under_60, "must be >= 0 and < 1")
        old = {k: v for k, v in cfg.p_age_group.items() if k != "<60"}
        tot = sum(old.values())
        cfg = cfg.with_updates(p_age_group={"<60": under_60, **{
            k: v / tot * (1 - under_60) for k, v in old.items()}})
    if hla_model is not None:
        if hla_model not in ("seed_002", "haplotype"):
            from mst.errors import ValidationError

            raise ValidationError("--hla-model", hla_model, "must be seed_002 or haplotype")
        cfg = cfg.with_updates(hla_model=hla_model)
    if stdout_is_terminal():  # progress bar on an interactive terminal only
        records = tuple(_records_with_progress(n, seed, centers, cfg))
        cohort = Cohort(centers=simulated_centers(centers, cfg), records=records)
    else:
        cohort = simulate_cohort(n, seed, n_centers=centers, config=cfg)
    write_cohort(cohort, out)
    if table is not None:
        df = build_flat_table(cohort)
        write_flat_table(df, table)
    else:
        df = build_flat_table(cohort)
    emit_json(
        {
            "out": str(out),
            "table": str(table) if table is not None else None,
            "n": n,
            "seed": seed,
            "centers": centers,
            "calibration_version": calibration_version(),
            "cr": int(df["cr"].sum()),
            "early_deaths": int(df["early_death"].fillna(False).sum()),
            "deaths": int(df["death"].sum()),
            "relapses": int(df["relapse"].fillna(False).sum()),
            "courses": int(df["n_courses"].sum()),
            "labs": sum(len(r.labs) for r in cohort.records),
        }
    )


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register ``mst simulate`` on the main app."""
    del stats_app
    app.command("simulate")(handle_errors(simulate))
