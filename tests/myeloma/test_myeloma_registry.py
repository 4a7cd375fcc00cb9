"""The myeloma record (staging labs, FISH and bone-disease events, IMWG findings, MRD,
lymphocyte subsets) through the exchange file and the registry, unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mst.domain import ClinicalEvent, Cohort, EventKind, LabResult, parse
from mst.errors import ValidationError
from mst.io.exchange import read_cohort, write_cohort
from mst.registry import open_registry
from mst.simulate.myeloma import simulate_myeloma_cohort


@pytest.fixture(scope="module")
def mm() -> Cohort:
    return simulate_myeloma_cohort(4, seed=12)


def test_exchange_round_trip(mm: Cohort, tmp_path: Path) -> None:
    write_cohort(mm, tmp_path / "mm.csv")
    back = read_cohort(tmp_path / "mm.csv")
    assert back.records == mm.records
    kinds = {e.kind for r in back.records for e in r.events}
    assert {EventKind.CYTOGENETICS, EventKind.BONE_DISEASE} <= kinds
    analytes = {lab.analyte for r in back.records for lab in r.labs}
    assert {"beta2_microglobulin", "albumin", "calcium", "ldh_uln", "immunofixation",
            "serum_m_protein", "th0_pct"} <= analytes


def test_registry_round_trip(mm: Cohort, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with open_registry(url) as reg:
        reg.import_cohort(mm)
    with open_registry(url) as reg:
        loaded = reg.load_cohort()
    assert sorted(loaded.records, key=lambda r: r.patient.id) == sorted(
        mm.records, key=lambda r: r.patient.id)


@pytest.mark.parametrize(
    ("kind", "detail", "ok"),
    [("cytogenetics", "del17p", True), ("cytogenetics", "none", True),
     ("cytogenetics", "del(17p)", False), ("cytogenetics", None, False),
     ("bone_disease", "3", True), ("bone_disease", "advanced", True),
     ("bone_disease", "new", True), ("bone_disease", "several", False)],
)
def test_myeloma_event_detail_is_coded(kind: str, detail: str | None, ok: bool) -> None:
    data = {"patient_id": "P1", "date": dt.date(2020, 1, 1), "kind": kind, "detail": detail}
    if ok:
        assert parse(ClinicalEvent, data).detail == detail
    else:
        with pytest.raises(ValidationError) as exc:
            parse(ClinicalEvent, data, "row 3")
        assert exc.value.field == "row 3: clinicalevent.detail"


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "canonical"),
    [("albumin", 35, "g/L", 3.5), ("calcium", 2.5, "mmol/L", 10.02),
     ("beta2_microglobulin", 0.55, "mg/dL", 5.5), ("m_protein_igg", 50, "g/L", 5.0)],
)
def test_myeloma_analytes_convert(analyte: str, value: float, unit: str,
                                  canonical: float) -> None:
    lab = LabResult(patient_id="P1", date=dt.date(2020, 1, 1), analyte=analyte, value=value,
                    unit=unit)
    assert lab.value == pytest.approx(canonical)


def test_immunofixation_is_0_or_1() -> None:
    with pytest.raises(ValidationError):
        parse(LabResult, {"patient_id": "P1", "date": dt.date(2020, 1, 1),
                          "analyte": "immunofixation", "value": 2, "unit": "result"})
