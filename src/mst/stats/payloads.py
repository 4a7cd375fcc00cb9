"""JSON-ready results of the outcome estimators, one shape for every interface.

``mst stats km|cif --json``, the federated coordinator and any script get the same keys
from the same arrays: the validated time, status, group and strata columns (see
:func:`mst.stats.io.outcome_columns`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mst.errors import ValidationError


def km_json(
    t: NDArray[np.float64],
    e: NDArray[np.int64],
    g: NDArray[np.object_] | None,
    s: NDArray[np.object_] | None,
    excluded: int,
    *,
    time: str,
    event: str,
    group: str | None,
    at: list[float],
    conf_type: str,
    conf_level: float,
    rho: float,
) -> dict[str, Any]:
    """Kaplan–Meier per group (+ log-rank when grouped) as a JSON-ready dict.

    Parameters
    ----------
    t, e, g, s : array
        Time, event (0/1), group labels and strata labels (``None`` when absent).
    excluded : int
        Rows outside the analysed population (both outcome cells empty).
    time, event, group : str
        Column names, echoed in the result.
    at : list of float
        Times at which survival is also reported.
    conf_type, conf_level : str, float
        Confidence interval type and coverage (as R ``survfit``).
    rho : float
        Weight power of the test (0 = log-rank).

    Returns
    -------
    dict
    """
    from mst.stats.km import kaplan_meier
    from mst.stats.logrank import logrank_test

    if t.size == 0:
        raise ValidationError(time, None, "no rows to analyse")
    res = kaplan_meier(t, e, g, conf_type=conf_type, conf_level=conf_level)  # type: ignore[arg-type]
    groups: dict[str, Any] = {}
    for label, c in res.curves.items():
        block: dict[str, Any] = {
            "n": c.n,
            "events": int(c.n_event.sum()),
            "times": c.time,
            "survival": c.surv,
            "std_err": c.std_err,
            "lower": c.lower,
            "upper": c.upper,
            "n_risk": c.n_risk,
            "n_event": c.n_event,
            "median": c.median,
            "median_lower": c.median_lower,
            "median_upper": c.median_upper,
        }
        if at:
            block["at"] = c.at(at)
        groups[label] = block
    out: dict[str, Any] = {
        "time": time,
        "event": event,
        "group": group,
        "n": int(t.size),
        "excluded_rows": excluded,
        "conf_type": conf_type,
        "conf_level": conf_level,
        "groups": groups,
        "method": "Kaplan-Meier, Greenwood SE (R survival::survfit)",
    }
    if g is not None and len(res.curves) > 1:
        lr = logrank_test(t, e, g, strata=s, rho=rho)
        out["logrank"] = {
            "statistic": lr.statistic,
            "df": lr.df,
            "p": lr.p,
            "test": lr.test,
            "rho": lr.rho,
            "groups": lr.groups,
            "observed": lr.observed,
            "expected": lr.expected,
        }
    return out


def cif_json(
    t: NDArray[np.float64],
    s: NDArray[np.int64],
    g: NDArray[np.object_] | None,
    st: NDArray[np.object_] | None,
    excluded: int,
    *,
    time: str,
    status: str,
    cause: int,
    group: str | None,
    codes: tuple[int, ...],
    censor: int,
    at: list[float],
    rho: float,
    conf_level: float,
) -> dict[str, Any]:
    """Cumulative incidence per group (+ Gray's test when grouped) as a JSON-ready dict.

    Parameters
    ----------
    t, s, g, st : array
        Time, status code, group labels and strata labels (``None`` when absent).
    excluded : int
        Rows outside the analysed population.
    time, status, group : str
        Column names, echoed in the result.
    cause : int
        Status code of the event of interest.
    codes : tuple of int
        Declared status codes; ``censor`` must be one of them.
    at : list of float
        Times at which the incidence is also reported.
    rho : float
        Weight power of Gray's test.
    conf_level : float
        Confidence interval coverage.

    Returns
    -------
    dict
    """
    from mst.stats.cif import cumulative_incidence

    if t.size == 0:
        raise ValidationError(time, None, "no rows to analyse")
    res = cumulative_incidence(
        t, s, cause, g, st, codes=codes, censor_code=censor, rho=rho, conf_level=conf_level
    )
    groups: dict[str, Any] = {}
    for label, c in res.curves.items():
        block: dict[str, Any] = {
            "n": c.n,
            "events": int(c.table.n_event.sum()),
            "times": c.time,
            "cif": c.cif,
            "variance": c.variance,
            "lower": c.lower,
            "upper": c.upper,
            "n_risk": c.table.n_risk,
        }
        if at:
            block["at"] = c.at(at)
        groups[label] = block
    out: dict[str, Any] = {
        "time": time,
        "status": status,
        "cause": cause,
        "group": group,
        "n": int(t.size),
        "excluded_rows": excluded,
        "groups": groups,
        "method": "Aalen-Johansen, variance as R cmprsk::cuminc",
    }
    if res.gray is not None:
        gr = res.gray
        out["gray"] = {
            "statistic": gr.statistic,
            "df": gr.df,
            "p": gr.p,
            "test": gr.test,
            "rho": gr.rho,
            "groups": gr.groups,
        }
    return out
