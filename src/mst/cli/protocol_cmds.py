"""CLI commands of the protocol engine: ``mst plan``, ``mst cells``, ``mst regimens``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mst.cli.common import emit_json, handle_errors
from mst.errors import ValidationError


def _sources(n: Any) -> str:
    return "; ".join(n.sources)


def _notes_text(notes: list[Any], indent: str = "  ") -> list[str]:
    return [f"{indent}[{n.level}] {n.message} ({_sources(n)})" for n in notes]


def _plan_text(r: Any) -> str:
    a = r.assessment
    out = [
        f"Patient {a.patient_id}: age {a.age} (band {a.age_band}), "
        f"fitness {a.fitness.value if a.fitness else '?'} ({a.fitness_basis}), "
        f"ELN 2022 {a.eln_risk.value if a.eln_risk else '?'} ({a.eln_basis})",
        f"Phase: {a.phase}; MST candidate: {'yes' if a.candidate else 'no'}; "
        f"catalog {r.catalog_version}",
        "",
        "Assessment notes:",
    ]
    out += _notes_text(list(a.notes))
    out += ["", "Options:"]
    for o in a.options:
        out.append(
            f"  {o.strength:<11} {o.regimen_id or '-':<22} {o.title} "
            f"[{'; '.join(o.reasons)}] ({'; '.join(o.sources)})"
        )
    if not a.options:
        out.append("  (none)")
    if r.regimen is not None:
        d = r.doses
        out += [
            "",
            f"Course {r.course_number} ({r.course_kind.value}): {r.regimen.id} — {r.regimen.name} "
            f"({r.regimen.source})",
            f"  BSA {d.bsa_m2:.2f} m² ({d.bsa_method}; raw {d.bsa_m2_raw:.4f}), "
            f"height {d.height_cm:g} cm, weight {d.weight_kg:g} kg",
            "",
            "Doses:",
        ]
        for ln in d.lines:
            unit_dose = (
                f"{ln.unit_dose[0]:g}–{ln.unit_dose[1]:g}"
                if isinstance(ln.unit_dose, tuple)
                else f"{ln.unit_dose:g}"
            )
            if ln.dose is not None:
                dose = f"{ln.dose:g} {ln.dose_unit}"
            else:
                dose = f"{ln.dose_range[0]:g}–{ln.dose_range[1]:g} {ln.dose_unit} (CHOOSE)"
            freq = " q12h" if ln.per_day == 2 else ""
            days = (
                ",".join(map(str, ln.days)) if len(ln.days) < 4 else f"{ln.days[0]}–{ln.days[-1]}"
            )
            line = f"  {ln.drug:<13} {unit_dose} {ln.unit:<6} → {dose}{freq} {ln.route} days {days}"
            if ln.components:
                line += " [" + ", ".join(f"{k} {v:g} mg" for k, v in ln.components.items()) + "]"
            if ln.adjusted:
                line += " CYP3A-adjusted: " + ", ".join(
                    f"d{dd} {mg:g} mg" for dd, mg in ln.adjusted
                )
            out.append(line)
        out += _notes_text(list(d.notes))
        c = r.calendar
        w = c.infusion
        out += ["", "Calendar:"]
        for day in c.days:
            if day.entries:
                for i, e in enumerate(day.entries):
                    head = (
                        f"  d{day.day:<3} {day.date.isoformat()} {day.date.strftime('%a')}"
                        if i == 0
                        else " " * 22
                    )
                    out.append(f"{head}  {e.text}")
        out += [f"  {w.line()}"]
        nc = c.next_course
        out += [
            f"  Next: {nc.kind} between {nc.earliest} and {nc.latest} — {nc.condition} "
            f"({'; '.join(nc.sources)})"
        ]
        out += _notes_text(list(c.notes))
        ex = r.anthracycline
        out += [
            "",
            f"Cumulative anthracycline (doxorubicin-equivalent, {ex.factor_set}): "
            f"{ex.total_doxorubicin_eq_mg_m2:g} mg/m²",
        ]
        for x in ex.lines:
            out.append(
                f"  {x.label}: {x.drug} {x.mg_m2:g} mg/m² × {x.factor:g} = "
                f"{x.doxorubicin_eq_mg_m2:g}"
            )
        for drug, mg in ex.per_drug_mg_m2.items():
            out.append(
                f"  cumulative {drug}: {mg:g} mg/m² "
                f"(labelled limit {ex.per_drug_limit_mg_m2[drug]:g} mg/m²)"
            )
        out += _notes_text(list(ex.notes))
        if r.infusion_check is not None:
            out += ["", "Infusion check:"] + _notes_text([r.infusion_check.note])
    if r.collection is not None:
        out += ["", *_cells_text(r.collection)]
    if r.notes:
        out += ["", "Plan notes:", *_notes_text(list(r.notes))]
    return "\n".join(out)


def _cells_text(p: Any) -> list[str]:
    out = [
        f"Collection plan (weight {p.weight_kg:g} kg, basis {p.basis}): "
        f"covers {p.courses_covered} of "
        f"{p.courses_planned} courses ({p.courses_at_target} at target)"
    ]
    for al in p.aliquots:
        parts = []
        if al.mnc_1e8_per_kg is not None:
            parts.append(f"MNC {al.mnc_1e8_per_kg:.2f}×10⁸/kg ({al.mnc_status})")
        if al.cd3_1e8_per_kg is not None:
            parts.append(f"CD3⁺ {al.cd3_1e8_per_kg:.2f}×10⁸/kg ({al.cd3_status})")
        out.append(
            f"  course {al.course}: {al.fraction:.1%} of the collection, {al.product.value}, "
            + ", ".join(parts)
        )
    out.append(
        f"  spare: {p.spare_fraction:.1%}; second donor needed: "
        f"{'yes' if p.second_donor_needed else 'no'}"
    )
    out += _notes_text(list(p.notes))
    return out


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ValidationError(str(path), None, "no such file")
    if not path.is_file():
        raise ValidationError(str(path), None, "is a directory, not a file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationError(
            str(path), f"line {exc.lineno}", f"is not valid JSON ({exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise ValidationError(str(path), type(data).__name__, "must hold a JSON object")
    return data


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register this module's commands on the main and stats apps."""
    del stats_app

    @app.command("plan")
    @handle_errors
    def plan_cmd(
        patient: Annotated[Path, typer.Argument(help="Plan input JSON (see docs/protocol.md).")],
        start: Annotated[str | None, typer.Option(help="Day 1 of the course, YYYY-MM-DD.")] = None,
        regimen: Annotated[
            str | None, typer.Option(help="Regimen id (default: first option).")
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json/--text", help="JSON (default) or text.")
        ] = True,
    ) -> None:
        """Assess a patient against the 2023 consensus and plan the next MST course."""
        from mst.protocol import plan

        day1 = None
        if start is not None:
            try:
                day1 = dt.date.fromisoformat(start)
            except ValueError:
                raise ValidationError("--start", start, "must be a date YYYY-MM-DD") from None
        result = plan(_read_json(patient), start=day1, regimen_id=regimen)
        if as_json:
            emit_json(result)
        else:
            typer.echo(_plan_text(result))

    @app.command("cells")
    @handle_errors
    def cells_cmd(
        weight: Annotated[float, typer.Option(help="Patient weight, kg.")],
        mnc: Annotated[float | None, typer.Option(help="Total MNC collected, ×10⁸ cells.")] = None,
        cd3: Annotated[float | None, typer.Option(help="Total CD3⁺ collected, ×10⁸ cells.")] = None,
        courses: Annotated[int, typer.Option(help="Courses the collection should serve.")] = 1,
        as_json: Annotated[
            bool, typer.Option("--json/--text", help="JSON (default) or text.")
        ] = True,
    ) -> None:
        """Plan the aliquots of a GPBSC collection (004 §2.2 targets ±25%)."""
        from mst.protocol.cells import collection_plan

        result = collection_plan(weight, mnc_total_1e8=mnc, cd3_total_1e8=cd3, courses=courses)
        if as_json:
            emit_json(result)
        else:
            typer.echo("\n".join(_cells_text(result)))

    @app.command("regimens")
    @handle_errors
    def regimens_cmd(
        as_json: Annotated[
            bool, typer.Option("--json/--text", help="JSON (default) or text.")
        ] = True,
    ) -> None:
        """List the regimen catalog (004 §4–5, seed 002)."""
        from mst.protocol.catalog import catalog_version, load_catalog

        cat = load_catalog()
        if as_json:
            emit_json({"version": catalog_version(), "regimens": list(cat.values())})
            return
        for r in cat.values():
            typer.echo(
                f"{r.id:<22} {r.phase.value:<14} {'/'.join(f.value for f in r.fitness):<10} "
                f"{r.source:<12} {r.name}"
            )
