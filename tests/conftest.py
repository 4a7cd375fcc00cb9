"""Shared fixtures: registry databases (SQLite and PostgreSQL) and a valid patient record."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mst.domain import (
    AntibodyResult,
    Center,
    ClinicalEvent,
    Cohort,
    Course,
    Donor,
    Infusion,
    LabResult,
    Patient,
    PatientRecord,
    ResponseAssessment,
    parse,
)

BACKENDS = ["sqlite", "postgres"]

# The per-user table cache (mst.donors.table_cache) of this test session: a fresh folder,
# never the user's own (subprocesses inherit it).
if "MST_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["MST_CACHE_DIR"] = tempfile.mkdtemp(prefix="mst-test-cache-")
    atexit.register(shutil.rmtree, os.environ["MST_CACHE_DIR"], ignore_errors=True)


def _postgres_url() -> str | None:
    url = os.environ.get("MST_TEST_POSTGRES_URL")
    if not url and os.environ.get("MST_REQUIRE_POSTGRES") == "1":
        pytest.fail("MST_REQUIRE_POSTGRES=1 but MST_TEST_POSTGRES_URL is not set")
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An empty registry database: a fresh SQLite file, or a wiped PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.sqlite'}"
        return
    url = _postgres_url()
    if not url:
        pytest.skip("PostgreSQL not configured (set MST_TEST_POSTGRES_URL)")
    from sqlalchemy import text

    from mst.registry.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield url


def build_record(pid: str = "C01-0001", center: str = "C01", **overrides: Any) -> PatientRecord:
    """A small, valid, fully linked AML record (induction → CR → death from relapse)."""
    dx = dt.date(2020, 1, 10)
    patient = parse(
        Patient,
        {
            "id": pid,
            "center_id": center,
            "sex": "F",
            "birth_date": "1952-06-15",
            "diagnosis": "AML",
            "diagnosis_date": dx,
            "eln_risk": "intermediate",
            "fitness": "fit",
            "height_cm": 162.0,
            "weight_kg": 61.5,
            "last_followup_date": "2021-03-01",
            "hla_typing": "HLA-A*02:01+HLA-A*01:01^HLA-B*07:02+HLA-B*08:01",
            **overrides.pop("patient", {}),
        },
    )
    donor = Donor(
        id=f"{pid}-D1",
        patient_id=pid,
        relationship="child",
        sex="M",
        age=41,
        hla_typing="HLA-A*02:01+HLA-A*24:02^HLA-B*07:02+HLA-B*40:01",
        kir_genotype="KIR2DL1,KIR2DL3,KIR3DL1",
    )
    course = parse(
        Course,
        {
            "patient_id": pid,
            "number": 1,
            "kind": "induction",
            "regimen_id": "002-IA",
            "start_date": "2020-01-13",
            "administrations": [
                {"drug": "idarubicin", "dose": 16.6, "unit": "mg", "day": d, "route": "IV"}
                for d in (1, 2, 3)
            ]
            + [
                {"drug": "cytarabine", "dose": 166.0, "unit": "mg", "day": d, "route": "IV"}
                for d in range(1, 8)
            ],
        },
    )
    infusion = Infusion(
        patient_id=pid,
        course_number=1,
        donor_id=f"{pid}-D1",
        infused_at=dt.datetime(2020, 1, 20, 10, 30),
        mnc_1e8_per_kg=2.61,
        cd34_1e6_per_kg=1.9,
        cd3_1e8_per_kg=0.98,
        product="fresh",
    )
    labs = tuple(
        parse(
            LabResult,
            {
                "patient_id": pid,
                "date": dx + dt.timedelta(days=5 + i),
                "analyte": a,
                "value": v,
                "unit": "10^9/L",
            },
        )
        for i, (a, v) in enumerate([("anc", 0.4), ("platelets", 22.0), ("anc", 1.6)])
    ) + (
        parse(
            LabResult,
            {
                "patient_id": pid,
                "date": "2020-02-10",
                "analyte": "donor_chimerism",
                "value": 0.05,
                "unit": "%",
                "donor_id": f"{pid}-D1",
            },
        ),
    )
    events = (
        ClinicalEvent(patient_id=pid, date=dt.date(2020, 1, 22), kind="fever"),
        ClinicalEvent(patient_id=pid, date=dt.date(2020, 11, 2), kind="relapse"),
        ClinicalEvent(patient_id=pid, date=dt.date(2021, 3, 1), kind="death", cause="relapse"),
    )
    responses = (ResponseAssessment(patient_id=pid, date=dt.date(2020, 2, 14), category="CR"),)
    antibodies = (
        AntibodyResult(
            patient_id=pid, date=dx - dt.timedelta(days=3), specificity="B*08:01", mfi=2500.0
        ),
    )
    data: dict[str, Any] = {
        "patient": patient,
        "donors": (donor,),
        "courses": (course,),
        "infusions": (infusion,),
        "labs": labs,
        "events": events,
        "responses": responses,
        "antibodies": antibodies,
    }
    data.update(overrides)
    return PatientRecord(**data)


@pytest.fixture
def make_record() -> Callable[..., PatientRecord]:
    """Factory of valid patient records (see :func:`build_record`)."""
    return build_record


@pytest.fixture
def small_cohort() -> Cohort:
    """Two centers, three valid patients."""
    return Cohort(
        centers=(
            Center(id="C01", name="Center One", country="CN"),
            Center(id="C02", name="Center Two"),
        ),
        records=(
            build_record("C01-0001"),
            build_record("C01-0002"),
            build_record("C02-0001", "C02"),
        ),
    )
