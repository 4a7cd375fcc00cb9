"""``mst stats cox | finegray``: regression models on the flat analysis table (CSV/XLSX)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mst.cli.common import emit_json, handle_errors
from mst.errors import ValidationError

FileArg = Annotated[Path, typer.Argument(help="Flat analysis table or any table (.csv/.xlsx).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (default: a text table).")]
CovOpt = Annotated[str, typer.Option("--covariates", help="Columns, e.g. age,sex,n_courses.")]
RefOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--reference", help="Reference level of a categorical column, col=level (repeatable)."
    ),
]
AlphaOpt = Annotated[float, typer.Option("--conf-level", help="Confidence level.")]


def _read(path: Path) -> Any:
    from mst.stats.io import read_table

    return read_table(path)


def _columns(text: str) -> list[str]:
    cols = [c.strip() for c in text.split(",") if c.strip()]
    if not cols:
        raise ValidationError("--covariates", text, "give at least one column")
    return cols


def _references(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValidationError("--reference", item, "must be col=level")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _time_functions(items: list[str] | None) -> dict[str, list[str]]:
    """``--tf col:fn`` items (fn = log, t, sqrt or step:c) as {col: [fn, ...]}."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        col, sep, fn = item.partition(":")
        if not sep or not col.strip() or not fn.strip():
            raise ValidationError(
                "--tf", item, "must be col:function, e.g. age:log or age:step:365"
            )
        out.setdefault(col.strip(), []).append(fn.strip())
    return out


def _level(conf: float) -> float:
    if not 0 < conf < 1:
        raise ValidationError("--conf-level", conf, "must be in (0, 1)")
    return 1.0 - conf


def _print_table(payload: dict[str, Any], title: str) -> None:
    typer.echo(title)
    typer.echo(
        f"n = {payload['n']}, events = {payload['events']}"
        + (f", rows dropped (missing) = {payload['n_dropped']}" if payload.get("n_dropped") else "")
    )
    refs = payload.get("references") or {}
    if refs:
        typer.echo("reference levels: " + ", ".join(f"{k} = {v}" for k, v in refs.items()))
    width = max([len(k) for k in payload["coef"]] + [9])
    typer.echo(
        f"{'covariate':<{width}}  {'coef':>9}  {'se':>8}  {'HR':>8}  "
        f"{'lower':>8}  {'upper':>8}  {'p':>8}"
    )
    for k in payload["coef"]:
        typer.echo(
            f"{k:<{width}}  {payload['coef'][k]:>9.4f}  {payload['se'][k]:>8.4f}  "
            f"{payload['hr'][k]:>8.3f}  {payload['lower'][k]:>8.3f}  "
            f"{payload['upper'][k]:>8.3f}  {payload['p'][k]:>8.4g}"
        )


def cox_payload(
    path: Path,
    time: str,
    event: str,
    covariates: str,
    strata: str | None,
    start: str | None,
    cluster: str | None,
    robust: bool,
    ties: str,
    reference: list[str] | None,
    conf: float,
    zph: bool = False,
    weights: str | None = None,
) -> dict[str, Any]:
    """Fit the Cox model described by the CLI options and return the JSON payload."""
    from mst.stats.cox_model import cox

    if ties not in ("efron", "breslow", "exact"):
        raise ValidationError("--ties", ties, "must be efron, breslow or exact")
    df = _read(path)
    res = cox(
        df,
        time=time,
        event=event,
        covariates=_columns(covariates),
        start=start,
        strata=_columns(strata) if strata else None,
        cluster=cluster,
        robust=robust,
        ties=ties,
        reference=_references(reference),
        alpha=_level(conf),
        weights=weights,
    )  # type: ignore[arg-type]
    out = res.to_dict()
    out.update(
        {
            "time": time,
            "event": event,
            "strata": strata,
            "start": start,
            "cluster": cluster,
            "weights": weights,
            "method": "Cox proportional hazards (R survival::coxph)",
        }
    )
    if zph:
        z = res.zph()
        out["zph"] = {
            k: {"chisq": float(r.chisq), "df": int(r.df), "p": float(r.p)} for k, r in z.iterrows()
        }
    return out


