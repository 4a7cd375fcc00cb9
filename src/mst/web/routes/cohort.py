"""Cohort outcome pages: KM, CIF, Table 1 for a chosen subset; CSV downloads."""

from __future__ import annotations

import io
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mst.cohort import build_flat_table
from mst.domain import Diagnosis
from mst.registry.repository import Repository
from mst.web.cohort_view import GROUPINGS, CohortFilters, cohort_outcomes, subset
from mst.web.deps import CurrentUser, Repo, SessionDep, State

router = APIRouter()


def _flat(cohort: Any) -> pd.DataFrame:
    return build_flat_table(cohort) if cohort.records else pd.DataFrame()


def _table(state: Any, repo: Repository) -> pd.DataFrame:
    return state.tables.get(repo, _flat)


def _filters(center: str, age_group: str, year_from: str, year_to: str, by: str,
             diagnosis: str = "") -> CohortFilters:
    def year(v: str) -> int | None:
        return int(v) if v.strip().isdigit() else None

    return CohortFilters(
        center=center,
        age_group=age_group,
        year_from=year(year_from),
        year_to=year(year_to),
        by=by if by in GROUPINGS else "age_group",
        diagnosis=diagnosis,
    )


Text = Annotated[str, Query()]


@router.get("/cohort", include_in_schema=False)
def cohort_page(
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
    """KM of OS and LFS with numbers at risk, CIF of relapse and NRM with Gray's test, Table 1."""
    table = _table(state, repo)
    f = _filters(center, age_group, year_from, year_to, by, diagnosis)
    outcomes = cohort_outcomes(table, f) if not table.empty else {"n": 0}
    age_groups = sorted(table["age_group"].dropna().unique()) if not table.empty else []
    return state.templates.TemplateResponse(
        request,
        "cohort.html",
        {
            "user": user,
            "csrf": session.csrf if session else "",
            "f": f,
            "o": outcomes,
            "centers": repo.centers(),
            "age_groups": age_groups,
            "groupings": GROUPINGS,
            "diagnoses": [d.value for d in Diagnosis],
        },
    )


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
        subset(table, _filters(center, age_group, year_from, year_to, "age_group", diagnosis))
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
