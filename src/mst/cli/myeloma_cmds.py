"""CLI commands of the myeloma face: ``mst stage myeloma FILE.json [--json]``."""

from __future__ import annotations

import json as _json
from pathlib import Path
from typing import Annotated

import typer

from mst.cli.common import emit_json, handle_errors
from mst.errors import ValidationError

stage_app = typer.Typer(help="Disease staging at diagnosis.", no_args_is_help=True)


def _read(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(str(path), "(bytes)", "must be UTF-8 text") from None
    except FileNotFoundError:
        raise ValidationError(str(path), None, "no such file") from None
    except OSError as exc:
        raise ValidationError(str(path), None, f"cannot be read ({exc.strerror})") from None
    try:
        return _json.loads(text)
    except _json.JSONDecodeError as exc:
        raise ValidationError(
            str(path), f"line {exc.lineno}, column {exc.colno}", f"is not valid JSON ({exc.msg})"
        ) from None


@stage_app.command("myeloma")
@handle_errors
def stage_myeloma_cmd(
    file: Annotated[Path, typer.Argument(help="JSON object: one patient's values at diagnosis.")],
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """ISS, R-ISS, R2-ISS, Durie-Salmon and mSMART 3.0, each with its source."""
    from mst.monitoring.myeloma_staging import SYSTEMS, staging_json

    out = staging_json(_read(file))  # type: ignore[arg-type]
    if json:
        emit_json(out)
        return
    names = {"iss": "ISS", "r_iss": "R-ISS", "r2_iss": "R2-ISS",
             "durie_salmon": "Durie-Salmon", "msmart": "mSMART 3.0"}
    for key in SYSTEMS:
        s = out[key]
        if s is None:
            typer.echo(f"{names[key]:<13} not staged: {out['not_staged'][key]}")
            continue
        pts = ""
        if key == "r2_iss":
            pts = f" ({s['points']:g} point{'' if s['points'] == 1 else 's'})"
        typer.echo(f"{names[key]:<13} {s['stage']}{pts}: {s['rule']}")
        typer.echo(f"{'':<13} source: {s['source']}")
        for a in s.get("assumptions", []):
            typer.echo(f"{'':<13} assumed: {a}")
    for c in out["converted"]:
        typer.echo(f"converted on entry: {c}")


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register ``mst stage``."""
    del stats_app
    app.add_typer(stage_app, name="stage")
