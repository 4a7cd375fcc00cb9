"""CLI of donor selection: ``mst donors rank`` and ``mst hla mismatch``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from mst.cli.common import emit_json, fail, handle_errors
from mst.donors.case import load_case
from mst.donors.mismatch import LEVEL_TEXT, LOCI_10, LOCI_12, compare
from mst.donors.nomenclature import parse_gl
from mst.donors.ranking import DEFAULT_EXPLAIN, Ranking, rank_case
from mst.donors.reference import imgt_release

donors_app = typer.Typer(
    help="Donor selection for HLA-mismatched MST (004 §2.1).", no_args_is_help=True
)
hla_app = typer.Typer(help="HLA typing tools (IPD-IMGT/HLA 3.58.0, offline).", no_args_is_help=True)


def _explain_arg(value: str) -> int | None:
    """``--explain``: ``all`` or a number of donors ≥ 0."""
    if value.strip().lower() == "all":
        return None
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        fail(f"--explain must be 'all' or a whole number ≥ 0, not {value!r}")
    return n


def _ranking_text(r: Ranking, explain: int | None = None) -> str:
    lines = [
        f"Donor ranking for patient {r.patient_id} (IPD-IMGT/HLA {imgt_release()};"
        f" acceptable x/12 {r.settings.mismatch_min}–{r.settings.mismatch_max},"
        f" age {r.settings.donor_age_min}–{r.settings.donor_age_max})",
        "",
        f"{'rank':>4}  {'donor':<16} {'rel':<13} {'sex':<3} {'age':>3}"
        f"  {'x/12':>5} {'GvH':>4} {'HvG':>4}  {'DSA':<9} {'DPB1':<19} KIR",
    ]
    for i, d in enumerate(r.donors):
        mm = d.mismatch
        x12 = mm.total("bidirectional", LOCI_12)
        gvh = mm.total("gvh", LOCI_12)
        hvg = mm.total("hvg", LOCI_12)
        rank = "excl" if d.rank is None else str(d.rank)
        lines.append(
            f"{rank:>4}  {d.donor_id:<16} {d.candidate.donor.relationship.value:<13}"
            f" {d.candidate.donor.sex.value:<3} {d.candidate.donor.age:>3}"
            f"  {x12 if x12 is not None else '?'!s:>5} {gvh if gvh is not None else '?'!s:>4}"
            f" {hvg if hvg is not None else '?'!s:>4}  {d.dsa.status:<9} {d.tce.status:<19}"
            f" {d.kir.group if d.kir is not None else '-'}"
        )
        if explain is not None and i >= explain:
            if d.exclusions:
                lines.append(f"        EXCLUDED: {', '.join(e.rule for e in d.exclusions)}")
            continue
        for e in d.exclusions:
            lines.append(f"        EXCLUDED: {e.text} [{e.source}]")
        for reason in d.reasons:
            if reason.effect in ("warn", "info"):
                lines.append(f"        {reason.effect}: {reason.text}")
        if d.decided_by:
            lines.append(f"        order: {d.decided_by}")
    if explain is not None and explain < len(r.donors):
        lines.append(
            f"\n(reasons shown for the first {explain} of {len(r.donors)} donors;"
            " --explain all for every donor)"
        )
    return "\n".join(lines)


@donors_app.command("rank")
@handle_errors
def rank_cmd(
    case_file: Annotated[Path, typer.Argument(help="CASE.json (docs/donors.md)")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    as_text: Annotated[bool, typer.Option("--text", help="Text table (default)")] = False,
    explain: Annotated[
        str,
        typer.Option(
            "--explain",
            help=f"full reasons for the first N donors (default {DEFAULT_EXPLAIN}) or 'all'",
        ),
    ] = str(DEFAULT_EXPLAIN),
) -> None:
    """Rank the candidate donors of one patient, with reasons."""
    if as_json and as_text:
        fail("choose one of --json and --text")
    n_explain = _explain_arg(explain)
    try:
        data = json.loads(case_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        fail(f"{case_file}: not valid JSON ({exc})")
        return
    except FileNotFoundError:
        fail(f"{case_file}: no such file")
        return
    except IsADirectoryError:
        fail(f"{case_file}: is a folder, not a CASE.json file")
        return
    except PermissionError:
        fail(f"{case_file}: not readable (permission denied)")
        return
    except UnicodeDecodeError:
        fail(f"{case_file}: not UTF-8 text (save the case as UTF-8 JSON)")
        return
    ranking = rank_case(load_case(data))
    del data
    if as_json:
        out = sys.stdout
        for chunk in ranking.iter_json(n_explain):
            out.write(chunk)
        out.flush()
    else:
        typer.echo(_ranking_text(ranking, n_explain))


@hla_app.command("mismatch")
@handle_errors
def mismatch_cmd(
    recipient: Annotated[str, typer.Argument(help="Recipient GL string")],
    donor: Annotated[str, typer.Argument(help="Donor GL string")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    level: Annotated[
        str, typer.Option(help="ard (antigen recognition domain, default) or antigen")
    ] = "ard",
) -> None:
    """Count HLA mismatches (GvH, HvG, bidirectional) between two typings."""
    if level not in ("ard", "antigen"):
        fail("--level must be 'ard' (antigen recognition domain) or 'antigen'")
    report = compare(parse_gl(recipient), parse_gl(donor), level)  # type: ignore[arg-type]
    if as_json:
        emit_json(report.to_dict())
        return
    typer.echo(f"level {level}: {LEVEL_TEXT[level]}; IPD-IMGT/HLA {imgt_release()}")
    typer.echo(f"{'locus':<6} {'GvH':>4} {'HvG':>4} {'bidir':>5}  homozygous-shared")
    for lm in report.loci.values():
        typer.echo(
            f"{lm.locus:<6} {lm.gvh!s:>4} {lm.hvg!s:>4} {lm.bidirectional!s:>5}  "
            f"donor:{lm.donor_homozygous_shared} recipient:{lm.recipient_homozygous_shared}"
        )
    for name, loci in (("x/10", LOCI_10), ("x/12", LOCI_12)):
        t = [report.total(d, loci) for d in ("gvh", "hvg", "bidirectional")]
        typer.echo(f"{name:<6} " + " ".join(f"{'?' if v is None else str(v):>4}" for v in t))
    if report.missing:
        typer.echo(f"? = not typed in both: {', '.join(report.missing)}")


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register ``mst donors …`` and ``mst hla …``."""
    del stats_app
    app.add_typer(donors_app, name="donors")
    app.add_typer(hla_app, name="hla")
