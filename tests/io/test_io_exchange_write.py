"""The exchange writer from frames writes the file write_cohort writes for the same cohort."""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from mst.domain import Center, ClinicalEvent, Cohort, Patient, PatientRecord
from mst.errors import ValidationError
from mst.io.exchange import write_cohort
from mst.io.exchange_write import write_frames
from mst.io.frames import frames_from_cohort
from mst.simulate import simulate_cohort


def same_files(a: Path, b: Path) -> None:
    """CSV byte for byte; XLSX every part but the workbook's save time (docProps/core.xml)."""
    if a.suffix == ".csv":
        assert a.read_bytes() == b.read_bytes()
        return
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        assert za.namelist() == zb.namelist()
        for name in za.namelist():
            if name != "docProps/core.xml":
                assert za.read(name) == zb.read(name), name


@pytest.fixture(scope="module")
def tricky() -> Cohort:
    """Simulated patients, free text that CSV must quote, a brand-new patient with no donor or
    course, a center with no patients."""
    sim = simulate_cohort(8, seed=8)
    first = sim.records[0]
    ev = ClinicalEvent(patient_id=first.patient.id, kind="infection",
                       date=first.patient.diagnosis_date + dt.timedelta(days=4),
                       detail='pneumonia, "severe"\nsecond line')
    bare = PatientRecord(patient=Patient(id="A-0001", center_id="C01", sex="F",
                                         age_at_diagnosis=71, diagnosis="MDS",
                                         diagnosis_date=dt.date(2022, 7, 1)))
    records = (first.model_copy(update={"events": (ev, *first.events)}), *sim.records[1:], bare)
    return Cohort(centers=(*sim.centers, Center(id="C09", name="Empty, new")), records=records)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_write_frames_equals_write_cohort(tmp_path: Path, tricky: Cohort, suffix: str) -> None:
    write_cohort(tricky, tmp_path / f"objects{suffix}")
    write_frames(frames_from_cohort(tricky), tmp_path / f"frames{suffix}")
    same_files(tmp_path / f"objects{suffix}", tmp_path / f"frames{suffix}")


def test_write_frames_small_blocks_and_bad_suffix(
    tmp_path: Path, tricky: Cohort, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mst.io.exchange_write as ew

    monkeypatch.setattr(ew, "BLOCK", 3)  # patients split across blocks
    frames = frames_from_cohort(tricky)
    # a file's frames need not hold a patient's children together: the labs of the patients
    # in reverse, each patient's labs in their order
    labs = frames.labs.sort_values("patient_id", ascending=False, kind="stable")
    assert not labs.index.equals(frames.labs.index)
    write_cohort(tricky, tmp_path / "a.csv")
    write_frames(replace(frames, labs=labs.reset_index(drop=True)), tmp_path / "b.csv")
    same_files(tmp_path / "a.csv", tmp_path / "b.csv")
    with pytest.raises(ValidationError, match=r"csv or \.xlsx"):
        write_frames(frames_from_cohort(tricky), tmp_path / "c.json")
