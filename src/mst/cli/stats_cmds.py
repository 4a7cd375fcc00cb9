"""``mst stats km | cif | table1 | followup | outcomes``: outcome statistics from the flat
analysis table (or any CSV/XLSX), validated against R."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from mst.cli.common import emit_json, handle_errors, to_json
from mst.errors import ValidationError

FileArg = Annotated[Path, typer.Argument(help="Flat analysis table or any table (.csv/.xlsx).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (default: a text summary).")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="Group column.")]
StrataOpt = Annotated[str | None, typer.Option("--strata", help="Strata column for the test.")]
AtOpt = Annotated[str | None, typer.Option("--at", help="Times, e.g. 12,36,60.")]
LevelOpt = Annotated[float, typer.Option("--conf-level", help="CI coverage.")]
EventOpt = Annotated[str, typer.Option("--event", help="Event column, 1 = event, 0 = censored.")]
ConfOpt = Annotated[str, typer.Option("--conf-type", help="log-log | log | plain.")]
RhoOpt = Annotated[float, typer.Option("--rho", help="Weight power (0 = log-rank / Gray).")]
VarsOpt = Annotated[str | None, typer.Option("--vars", help="Columns, e.g. sex,age.")]
CatOpt = Annotated[
    str | None, typer.Option("--categorical", help="Numeric columns to treat as categorical.")
]


def _floats(text: str | None, name: str) -> list[float]:
    if not text:
        return []
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise ValidationError(name, text, "must be comma-separated numbers, e.g. 12,36,60") from exc
    if any(x < 0 for x in vals):
        raise ValidationError(name, text, "times must be >= 0")
    return vals


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise ValidationError(name, text, "must be comma-separated integers, e.g. 0,1,2") from exc


def _names(text: str | None) -> list[str] | None:
    return None if not text else [x.strip() for x in text.split(",") if x.strip()]


def km_payload(
    path: Path,
    time: str,
    event: str,
    group: str | None,
    strata: str | None,
    at: list[float],
    conf_type: str,
    conf_level: float,
    rho: float,
) -> dict[str, Any]:
    """Kaplan–Meier per group (+ log-rank when grouped) as a JSON-ready dict."""
    from mst.stats.io import outcome_columns, read_table
    from mst.stats.payloads import km_json

    df = read_table(path)
    t, e, g, s, excluded = outcome_columns(df, time, event, (0, 1), group, strata)
    return km_json(
        t, e, g, s, excluded, time=time, event=event, group=group, at=at,
        conf_type=conf_type, conf_level=conf_level, rho=rho,
    )


def cif_payload(
    path: Path,
    time: str,
    status: str,
    cause: int,
    group: str | None,
    strata: str | None,
    codes: tuple[int, ...],
    censor: int,
    at: list[float],
    rho: float,
    conf_level: float,
) -> dict[str, Any]:
    """Cumulative incidence per group (+ Gray's test when grouped) as a JSON-ready dict."""
    from mst.stats.io import outcome_columns, read_table
    from mst.stats.payloads import cif_json

    if censor not in codes:
        raise ValidationError("--censor", censor, f"must be one of the codes {list(codes)}")
    df = read_table(path)
    t, s, g, st, excluded = outcome_columns(df, time, status, codes, group, strata)
    return cif_json(
        t, s, g, st, excluded, time=time, status=status, cause=cause, group=group,
        codes=codes, censor=censor, at=at, rho=rho, conf_level=conf_level,
    )


def _fmt(x: float) -> str:
    return "NA" if x is None or not np.isfinite(x) else f"{x:.4g}"


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register ``mst stats km``, ``cif``, ``table1``, ``followup`` and ``outcomes``."""
    del app

    @stats_app.command("km")
    @handle_errors
    def km_cmd(
        file: FileArg,
        time: Annotated[str, typer.Option("--time", help="Time column (e.g. os_months).")],
        event: EventOpt,
        group: GroupOpt = None,
        strata: StrataOpt = None,
        at: AtOpt = None,
        conf_type: ConfOpt = "log-log",
        conf_level: LevelOpt = 0.95,
        rho: RhoOpt = 0.0,
        as_json: JsonOpt = False,
    ) -> None:
        """Kaplan-Meier estimates by group with the log-rank test (as R survfit/survdiff)."""
        out = km_payload(
            file, time, event, group, strata, _floats(at, "--at"), conf_type, conf_level, rho
        )
        if as_json:
            emit_json(out)
            return
        for label, b in out["groups"].items():
            typer.echo(
                f"{label}: n={b['n']} events={b['events']} median={_fmt(b['median'])} "
                f"({_fmt(b['median_lower'])}-{_fmt(b['median_upper'])})"
            )
            for i, tt in enumerate(b.get("at", {}).get("time", [])):
                typer.echo(
                    f"  S({tt:g}) = {_fmt(b['at']['survival'][i])} "
                    f"[{_fmt(b['at']['lower'][i])}, {_fmt(b['at']['upper'][i])}]"
                )
        if "logrank" in out:
            lr = out["logrank"]
            typer.echo(f"{lr['test']}: chi2={lr['statistic']:.4f} df={lr['df']} p={lr['p']:.4g}")

    @stats_app.command("cif")
    @handle_errors
    def cif_cmd(
        file: FileArg,
        time: Annotated[str, typer.Option("--time", help="Time column (e.g. crs_months).")],
        status: Annotated[str, typer.Option("--status", help="Status column (0 = censored).")],
        cause: Annotated[int, typer.Option("--cause", help="Cause of interest, e.g. 1.")],
        group: GroupOpt = None,
        strata: StrataOpt = None,
        codes: Annotated[str, typer.Option("--codes", help="Declared status codes.")] = "0,1,2",
        censor: Annotated[int, typer.Option("--censor", help="Censoring code.")] = 0,
        at: AtOpt = None,
        rho: RhoOpt = 0.0,
        conf_level: LevelOpt = 0.95,
        as_json: JsonOpt = False,
    ) -> None:
        """Cumulative incidence (Aalen-Johansen) by group with Gray's test (as R cuminc)."""
        out = cif_payload(
            file,
            time,
            status,
            cause,
            group,
            strata,
            _ints(codes, "--codes"),
            censor,
            _floats(at, "--at"),
            rho,
            conf_level,
        )
        if as_json:
            emit_json(out)
            return
        for label, b in out["groups"].items():
            last = _fmt(b["cif"][-1]) if len(b["cif"]) else "0"
            typer.echo(f"{label}: n={b['n']} events={b['events']} final CIF={last}")
            for i, tt in enumerate(b.get("at", {}).get("time", [])):
                typer.echo(
                    f"  F({tt:g}) = {_fmt(b['at']['cif'][i])} "
                    f"[{_fmt(b['at']['lower'][i])}, {_fmt(b['at']['upper'][i])}]"
                )
        if "gray" in out:
            gr = out["gray"]
            typer.echo(f"{gr['test']}: chi2={gr['statistic']:.4f} df={gr['df']} p={gr['p']:.4g}")

    @stats_app.command("table1")
    @handle_errors
    def table1_cmd(
        file: FileArg,
        by: Annotated[str, typer.Option("--by", help="Grouping column.")],
        variables: VarsOpt = None,
        categorical: CatOpt = None,
        digits: Annotated[int, typer.Option("--digits")] = 2,
        as_json: JsonOpt = False,
        as_html: Annotated[bool, typer.Option("--html", help="Print an HTML table.")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    ) -> None:
        """Table 1 / Table 2: n (%), mean ± SD or median (Q1, Q3), p-values and tests."""
        from mst.stats.io import read_table
        from mst.stats.table1 import table1

        df = read_table(file)
        tab = table1(df, by, _names(variables), _names(categorical), digits=digits)
        text = tab.to_html() if as_html and not as_json else to_json(tab.to_dict())
        if not as_json and not as_html:
            lines = [
                f"{r.variable}: p={_fmt(r.p) if r.p is not None else 'NA'} ({r.test})"
                for r in tab.rows
            ]
            text = "\n".join(lines)
        if out is not None:
            out.write_text(text + "\n", encoding="utf-8")
        else:
            typer.echo(text)

    @stats_app.command("followup")
    @handle_errors
    def followup_cmd(
        file: FileArg,
        time: Annotated[str, typer.Option("--time")] = "os_months",
        event: Annotated[str, typer.Option("--event")] = "os_event",
        as_json: JsonOpt = False,
    ) -> None:
        """Median follow-up by reverse Kaplan-Meier with its 95% CI."""
        from mst.stats.followup import median_followup
        from mst.stats.io import outcome_columns, read_table

        t, e, _, _, _ = outcome_columns(read_table(file), time, event, (0, 1))
        fu = median_followup(t, e)
        res = {
            "median": fu.median,
            "lower": fu.lower,
            "upper": fu.upper,
            "n": fu.n,
            "n_alive": fu.n_censored,
            "range_alive": list(fu.range_alive),
            "method": fu.method,
        }
        if as_json:
            emit_json(res)
        else:
            typer.echo(
                f"median follow-up {_fmt(fu.median)} ({_fmt(fu.lower)}-{_fmt(fu.upper)}), "
                f"{fu.method}"
            )

    @stats_app.command("outcomes")
    @handle_errors
    def outcomes_cmd(
        file: FileArg,
        by: Annotated[str | None, typer.Option("--by", help="Grouping column.")] = None,
        years: Annotated[str, typer.Option("--years")] = "1,3,5",
    ) -> None:
        """Seed-002 endpoints (CR, early death, OS, LFS, CIR, NRM, follow-up) as JSON."""
        from mst.stats.endpoints import outcome_summary
        from mst.stats.io import read_table

        emit_json(outcome_summary(read_table(file), by, _floats(years, "--years")))
