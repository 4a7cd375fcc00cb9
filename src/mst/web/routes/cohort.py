"""Cohort outcome pages: KM, CIF, Table 1 for a chosen subset; CSV downloads."""

from __future__ import annotations

import io
import re
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mst.cohort import flat_table_from_frames
from mst.domain import Diagnosis
from mst.errors import ValidationError
from mst.io.frames import CohortFrames
from mst.registry.repository import Repository
from mst.web.cohort_view import GROUPINGS, CohortFilters, cohort_outcomes, subset
from mst.web.deps import CurrentUser, Repo, SessionDep, State
from mst.web.rendering import framed, render_content

router = APIRouter()


def _flat(frames: CohortFrames) -> pd.DataFrame:
    """The flat analysis table of the scope's frames (:meth:`Repository.load_frames`)."""
    return flat_table_from_frames(frames) if not frames.patients.empty else pd.DataFrame()


def _table(state: Any, repo: Repository) -> pd.DataFrame:
    return state.tables.get(repo, _flat)


_YEAR = re.compile(r"[0-9]{4}")


def _filters(
    table: pd.DataFrame,
    repo: Repository,
    center: str,
    age_group: str,
    year_from: str,
    year_to: str,
    by: str,
    diagnosis: str = "",
) -> CohortFilters:
    """The cohort filters, each value checked: a malformed or unknown one is refused (422)."""

    def year(name: str, v: str) -> int | None:
        v = v.strip()
        if not v:
            return None
        if not _YEAR.fullmatch(v):
            raise ValidationError(name, v, "must be a year of four digits, e.g. 2019")
        return int(v)

    if center and center not in {c.id for c in repo.centers()}:
        raise ValidationError("center", center, "is not one of the centers you can see")
    groups = set(table["age_group"].dropna()) if "age_group" in table.columns else set()
    if age_group and age_group not in groups:
        raise ValidationError("age_group", age_group, f"must be one of {sorted(groups)}")
    if by not in GROUPINGS:
        raise ValidationError("by", by, f"must be one of {sorted(GROUPINGS)}")
    if diagnosis and diagnosis not in {d.value for d in Diagnosis}:
        raise ValidationError(
            "diagnosis", diagnosis, "must be one of " + ", ".join(d.value for d in Diagnosis)
        )
    f = CohortFilters(
        center=center,
        age_group=age_group,
        year_from=year("year_from", year_from),
        year_to=year("year_to", year_to),
        by=by,
        diagnosis=diagnosis,
    )
    if f.year_from is not None and f.year_to is not None and f.year_from > f.year_to:
        raise ValidationError("year_to", f.year_to, f"must not be before year_from {f.year_from}")
    return f


Text = Annotated[str, Query()]


@router.get("/cohort", include_in_schema=False)
async def cohort_page(
    request: Request,
    state: State,
    user: CurrentUser,
    session: SessionDep,
    repo: Repo,
    center: Text = "",
    age_group: Text = "",
    year_from: Text = "",
    year_to: Text = "",
    by: Text = "age_group",
    diagnosis: Text = "",
) -> Response:
    """KM of OS and LFS with numbers at risk, CIF of relapse and NRM with Gray's test, Table 1.

    The content is cached per center scope, query and registry version. A cached page is
    answered on the event loop (one query: the version); building one — the flat table, the
    statistics (themselves cached per scope, filters and version) and the rendering — runs
    on the thread pool, so that it does not hold up other requests.
    """
    version = repo.registry_version()
    key = ("cohort-body", repo.center_scope, center, age_group, year_from, year_to, by, diagnosis)

    def build() -> str:
        table = state.tables.get(repo, _flat, version)
        # every value checked here: only valid queries are ever cached
        f = _filters(table, repo, center, age_group, year_from, year_to, by, diagnosis)
        outcomes = (
            state.outcomes.get((repo.center_scope, f), version, lambda: cohort_outcomes(table, f))
            if not table.empty
            else {"n": 0}
        )
        age_groups = sorted(table["age_group"].dropna().unique()) if not table.empty else []
        context = {
            "f": f,
            "o": outcomes,
            "centers": state.centers.get(repo.center_scope, repo.centers),
            "age_groups": age_groups,
            "groupings": GROUPINGS,
            "diagnoses": [d.value for d in Diagnosis],
        }
        return render_content(state, "_cohort_body.html", context)

    body = state.fragments.peek(key, version)
    if body is None:
        body = await run_in_threadpool(state.fragments.get, key, version, build)
    csrf = session.csrf if session else ""
    return framed(request, state, user, csrf, "Cohort outcomes", body)


@router.get("/cohort/table.csv", include_in_schema=False)
def cohort_csv(
    state: State,
    user: CurrentUser,
    repo: Repo,
    center: Text = "",
    age_group: Text = "",
    year_from: Text = "",
    year_to: Text = "",
    diagnosis: Text = "",
) -> Response:
    """The chosen subset of the flat analysis table as CSV."""
    table = _table(state, repo)
    df = (
        subset(table, _filters(table, repo, center, age_group, year_from, year_to, "age_group",
                               diagnosis))
        if not table.empty
        else table
    )
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return Response(
        buf.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="cohort.csv"'},
    )
