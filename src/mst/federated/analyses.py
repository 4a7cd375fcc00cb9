"""One entry point per analysis, with the option names of ``mst stats`` (federated and pooled).

:func:`run_federated` runs an analysis over a :class:`~mst.federated.federation.Federation`;
:func:`run_pooled` runs the same analysis with ``mst stats`` on one table, so that the two
results (same JSON keys) can be compared number for number.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mst.errors import ValidationError
from mst.federated import coordinator as co
from mst.federated.disclosure import coarsen
from mst.federated.federation import Federation

ANALYSES = ("km", "cif", "cox", "finegray", "table1", "followup")


@dataclass
class Options:
    """Options of every analysis (as the ``mst stats`` commands name them)."""

    time: str | None = None
    event: str | None = None
    status: str | None = None
    cause: int = 1
    group: str | None = None
    strata: str | None = None
    codes: tuple[int, ...] = (0, 1, 2)
    censor: int = 0
    at: list[float] = field(default_factory=list)
    conf_type: str = "log-log"
    conf_level: float = 0.95
    rho: float = 0.0
    covariates: list[str] = field(default_factory=list)
    cluster: str | None = None
    robust: bool = False
    ties: str = "efron"
    reference: dict[str, str] = field(default_factory=dict)
    cengroup: str | None = None
    by: str | None = None
    variables: list[str] = field(default_factory=list)
    categorical: list[str] | None = None
    digits: int = 2


def _need(value: Any, option: str, analysis: str) -> Any:
    if value in (None, "", []):
        raise ValidationError(option, None, f"is required for {analysis}")
    return value


def run_federated(
    fed: Federation, analysis: str, o: Options, split_by: str | None = None
) -> dict[str, Any]:
    """Run ``analysis`` over the federation; returns the ``mst stats`` JSON payload."""
    if analysis == "km":
        return co.km_payload(
            fed,
            _need(o.time, "--time", analysis),
            _need(o.event, "--event", analysis),
            o.group,
            o.strata,
            o.at,
            o.conf_type,
            o.conf_level,
            o.rho,
        )
    if analysis == "cif":
        return co.cif_payload(
            fed,
            _need(o.time, "--time", analysis),
            _need(o.status, "--status", analysis),
            o.cause,
            o.group,
            o.strata,
            o.codes,
            o.censor,
            o.at,
            o.rho,
            o.conf_level,
        )
    if analysis == "followup":
        return co.followup_payload(
            fed, _need(o.time, "--time", analysis), _need(o.event, "--event", analysis)
        )
    if analysis == "cox":
        return co.cox_payload(
            fed,
            _need(o.time, "--time", analysis),
            _need(o.event, "--event", analysis),
            _need(o.covariates, "--covariates", analysis),
            [s.strip() for s in o.strata.split(",")] if o.strata else None,
            o.cluster,
            o.robust,
            o.ties,
            o.reference,
            o.conf_level,
            split_by=split_by,
        )
    if analysis == "finegray":
        return co.finegray_payload(
            fed,
            _need(o.time, "--time", analysis),
            _need(o.status, "--status", analysis),
            o.cause,
            _need(o.covariates, "--covariates", analysis),
            o.censor,
            o.cengroup,
            o.reference,
            o.conf_level,
        )
    if analysis == "table1":
        return co.table1_payload(
            fed,
            _need(o.by, "--by", analysis),
            _need(o.variables, "--vars", analysis),
            o.categorical,
            o.digits,
        )
    raise ValidationError("--analysis", analysis, f"must be one of {', '.join(ANALYSES)}")


def coarsened_table(df: pd.DataFrame, time: str | None, months: float | None) -> pd.DataFrame:
    """The table with ``time`` moved to the monthly grid (what the nodes analyse)."""
    if months is None or time is None:
        return df
    out = df.copy()
    t = pd.to_numeric(out[time], errors="coerce").to_numpy(dtype=float)
    out[time] = coarsen(t, time, months)
    return out


def run_pooled(df: pd.DataFrame, analysis: str, o: Options) -> dict[str, Any]:
    """The same analysis with ``mst stats`` on the pooled table (keys as ``--json``)."""
    from mst.cli import regression_cmds as rc
    from mst.cli import stats_cmds as sc
    from mst.stats.table1 import table1

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pooled.csv"
        df.to_csv(path, index=False)
        if analysis == "km":
            return sc.km_payload(
                path,
                o.time or "",
                o.event or "",
                o.group,
                o.strata,
                o.at,
                o.conf_type,
                o.conf_level,
                o.rho,
            )
        if analysis == "cif":
            return sc.cif_payload(
                path,
                o.time or "",
                o.status or "",
                o.cause,
                o.group,
                o.strata,
                o.codes,
                o.censor,
                o.at,
                o.rho,
                o.conf_level,
            )
        if analysis == "followup":
            from mst.stats.followup import median_followup
            from mst.stats.io import outcome_columns, read_table

            t, e, _, _, _ = outcome_columns(read_table(path), o.time or "", o.event or "", (0, 1))
            fu = median_followup(t, e)
            return {
                "median": fu.median,
                "lower": fu.lower,
                "upper": fu.upper,
                "n": fu.n,
                "n_alive": fu.n_censored,
                "range_alive": list(fu.range_alive),
                "method": fu.method,
            }
        refs = [f"{k}={v}" for k, v in o.reference.items()] or None
        if analysis == "cox":
            return rc.cox_payload(
                path,
                o.time or "",
                o.event or "",
                ",".join(o.covariates),
                o.strata,
                None,
                o.cluster,
                o.robust,
                o.ties,
                refs,
                o.conf_level,
            )
        if analysis == "finegray":
            return rc.finegray_payload(
                path,
                o.time or "",
                o.status or "",
                o.cause,
                ",".join(o.covariates),
                o.censor,
                o.cengroup,
                refs,
                o.conf_level,
            )
    if analysis == "table1":
        return table1(df, o.by or "", o.variables, o.categorical, digits=o.digits).to_dict()
    raise ValidationError("--analysis", analysis, f"must be one of {', '.join(ANALYSES)}")
