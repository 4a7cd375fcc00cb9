"""FHIR R4 bundle (validated with fhir.resources R4B) and the de-identified export."""

from __future__ import annotations

import collections
import copy
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mst.cli.main import app
from mst.domain import Cohort
from mst.errors import ValidationError
from mst.interop.fhir import cohort_bundle, validate_bundle
from mst.io.exchange import read_cohort, write_cohort
from mst.simulate import simulate_cohort


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return simulate_cohort(12, seed=8)


def test_bundle_validates_and_counts_resources(cohort: Cohort) -> None:
    b = cohort_bundle(cohort)
    assert validate_bundle(b) == len(b["entry"])
    kinds = collections.Counter(e["resource"]["resourceType"] for e in b["entry"])
    recs = cohort.records
    assert kinds["Patient"] == kinds["Condition"] == len(recs)
    assert kinds["Observation"] == sum(len(r.labs) for r in recs)
    assert kinds["Procedure"] == sum(len(r.infusions) for r in recs)
    assert kinds["MedicationAdministration"] == sum(
        len(c.administrations) for r in recs for c in r.courses)
    chim = [e for e in b["entry"] if e["resource"]["resourceType"] == "Observation"
            and e["resource"]["code"]["text"] == "donor_chimerism"]
    assert len(chim) == sum(1 for r in recs for lab in r.labs
                            if lab.analyte == "donor_chimerism")
    dead = [r for r in recs if r.death is not None]
    deceased = [e["resource"] for e in b["entry"] if "deceasedDateTime" in e["resource"]]
    assert len(deceased) == len(dead)


@pytest.mark.parametrize(("entry", "field", "value", "where"), [
    (0, "birthDate", "03/04/1950", "birthDate"),
    (0, "colour", "blue", "colour"),
    (1, "onsetDateTime", "yesterday", "onsetDateTime"),
])
def test_invalid_bundle_is_rejected(cohort: Cohort, entry: int, field: str, value: str,
                                    where: str) -> None:
    b = copy.deepcopy(cohort_bundle(cohort))
    b["entry"][entry]["resource"][field] = value
    with pytest.raises(ValidationError) as exc:
        validate_bundle(b)
    assert exc.value.field == f"bundle.entry.{entry}.resource.{where}"


def test_cli_fhir_and_deidentify(cohort: Cohort, tmp_path: Path) -> None:
    write_cohort(cohort, tmp_path / "c.csv")
    r = CliRunner().invoke(app, ["fhir", "--from", str(tmp_path / "c.csv"), "--out",
                                 str(tmp_path / "b.json"), "--deidentify",
                                 "--quiet"])
    assert r.exit_code == 0, r.output
    bundle = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert validate_bundle(bundle) == json.loads(r.stdout)["entries"]
    assert not any("birthDate" in e["resource"] for e in bundle["entry"])
    r = CliRunner().invoke(app, ["deidentify", "--from", str(tmp_path / "c.csv"), "--out",
                                 str(tmp_path / "d.csv")])
    assert r.exit_code == 0, r.output
    back = read_cohort(tmp_path / "d.csv")
    assert len(back.records) == len(cohort.records)
    text = (tmp_path / "d.csv").read_text(encoding="utf-8")
    assert not any(r.patient.id in text for r in cohort.records)
    flat = pd.read_csv(tmp_path / "c.csv", dtype=str)
    assert "record_type" in flat.columns


def test_fhir_refuses_a_flat_table(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("patient_id,age\nP1,60\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["fhir", "--from", str(tmp_path / "t.csv"), "--out",
                                 str(tmp_path / "b.json")])
    assert r.exit_code == 2
    assert "exchange file" in r.output


@pytest.mark.parametrize("chunk", [1, 3, 7, 10_000])
def test_chunked_validation_names_the_global_entry(cohort: Cohort, chunk: int) -> None:
    b = copy.deepcopy(cohort_bundle(cohort))
    b["entry"][8]["resource"]["effectiveDateTime"] = "last week"
    done: list[int] = []
    with pytest.raises(ValidationError) as exc:
        validate_bundle(b, progress=done.append, chunk=chunk)
    assert exc.value.field.startswith("bundle.entry.8.resource.effectiveDateTime")
    assert sum(done) == (8 // chunk) * chunk
