"""``mst federated simulate | link | node | run | report``: multi-center analysis in which
patient rows never leave their center (docs/federated.md)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mst.cli.common import emit_json, handle_errors
from mst.errors import ValidationError

federated_app = typer.Typer(
    help="Federated analysis: each center keeps its rows; only aggregates travel.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (default: a short summary).")]
TimeOpt = Annotated[str | None, typer.Option("--time", help="Time column.")]
EventOpt = Annotated[
    str | None, typer.Option("--event", help="Event column (1 event, 0 censored).")
]
StatusOpt = Annotated[
    str | None, typer.Option("--status", help="Status column (0 censored, 1, 2 causes).")
]
CauseOpt = Annotated[int, typer.Option("--cause", help="Cause of interest.")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="Group column.")]
StrataOpt = Annotated[str | None, typer.Option("--strata", help="Strata column(s).")]
AtOpt = Annotated[str | None, typer.Option("--at", help="Times, e.g. 12,36,60.")]
CodesOpt = Annotated[str, typer.Option("--codes", help="Declared status codes.")]
CensorOpt = Annotated[int, typer.Option("--censor", "--cencode", help="Censoring code.")]
ConfTypeOpt = Annotated[str, typer.Option("--conf-type", help="log-log | log | plain.")]
LevelOpt = Annotated[float, typer.Option("--conf-level", help="Confidence level.")]
RhoOpt = Annotated[float, typer.Option("--rho", help="Weight power of the tests.")]
CovOpt = Annotated[str | None, typer.Option("--covariates", help="Columns, e.g. age,sex.")]
ClusterOpt = Annotated[
    str | None, typer.Option("--cluster", help="Cluster column (the center column only).")
]
RobustOpt = Annotated[bool, typer.Option("--robust", help="Sandwich SE.")]
TiesOpt = Annotated[str, typer.Option("--ties", help="efron | breslow.")]
RefOpt = Annotated[list[str] | None, typer.Option("--reference", help="col=level (repeatable).")]
CengroupOpt = Annotated[str | None, typer.Option("--cengroup", help="Censoring-group column.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Table 1 grouping column.")]
VarsOpt = Annotated[str | None, typer.Option("--vars", help="Table 1 variables, e.g. sex,age.")]
CatOpt = Annotated[
    str | None, typer.Option("--categorical", help="Numeric columns to treat as categorical.")
]
MinCellOpt = Annotated[
    int, typer.Option("--min-cell", help="Minimum cell count (1 = no restriction).")
]
CoarsenOpt = Annotated[
    float | None, typer.Option("--coarsen-months", help="Monthly time grid width (months).")
]
LinkOpt = Annotated[str, typer.Option("--link", help="SuperLink address HOST:PORT.")]
CaOpt = Annotated[Path | None, typer.Option("--ca", help="CA certificate of the SuperLink (PEM).")]
InsecureOpt = Annotated[bool, typer.Option("--insecure", help="No TLS (loopback tests only).")]
CentersOpt = Annotated[str, typer.Option("--centers", help="Centers expected, e.g. C01,C02,C03.")]
MissingOpt = Annotated[
    bool,
    typer.Option(
        "--allow-missing-centers",
        help="Run without centers that do not answer (named in the result).",
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for a center's answer.")
]
WorkOpt = Annotated[Path, typer.Option("--work-dir", help="Coordinator's working directory.")]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="flower: Flower's simulation runtime (Ray), one virtual node per center; "
        "in-process: the same messages without Ray (fast, for tests).",
    ),
]
SecureOpt = Annotated[
    bool,
    typer.Option(
        "--secure-aggregation",
        help="Receive every count and sum only as totals over the centers, through Flower's "
        "SecAgg+ (all analyses; those with times need the same --coarsen-months grid at "
        "every center).",
    ),
]
ENGINES = {
    "flower": "Flower simulation runtime (Ray; one virtual SuperNode per center)",
    "in-process": "in-process transport (same messages as Flower, without Ray)",
}


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValidationError("--engine", engine, f"must be one of {', '.join(ENGINES)}")


def _simulate(
    df: Any, split_by: str, policy: Any, engine: str, work: Any, secure: bool = False
) -> tuple[Any, Any]:
    """Run ``work(federation)`` on one machine with the chosen engine."""
    _check_engine(engine)
    if engine == "flower":
        from mst.federated.flower_simulation import run_flower_simulation

        return run_flower_simulation(df, split_by, work, policy, secure=secure)
    if secure:
        raise ValidationError(
            "--secure-aggregation", None, "SecAgg+ runs on Flower: use --engine flower"
        )
    from mst.federated.simulation import simulated_federation

    fed, _ = simulated_federation(df, split_by, policy)
    return work(fed), fed


def _floats(text: str | None, name: str) -> list[float]:
    from mst.cli.stats_cmds import _floats as parse

    return parse(text, name)


def _names(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def _refs(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ValidationError("--reference", item, "must be col=level")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _codes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise ValidationError(
            "--codes", text, "must be comma-separated integers, e.g. 0,1,2"
        ) from exc


def _options(**kw: Any) -> Any:
    from mst.federated.analyses import Options

    return Options(
        time=kw["time"],
        event=kw["event"],
        status=kw["status"],
        cause=kw["cause"],
        group=kw["group"],
        strata=kw["strata"],
        codes=_codes(kw["codes"]),
        censor=kw["censor"],
        at=_floats(kw["at"], "--at"),
        conf_type=kw["conf_type"],
        conf_level=kw["conf_level"],
        rho=kw["rho"],
        covariates=_names(kw["covariates"]),
        cluster=kw["cluster"],
        robust=kw["robust"],
        ties=kw["ties"],
        reference=_refs(kw["reference"]),
        cengroup=kw["cengroup"],
        by=kw["by"],
        variables=_names(kw["variables"]),
        categorical=_names(kw["categorical"]) or None,
    )


def _check_analysis(analysis: str) -> None:
    from mst.federated.analyses import ANALYSES

    if analysis not in ANALYSES:
        raise ValidationError("analysis", analysis, f"must be one of {', '.join(ANALYSES)}")


def _summary(payload: dict[str, Any]) -> str:
    if "coef" in payload:
        return ", ".join(f"{k}: HR {v:.3f}" for k, v in payload["hr"].items())
    if "groups" in payload and isinstance(payload["groups"], dict):
        test = payload.get("logrank") or payload.get("gray")
        extra = (
            f"; {test['test']} p = {test['p']:.4g}" if test and test.get("p") is not None else ""
        )
        return f"n = {payload['n']}, groups: {', '.join(payload['groups'])}{extra}"
    if "variables" in payload:
        return f"Table 1 by {payload['by']}: {len(payload['variables'])} variables"
    return f"median = {payload.get('median')}"


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register ``mst federated ...``."""
    del stats_app
    app.add_typer(federated_app, name="federated")

    @federated_app.command("simulate")
    @handle_errors
    def simulate_cmd(
        source: Annotated[Path, typer.Option("--from", help="Cohort table (.csv/.xlsx).")],
        analysis: Annotated[
            str, typer.Option("--analysis", help="km | cif | cox | finegray | table1 | followup.")
        ],
        split_by: Annotated[str, typer.Option("--split-by", help="Center column.")] = "center_id",
        time: TimeOpt = None,
        event: EventOpt = None,
        status: StatusOpt = None,
        cause: CauseOpt = 1,
        group: GroupOpt = None,
        strata: StrataOpt = None,
        at: AtOpt = None,
        codes: CodesOpt = "0,1,2",
        censor: CensorOpt = 0,
        conf_type: ConfTypeOpt = "log-log",
        conf_level: LevelOpt = 0.95,
        rho: RhoOpt = 0.0,
        covariates: CovOpt = None,
        cluster: ClusterOpt = None,
        robust: RobustOpt = False,
        ties: TiesOpt = "efron",
        reference: RefOpt = None,
        cengroup: CengroupOpt = None,
        by: ByOpt = None,
        variables: VarsOpt = None,
        categorical: CatOpt = None,
        min_cell: MinCellOpt = 1,
        coarsen_months: CoarsenOpt = None,
        engine: EngineOpt = "flower",
        secure_aggregation: SecureOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Run the federation on one machine and print the federated and the pooled result.

        Flower's simulation runtime runs one virtual node per center (Ray actors); the
        nodes exchange the same messages as in a deployment.
        """
        from mst.federated.analyses import coarsened_table, run_federated, run_pooled
        from mst.federated.disclosure import DisclosurePolicy
        from mst.stats.io import read_table

        _check_analysis(analysis)
        _check_engine(engine)
        skip = (
            "source",
            "analysis",
            "split_by",
            "min_cell",
            "coarsen_months",
            "engine",
            "secure_aggregation",
            "as_json",
        )
        opts = _options(**{k: v for k, v in locals().items() if k not in skip})
        df = read_table(source)
        policy = DisclosurePolicy(min_cell=min_cell, coarsen_months=coarsen_months)
        federated, fed = _simulate(
            df,
            split_by,
            policy,
            engine,
            lambda f: run_federated(f, analysis, opts, split_by=split_by),
            secure_aggregation,
        )
        pooled = run_pooled(coarsened_table(df, opts.time, coarsen_months), analysis, opts)
        info = {
            "centers": fed.centers,
            "missing_centers": fed.missing,
            "queries": fed.queries,
            "bytes_to_nodes": fed.bytes_to_nodes,
            "bytes_from_nodes": fed.bytes_from_nodes,
            "disclosure": policy.describe(),
            "notes": fed.notes,
            "secure_aggregation_rounds": fed.secure_rounds,
            "engine": ENGINES[engine],
            "note": (
                "times coarsened to a grid of "
                f"{coarsen_months:g} months: both results are on the coarsened times"
            )
            if coarsen_months
            else "exact times",
        }
        if as_json:
            emit_json({"federated": federated, "pooled": pooled, "federation": info})
            return
        typer.echo(f"federated ({len(fed.centers)} centers): {_summary(federated)}")
        typer.echo(f"pooled:                  {_summary(pooled)}")
        typer.echo(
            f"{fed.queries} queries, {fed.bytes_from_nodes} bytes from the nodes; {info['note']}"
        )

    @federated_app.command("link")
    @handle_errors
    def link_cmd(
        state_dir: Annotated[
            Path, typer.Option("--state-dir", help="SuperLink state and TLS files.")
        ],
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option("--port", help="Port (Fleet, Control and ServerApp APIs).")
        ] = 9092,
        insecure: InsecureOpt = False,
    ) -> None:
        """Start the coordinator's SuperLink (TLS; give STATE_DIR/tls/ca.pem to the centers).

        The CA and the server certificate are created on first use.
        """
        from mst.federated import deploy

        tls = None
        if not insecure:
            tdir = state_dir / "tls"
            tls = (
                {"ca": tdir / "ca.pem", "cert": tdir / "server.pem", "key": tdir / "server.key"}
                if (tdir / "ca.pem").exists()
                else deploy.make_tls(tdir, (host, "localhost"))
            )
        state_dir.mkdir(parents=True, exist_ok=True)
        cmd = deploy.superlink_command(state_dir, tls, host, port)
        os.execvpe(cmd[0], cmd, deploy.python_env())

    @federated_app.command("node")
    @handle_errors
    def node_cmd(
        db: Annotated[str, typer.Option("--db", help="This center's registry (SQLAlchemy URL).")],
        link: LinkOpt,
        center: Annotated[str, typer.Option("--center", help="This center's identifier.")],
        min_cell: MinCellOpt = 5,
        coarsen_months: CoarsenOpt = None,
        ca: CaOpt = None,
        insecure: InsecureOpt = False,
        state_dir: Annotated[
            Path | None, typer.Option("--state-dir", help="Node socket and cache.")
        ] = None,
        port: Annotated[int, typer.Option("--port", help="SuperNode's local API port.")] = 9094,
        secure_only: Annotated[
            bool,
            typer.Option(
                "--secure-aggregation-only",
                help="Release counts only through SecAgg+ (refuse plain queries with numbers).",
            ),
        ] = False,
    ) -> None:
        """Run this center's node (a SuperNode answering from this registry).

        The center's disclosure rules are enforced here; every query is audited.
        """
        import threading

        from mst.federated import deploy
        from mst.federated.disclosure import DisclosurePolicy
        from mst.federated.local_service import NodeService
        from mst.federated.node import registry_node
        from mst.registry import open_registry

        if ca is None and not insecure:
            raise ValidationError(
                "--ca",
                None,
                "give the SuperLink's CA certificate (or --insecure for loopback tests)",
            )
        policy = DisclosurePolicy(
            min_cell=min_cell, coarsen_months=coarsen_months, secure_only=secure_only
        )
        with open_registry(db, center_scope=[center]) as reg:  # creates/upgrades the schema
            if center not in {c.id for c in reg.centers()}:
                raise ValidationError("--center", center, "is not a center of this registry")
        sdir = state_dir or Path(f".mst-federated-{center}")
        node = registry_node(db, center, policy)
        node._table()  # build (and check) the flat table once, before joining
        service = NodeService(sdir / "node.sock", node)
        threading.Thread(target=service.serve_forever, daemon=True).start()
        cmd = deploy.supernode_command(
            link,
            center,
            db,
            ca,
            port,
            min_cell,
            coarsen_months,
            socket=service.path,
            secure_only=secure_only,
        )
        proc = subprocess.Popen(cmd, env=deploy.python_env(), start_new_session=True)

        def stop(*_: object) -> None:
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        typer.echo(
            f"node {center}: min cell {min_cell}, coarsening {coarsen_months or 'none'}"
            f"{', counts only through SecAgg+' if secure_only else ''}; "
            f"connected to {link}",
            err=True,
        )
        try:
            code = proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)  # the SuperNode's own children
            service.shutdown()
            service.server_close()
        if code:
            sys.exit(code)

    def _submit(
        analyses: list[dict[str, Any]],
        link: str,
        ca: Path | None,
        insecure: bool,
        centers: str,
        allow_missing: bool,
        timeout: float,
        work: Path,
        split_by: str | None,
        secure: bool = False,
    ) -> dict[str, Any]:
        from dataclasses import asdict

        from mst.federated import deploy

        if ca is None and not insecure:
            raise ValidationError(
                "--ca", None, "give the SuperLink's CA certificate (or --insecure)"
            )
        names = _names(centers)
        if not names:
            raise ValidationError("--centers", centers, "name the centers of the federation")
        req = {
            "centers": names,
            "timeout": timeout,
            "wait": timeout,
            "allow_missing": allow_missing,
            "split_by": split_by,
            "secure": secure,
            "analyses": [
                {"analysis": a["analysis"], "options": asdict(a["options"])} for a in analyses
            ],
        }
        return deploy.submit(
            req, work, link, None if insecure else ca, wait=max(600.0, 20 * timeout)
        )

    @federated_app.command("run")
    @handle_errors
    def run_cmd(
        analysis: Annotated[
            str, typer.Argument(help="km | cif | cox | finegray | table1 | followup.")
        ],
        link: LinkOpt,
        centers: CentersOpt,
        ca: CaOpt = None,
        insecure: InsecureOpt = False,
        allow_missing: MissingOpt = False,
        timeout: TimeoutOpt = 120.0,
        work_dir: WorkOpt = Path(".mst-federated-coordinator"),
        split_by: Annotated[
            str | None, typer.Option("--split-by", help="Center column (for --cluster).")
        ] = "center_id",
        time: TimeOpt = None,
        event: EventOpt = None,
        status: StatusOpt = None,
        cause: CauseOpt = 1,
        group: GroupOpt = None,
        strata: StrataOpt = None,
        at: AtOpt = None,
        codes: CodesOpt = "0,1,2",
        censor: CensorOpt = 0,
        conf_type: ConfTypeOpt = "log-log",
        conf_level: LevelOpt = 0.95,
        rho: RhoOpt = 0.0,
        covariates: CovOpt = None,
        cluster: ClusterOpt = None,
        robust: RobustOpt = False,
        ties: TiesOpt = "efron",
        reference: RefOpt = None,
        cengroup: CengroupOpt = None,
        by: ByOpt = None,
        variables: VarsOpt = None,
        categorical: CatOpt = None,
        secure_aggregation: SecureOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Run one analysis over the deployed federation (coordinator side)."""
        _check_analysis(analysis)
        skip = {
            "analysis",
            "link",
            "centers",
            "ca",
            "insecure",
            "allow_missing",
            "timeout",
            "work_dir",
            "split_by",
            "secure_aggregation",
            "as_json",
        }
        opts = _options(**{k: v for k, v in locals().items() if k not in skip})
        res = _submit(
            [{"analysis": analysis, "options": opts}],
            link,
            ca,
            insecure,
            centers,
            allow_missing,
            timeout,
            work_dir,
            split_by,
            secure_aggregation,
        )
        payload = res["results"][0]
        fed = {
            k: res[k]
            for k in (
                "centers",
                "missing_centers",
                "policies",
                "queries",
                "bytes_to_nodes",
                "bytes_from_nodes",
            )
        }
        fed["notes"] = res.get("notes", [])
        fed["secure_aggregation_rounds"] = res.get("secure_rounds", 0)
        if as_json:
            emit_json({**payload, "federation": fed})
            return
        typer.echo(f"{analysis} over {', '.join(fed['centers'])}: {_summary(payload)}")
        if fed["missing_centers"]:
            typer.echo(f"left out (--allow-missing-centers): {', '.join(fed['missing_centers'])}")

    @federated_app.command("report")
    @handle_errors
    def report_cmd(
        out: Annotated[Path, typer.Option("--out", help="HTML file to write.")],
        link: Annotated[
            str | None, typer.Option("--link", help="SuperLink HOST:PORT (deployment).")
        ] = None,
        centers: Annotated[str, typer.Option("--centers", help="Centers expected.")] = "",
        source: Annotated[
            Path | None, typer.Option("--from", help="Table to split (simulation).")
        ] = None,
        split_by: Annotated[str, typer.Option("--split-by", help="Center column.")] = "center_id",
        ca: CaOpt = None,
        insecure: InsecureOpt = False,
        allow_missing: MissingOpt = False,
        timeout: TimeoutOpt = 120.0,
        work_dir: WorkOpt = Path(".mst-federated-coordinator"),
        min_cell: MinCellOpt = 1,
        coarsen_months: CoarsenOpt = None,
        engine: EngineOpt = "flower",
    ) -> None:
        """Write the multi-center outcome report (HTML) computed from aggregates only.

        Table 1, overall survival, relapse incidence, Cox and Fine-Gray models.
        """
        from mst.federated.report import REPORT_ANALYSES, render_report

        if (link is None) == (source is None):
            raise ValidationError(
                "--link/--from",
                None,
                "give exactly one: --link (deployment) or --from (simulation)",
            )
        if source is not None:
            from mst.federated.analyses import run_federated
            from mst.federated.disclosure import DisclosurePolicy
            from mst.stats.io import read_table

            policy = DisclosurePolicy(min_cell=min_cell, coarsen_months=coarsen_months)
            results, fed = _simulate(
                read_table(source),
                split_by,
                policy,
                engine,
                lambda f: [
                    run_federated(f, a["analysis"], a["options"], split_by=split_by)
                    for a in REPORT_ANALYSES
                ],
            )
            info = {
                "centers": fed.centers,
                "missing_centers": fed.missing,
                "policies": fed.policies,
                "queries": fed.queries,
                "bytes_from_nodes": fed.bytes_from_nodes,
                "notes": fed.notes,
                "engine": ENGINES[engine],
            }
        else:
            res = _submit(
                REPORT_ANALYSES,
                link or "",
                ca,
                insecure,
                centers,
                allow_missing,
                timeout,
                work_dir,
                split_by,
            )
            results = res["results"]
            info = {
                k: res[k]
                for k in ("centers", "missing_centers", "policies", "queries", "bytes_from_nodes")
            }
            info["engine"] = f"Flower deployment runtime (SuperLink {link})"
            info["notes"] = res.get("notes", [])
        out.write_text(render_report(results, info), encoding="utf-8")
        typer.echo(f"wrote {out}")
