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
from mst.interop.fhir import cohort_bundle, parse_timezones, validate_bundle
from mst.io.exchange import read_cohort, write_cohort
from mst.simulate import simulate_cohort

TZ = parse_timezones("Asia/Shanghai")


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return simulate_cohort(12, seed=8)


def test_bundle_validates_and_counts_resources(cohort: Cohort) -> None:
    b = cohort_bundle(cohort, timezones=TZ)
    assert validate_bundle(b) == len(b["entry"])
    kinds = collections.Counter(e["resource"]["resourceType"] for e in b["entry"])
    recs = cohort.records
    assert kinds["Patient"] == len(recs)
    n_ev = sum(1 for r in recs for e in r.events if e.kind.value in ("gvhd", "crs"))
    assert kinds["Condition"] == len(recs) + n_ev
    n_cod = sum(1 for r in recs if r.death is not None and r.death.cause is not None)
    assert kinds["Observation"] == sum(len(r.labs) + len(r.responses) for r in recs) + n_cod
    assert kinds["RelatedPerson"] == sum(len(r.donors) for r in recs)
    assert kinds["Procedure"] == sum(len(r.infusions) for r in recs)
    assert kinds["MedicationAdministration"] == sum(
        len(c.administrations) for r in recs for c in r.courses)
    chim = [e for e in b["entry"] if e["resource"]["resourceType"] == "Observation"
            and e["resource"]["code"].get("text") == "donor_chimerism"]
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
    b = copy.deepcopy(cohort_bundle(cohort, timezones=TZ))
    b["entry"][entry]["resource"][field] = value
    with pytest.raises(ValidationError) as exc:
        validate_bundle(b)
    assert exc.value.field == f"bundle.entry.{entry}.resource.{where}"


def test_cli_fhir_and_deidentify(cohort: Cohort, tmp_path: Path) -> None:
    write_cohort(cohort, tmp_path / "c.csv")
    r = CliRunner().invoke(app, ["fhir", "--from", str(tmp_path / "c.csv"), "--out",
                                 str(tmp_path / "b.json"), "--deidentify",
                                 "--timezone", "Asia/Shanghai",
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
    b = copy.deepcopy(cohort_bundle(cohort, timezones=TZ))
    b["entry"][8]["resource"]["effectiveDateTime"] = "last week"
    done: list[int] = []
    with pytest.raises(ValidationError) as exc:
        validate_bundle(b, progress=done.append, chunk=chunk)
    assert exc.value.field.startswith("bundle.entry.8.resource.effectiveDateTime")
    assert sum(done) == (8 // chunk) * chunk


def test_urn_uuid_references_resolve_and_codes(cohort: Cohort) -> None:
    import re
    import uuid

    b = cohort_bundle(cohort, timezones=TZ)
    urls = {e["fullUrl"] for e in b["entry"]}
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", u) and uuid.UUID(u[9:]) for u in urls)
    refs: list[str] = []

    def walk(x: object) -> None:
        if isinstance(x, dict):
            if "reference" in x:
                refs.append(x["reference"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk([e["resource"] for e in b["entry"]])
    assert refs and set(refs) <= urls  # every reference resolves inside the bundle
    res = [e["resource"] for e in b["entry"]]
    cond = next(r for r in res if r["resourceType"] == "Condition")
    systems = {c["system"]: c["code"] for c in cond["code"]["coding"]}
    assert systems["http://hl7.org/fhir/sid/icd-10"] == "C92.0"
    anc = next(r for r in res if r["resourceType"] == "Observation"
               and r["code"].get("text") == "anc")
    assert anc["code"]["coding"][0] == {"system": "http://loinc.org", "code": "751-8",
                                        "display": "Neutrophils [#/volume] in Blood by "
                                        "Automated count"}
    assert anc["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert anc["valueQuantity"]["code"] == "10*9/L"
    proc = next(r for r in res if r["resourceType"] == "Procedure")
    assert proc["performedDateTime"].endswith("+08:00")  # center time, not UTC
    resp = [r for r in res if r.get("meta", {}).get("profile", [""])[0].endswith(
        "mcode-cancer-disease-status")]
    assert len(resp) == sum(len(r.responses) for r in cohort.records)
    ma = next(r for r in res if r["resourceType"] == "MedicationAdministration"
              and r["medicationCodeableConcept"]["text"] == "cytarabine")
    assert ma["medicationCodeableConcept"]["coding"][0]["code"] == "L01BC01"


def test_naive_time_without_a_time_zone_is_refused(cohort: Cohort) -> None:
    with pytest.raises(ValidationError) as exc:
        cohort_bundle(cohort)
    assert exc.value.field == "timezone" and "no time zone" in str(exc.value)
    with pytest.raises(ValidationError):
        parse_timezones("Mars/Olympus")