def finegray_payload(
    path: Path,
    time: str,
    status: str,
    cause: int,
    covariates: str,
    cencode: int,
    cengroup: str | None,
    reference: list[str] | None,
    conf: float,
    tol: float | None = None,
    weights: str | None = None,
    tf: list[str] | None = None,
) -> dict[str, Any]:
    """Fit the Fine–Gray model described by the CLI options and return the JSON payload."""
    from mst.stats.finegray_model import finegray

    tfs = _time_functions(tf)
    df = _read(path)
    res = finegray(
        df,
        time=time,
        status=status,
        covariates=_columns(covariates),
        tf=tfs or None,  # type: ignore[arg-type]
        cause=cause,
        cencode=cencode,
        cengroup=cengroup,
        reference=_references(reference),
        alpha=_level(conf),
        tol=tol,
        max_iter=10 if tol is None else 100,
        weights=weights,
    )
    out = res.to_dict()
    if weights:  # (the key is absent without weights, as in the federated payload)
        out["weights"] = weights
    out.update(
        {
            "time": time,
            "status": status,
            "cengroup": cengroup,
            "method": "Fine-Gray subdistribution hazards (R cmprsk::crr)",
        }
    )
    return out


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register ``mst stats cox`` and ``mst stats finegray``."""
    del app

    @stats_app.command("cox")
    @handle_errors
    def cox_cmd(
        file: FileArg,
        time: Annotated[str, typer.Option("--time", help="Time (or stop) column.")],
        event: Annotated[str, typer.Option("--event", help="Event column (1 event, 0 censored).")],
        covariates: CovOpt,
        strata: Annotated[str | None, typer.Option("--strata", help="Strata column(s).")] = None,
        start: Annotated[
            str | None, typer.Option("--start", help="Start column for (start, stop] rows.")
        ] = None,
        cluster: Annotated[
            str | None, typer.Option("--cluster", help="Cluster column (robust SE).")
        ] = None,
        robust: Annotated[bool, typer.Option("--robust", help="Sandwich SE.")] = False,
        ties: Annotated[
            str,
            typer.Option("--ties", help="efron | breslow | exact (R's exact partial likelihood)."),
        ] = "efron",
        reference: RefOpt = None,
        conf_level: AlphaOpt = 0.95,
        zph: Annotated[
            bool, typer.Option("--zph", help="Add the proportional-hazards test (as R cox.zph).")
        ] = False,
        weights: Annotated[
            str | None, typer.Option("--weights", help="Case-weight column (as coxph weights=).")
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Cox proportional hazards model (Efron ties; as R coxph)."""
        payload = cox_payload(
            file,
            time,
            event,
            covariates,
            strata,
            start,
            cluster,
            robust,
            ties,
            reference,
            conf_level,
            zph,
            weights,
        )
        if json_out:
            emit_json(payload)
            return
        _print_table(
            payload,
            f"Cox model ({payload['ties']} ties" + (", robust SE)" if payload["robust"] else ")"),
        )
        conc, cse = payload["concordance"], payload["concordance_se"]
        typer.echo(
            f"Concordance = {'NA' if conc != conc else format(conc, '.4f')} "
            f"(se = {'NA' if cse != cse else format(cse, '.4f')}), "
            f"AIC = {payload['aic']:.2f}; "
            + "; ".join(
                f"{k} test = {v['statistic']:.3f} on {v['df']} df, p = {v['p']:.4g}"
                for k, v in payload["tests"].items()
            )
        )
        if zph:
            typer.echo("Proportional hazards (cox.zph, KM time transform, per term):")
            for k, r in payload["zph"].items():
                typer.echo(f"  {k:<20} chisq = {r['chisq']:.3f}, df = {r['df']}, p = {r['p']:.4g}")

    @stats_app.command("finegray")
    @handle_errors
    def finegray_cmd(
        file: FileArg,
        time: Annotated[str, typer.Option("--time", help="Time column.")],
        status: Annotated[
            str, typer.Option("--status", help="Status column (0 censored, 1, 2, … causes).")
        ],
        covariates: CovOpt,
        cause: Annotated[int, typer.Option("--cause", help="Cause of interest.")] = 1,
        cencode: Annotated[int, typer.Option("--cencode", help="Code of censoring.")] = 0,
        cengroup: Annotated[
            str | None, typer.Option("--cengroup", help="Censoring-group column.")
        ] = None,
        reference: RefOpt = None,
        conf_level: AlphaOpt = 0.95,
        tol: Annotated[
            float | None,
            typer.Option(
                "--tol",
                help="Stop at this relative change of loglik and coefficients (e.g. 1e-9) "
                "instead of crr's rule.",
            ),
        ] = None,
        weights: Annotated[
            str | None,
            typer.Option(
                "--weights",
                help="Case-weight column (> 0; as survival::finegray weights= + coxph).",
            ),
        ] = None,
        tf: Annotated[
            list[str] | None,
            typer.Option(
                "--tf",
                help="Time-varying effect as crr cov2/tf: col:log, col:t, col:sqrt or "
                "col:step:c (col × I(t > c)); repeatable.",
            ),
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Fine–Gray subdistribution hazards model (as R cmprsk::crr)."""
        if tol is not None and not 0 < tol < 1e-2:
            raise ValidationError("--tol", tol, "must be a small positive number, e.g. 1e-9")
        payload = finegray_payload(
            file,
            time,
            status,
            cause,
            covariates,
            cencode,
            cengroup,
            reference,
            conf_level,
            tol,
            weights,
            tf,
        )
        if json_out:
            emit_json(payload)
        else:
            _print_table(
                payload,
                f"Fine-Gray model, cause {cause}"
                + (f" (case weights: {weights})" if weights else ""),
            )
            typer.echo(
                f"converged by {payload['convergence']} in {payload['iterations']} iterations"
            )
