"""Median follow-up by the reverse Kaplan–Meier method (Schemper & Smith 1996)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from mst.errors import ValidationError
from mst.stats import _validate as v
from mst.stats.km import ConfType, kaplan_meier


@dataclass(frozen=True)
class FollowUp:
    """Median potential follow-up with its CI, plus the range of observed times.

    ``median`` is the reverse-KM median (censoring treated as the event, deaths as
    censored), exactly ``survfit(Surv(time, 1 - event) ~ 1)``; ``range_alive`` is the
    minimum and maximum follow-up of the patients still alive (event = 0).
    """

    median: float
    lower: float
    upper: float
    n: int
    n_censored: int
    range_alive: tuple[float, float]
    method: str = "reverse Kaplan-Meier"


def median_followup(
    time: ArrayLike, event: ArrayLike, conf_type: ConfType = "log-log", conf_level: float = 0.95
) -> FollowUp:
    """Reverse Kaplan–Meier median follow-up with CI.

    Parameters
    ----------
    time : array_like
        Follow-up times (>= 0), e.g. ``os_months``.
    event : array_like of {0, 1}
        Event indicator of the survival endpoint (1 = death).
    conf_type : {"log-log", "log", "plain"}
        Transformation of the CI of the reverse-KM curve.
    conf_level : float
        Coverage.

    Returns
    -------
    FollowUp
    """
    t = v.as_time(time)
    e = v.as_event(event)
    v.same_length(t.size, event=e)
    if t.size == 0:
        raise ValidationError("time", "[]", "no observations")
    curve = kaplan_meier(t, 1 - e, conf_type=conf_type, conf_level=conf_level)["all"]
    alive = t[e == 0]
    rng = (float(alive.min()), float(alive.max())) if alive.size else (np.nan, np.nan)
    return FollowUp(
        curve.median, curve.median_lower, curve.median_upper, int(t.size), int(alive.size), rng
    )
