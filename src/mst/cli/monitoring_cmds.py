"""CLI commands of the monitoring face: chimerism, recovery, alerts."""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from mst.cli.common import emit_json, handle_errors
from mst.errors import ValidationError

chimerism_app = typer.Typer(
    help="Donor microchimerism from NGS read counts, qPCR Cts or STR peak areas.",
    no_args_is_help=True,
)

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts); labelled text by default.")
]
LodOpt = Annotated[float | None, typer.Option("--lod", help="Limit of detection, % donor.")]


def _table(rows: list[dict[str, Any]]) -> None:
    """Labelled text: one line per result, ``label: value`` pairs."""
    for r in rows:
        typer.echo("; ".join(f"{k}: {_plain(v)}" for k, v in r.items()))


def _plain(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _recovery_text(res: Any) -> str:
    def d(x: dt.date | None, days: int | None = None, ref: str = "") -> str:
        if x is None:
            return "not reached"
        return x.isoformat() + (f" ({days} days after {ref})" if days is not None else "")

    lines = [
        f"Course: chemotherapy {res.chemo_start} to {res.chemo_end} ({res.source})",
        f"  aplasia start (3 days ANC < 2 and platelets < 100): {d(res.aplasia_start)}",
        f"  recovery (3 days ANC > 0.5 and platelets > 30): "
        f"{d(res.recovery_date, res.recovery_days_from_aplasia, 'the aplasia start')}",
        f"  neutrophil recovery (ANC > 0.5): {d(res.neutrophil_recovery_date, res.neutrophil_days_from_chemo_start, 'the chemotherapy start')}",  # noqa: E501
        f"  platelet recovery (platelets > 30): {d(res.platelet_recovery_date, res.platelet_days_from_chemo_start, 'the chemotherapy start')}",  # noqa: E501
    ]
    if res.aplasia_start is not None and not res.counts_fell:
        lines.append("  counts never fell to the recovery thresholds after the aplasia start")
    for a, b in res.gaps:
        lines.append(f"  gap in the counts: {a}" + (f" to {b}" if b != a else ""))
    return "\n".join(lines)


@chimerism_app.command("ngs")
@handle_errors
def chimerism_ngs(
    counts: Annotated[Path, typer.Argument(help="CSV: kind,sample,date,donor,marker,allele,reads")],
    lod: LodOpt = None,
    lob: Annotated[float | None, typer.Option("--lob", help="Limit of blank, % donor.")] = None,
    confidence: Annotated[float | None, typer.Option(help="Clopper–Pearson level.")] = None,
    json: JsonOpt = False,
) -> None:
    """Per-marker and pooled % donor with a Clopper–Pearson interval."""
    from mst.monitoring.chimerism.tables import ngs_from_csv
    from mst.monitoring.serialize import to_plain

    _need_file(counts)
    out = ngs_from_csv(counts, lod_pct=lod, lob_pct=lob, confidence=confidence)
    if json:
        emit_json(to_plain(out))
    else:
        _table(
            [
                {
                    "sample": r.sample,
                    "date": r.date,
                    "donor": r.donor_id,
                    "donor chimerism (pooled)": r.pooled.display,
                    "LoD": f"{r.pooled.lod_pct:g}%",
                }
                for r in out["results"]
            ]
        )


@chimerism_app.command("qpcr")
@handle_errors
def chimerism_qpcr(
    cts: Annotated[Path, typer.Argument(help="CSV: role,sample,date,assay,ct,quantity")],
    method: Annotated[str, typer.Option(help="auto, ddct or curve.")] = "auto",
    efficiency_target: Annotated[
        float | None, typer.Option(help="Target efficiency (1.0=100%).")
    ] = None,
    efficiency_reference: Annotated[
        float | None, typer.Option(help="Reference efficiency.")
    ] = None,
    lod: LodOpt = None,
    json: JsonOpt = False,
) -> None:
    """% donor by ΔΔCt (efficiency-corrected) or by standard curves."""
    from mst.monitoring.chimerism.tables import qpcr_from_csv
    from mst.monitoring.serialize import to_plain

    _need_file(cts)
    out = qpcr_from_csv(
        cts,
        method=method,
        efficiency_target=efficiency_target,
        efficiency_reference=efficiency_reference,
        lod_pct=lod,
    )
    if json:
        emit_json(to_plain(out))
    else:
        _table(
            [
                {
                    "sample": r["sample"],
                    "donor chimerism": r["value"].display,
                    "LoD": f"{r['value'].lod_pct:g}%",
                }
                for r in out["results"]
            ]
        )


@chimerism_app.command("str")
@handle_errors
def chimerism_str(
    peaks: Annotated[Path, typer.Argument(help="CSV: kind,sample,date,donor,marker,allele,area")],
    lod: LodOpt = None,
    json: JsonOpt = False,
) -> None:
    """% donor from STR peak areas with the shared-allele formulas."""
    from mst.monitoring.chimerism.tables import str_from_csv
    from mst.monitoring.serialize import to_plain

    _need_file(peaks)
    out = str_from_csv(peaks, lod_pct=lod)
    if json:
        emit_json(to_plain(out))
    else:
        _table(
            [
                {
                    "sample": r.sample,
                    "date": r.date,
                    "donor": r.donor_id,
                    "donor chimerism (mean of markers)": r.mean.display,
                    "LoD": f"{r.mean.lod_pct:g}%",
                }
                for r in out["results"]
            ]
        )


def _need_file(path: Path) -> None:
    """Refuse a path that is not a readable file, in plain words."""
    if not path.exists():
        raise ValidationError(str(path), None, "no such file")
    if not path.is_file():
        raise ValidationError(str(path), None, "is a directory, not a file")


def _iso(value: str | None, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(name, value, "must be an ISO date (YYYY-MM-DD)") from None


_MISSING = {"", "na", "n/a", "nan", "null", "none", "."}


def _count(file: str, row: int, column: str, raw: str | None) -> float | None:
    """One count cell in 10⁹/L: blank/NA → missing; else a number in the plausible range."""
    from mst.domain.analytes import to_canonical

    where = f"{file} row {row}: {column}"
    if raw is None or raw.strip().lower() in _MISSING:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValidationError(where, raw, "must be a number in 10^9/L") from None
    if value < 0:
        raise ValidationError(where, raw, "must be >= 0 (10^9/L)")
    return to_canonical(column, value, "10^9/L", where)


def recovery(
    counts: Annotated[Path, typer.Argument(help="CSV: date,anc,platelets (10^9/L)")],
    chemo_start: Annotated[str, typer.Option(help="First chemotherapy day (ISO date).")],
    chemo_end: Annotated[str | None, typer.Option(help="Last chemotherapy day.")] = None,
    until: Annotated[str | None, typer.Option(help="Ignore counts after this day.")] = None,
    json: JsonOpt = False,
) -> None:
    """Aplasia start, count recovery and neutrophil/platelet recovery days (002 rule)."""
    from mst.monitoring.recovery import course_recovery
    from mst.monitoring.serialize import to_plain

    _need_file(counts)
    with counts.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"date", "anc", "platelets"}
        if not need <= set(reader.fieldnames or []):
            raise ValidationError(
                f"{counts.name}: header",
                ", ".join(reader.fieldnames or []),
                "must contain the columns " + ", ".join(sorted(need)),
            )
        rows = list(reader)
    dates = []
    seen: dict[dt.date, int] = {}
    for i, r in enumerate(rows, 2):
        day = _iso((r["date"] or "").strip(), f"{counts.name} row {i}: date")
        if day is None or (r["date"] or "").strip() == "":
            raise ValidationError(f"{counts.name} row {i}: date", None, "is required")
        if day in seen:
            raise ValidationError(
                f"{counts.name} row {i}: date",
                day.isoformat(),
                f"already given on row {seen[day]}; give one count per day",
            )
        seen[day] = i
        dates.append(day)
    anc = [_count(counts.name, i, "anc", r["anc"]) for i, r in enumerate(rows, 2)]
    plt = [_count(counts.name, i, "platelets", r["platelets"]) for i, r in enumerate(rows, 2)]
    res = course_recovery(
        anc,
        plt,
        _iso(chemo_start, "chemo_start"),
        _iso(chemo_end, "chemo_end"),
        dates=dates,
        until=_iso(until, "until"),
    )
    if json:
        emit_json(to_plain(res))
    else:
        typer.echo(_recovery_text(res))


def alerts(
    patient: Annotated[str | None, typer.Option("--patient", help="Only this patient id.")] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from", help="Exchange file (CSV/XLSX).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Registry URL (default: MST_DATABASE_URL or the SQLite file)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Evaluate with what was known on this day.")
    ] = None,
    severity: Annotated[
        str | None, typer.Option(help="Minimum severity: info, warning, high.")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Dated monitoring alerts (GVHD suspicion/high risk, rising chimerism, GVHD/CRS events)."""
    from mst.monitoring.alerts import SEVERITY_ORDER, evaluate_cohort

    if severity is not None and severity not in SEVERITY_ORDER:
        raise ValidationError("severity", severity, "must be one of " + ", ".join(SEVERITY_ORDER))
    if from_file is not None and db is not None:
        raise ValidationError("--from/--db", (str(from_file), db), "give one source, not both")
    if from_file is not None:
        from mst.io.exchange import read_cohort

        _need_file(from_file)
        records = list(read_cohort(from_file).records)
        if patient is not None:
            records = [r for r in records if r.patient.id == patient]
    else:
        from mst.registry import open_registry

        with open_registry(db or os.environ.get("MST_DATABASE_URL")) as reg:
            records = list(reg.load_records(patient_ids=[patient] if patient else None))
    if patient is not None and not records:
        from mst.errors import NotFoundError

        raise NotFoundError(f"patient {patient} not found")
    found = evaluate_cohort(records, _iso(as_of, "as_of"))
    if severity is not None:
        found = [a for a in found if SEVERITY_ORDER[a.severity] >= SEVERITY_ORDER[severity]]
    if json:
        emit_json([a.to_dict() for a in found])
    else:
        if not found:
            typer.echo("no alerts")
        for a in found:
            typer.echo(f"{a.date}  patient {a.patient_id}  [{a.severity}] {a.rule}")
            typer.echo(f"  {a.message} ({a.source})")
            for ev in a.evidence:
                typer.echo(f"  - {ev}")


grade_app = typer.Typer(
    help="Grade acute GVHD (MAGIC), CRS (ASTCT) or myeloma response (IMWG 2016) from a file.",
    no_args_is_help=True,
)
GradeFile = Annotated[
    Path, typer.Argument(help="CSV (one row per assessment) or JSON (object or list).")
]


def _grade(kind: str, file: Path, json: bool) -> None:
    from mst.monitoring.grade_files import grade_file

    _need_file(file)
    out = grade_file(file, kind)  # type: ignore[arg-type]
    if json:
        emit_json(out)
        return
    for r in out:
        when = f" {r['date']}" if r.get("date") else ""
        if kind == "gvhd":
            st = r["stages"]
            head = (
                f"grade {r['grade_roman']} (skin {st['skin']}, liver {st['liver']}, "
                f"upper GI {st['upper_gi']}, lower GI {st['lower_gi']})"
            )
        elif kind == "crs":
            head = f"grade {r['grade']}"
        else:
            head = f"{r['category']} (unconfirmed; registry {r['registry_category'] or '—'})"
        typer.echo(f"{r['id']}{when}: {head} [{r['source']}]")
        for reason in r["reasons"]:
            typer.echo(f"  - {reason}")


@grade_app.command("gvhd")
@handle_errors
def grade_gvhd(file: GradeFile, json: JsonOpt = False) -> None:
    """MAGIC acute GVHD organ stages and overall grade (columns: rash_bsa, bullae_bsa,
    bilirubin_mg_dl, persistent_upper_gi, stool_ml_day, episodes_per_day,
    severe_pain_or_bloody; optional id, date)."""
    _grade("gvhd", file, json)


@grade_app.command("crs")
@handle_errors
def grade_crs_cmd(file: GradeFile, json: JsonOpt = False) -> None:
    """ASTCT CRS grade (columns: temperature_c, hypotension, vasopressors,
    vasopressin_only_adjunct, oxygen_device, oxygen_l_min, fever_masked; optional id, date)."""
    _grade("crs", file, json)


@grade_app.command("imwg")
@handle_errors
def grade_imwg(file: GradeFile, json: JsonOpt = False) -> None:
    """IMWG 2016 myeloma response of each assessment row against the baseline row (and the
    nadir row, if any): column role = baseline | nadir | assessment; serum_m (g/dL),
    urine_m (mg/24 h), flc_kappa, flc_lambda (mg/L), involved_light_chain, marrow_plasma_cells
    (%), immunofixation_negative, electrophoresis_negative, clonal_cells_absent,
    plasmacytoma_present, new_lesion, date; optional id."""
    _grade("imwg", file, json)


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register this module's commands on the main and stats apps."""
    del stats_app
    app.add_typer(chimerism_app, name="chimerism")
    app.add_typer(grade_app, name="grade")
    app.command("recovery")(handle_errors(recovery))
    app.command("alerts")(handle_errors(alerts))
