"""Regimen catalog: content against the consensus text, and validation on load."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mst.errors import NotFoundError, ValidationError
from mst.protocol._data import load_yaml
from mst.protocol.catalog import get_regimen, load_catalog, parse_days, validate_catalog

DATA = Path(__file__).parent / "data"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# One row per regimen and drug, transcribed from 004 §4.1-4.2, §5.1-5.2 and 002 Methods.
CATALOG_ROWS = _rows("catalog_expected.csv")
CATALOG_IDS = list(dict.fromkeys(r["regimen_id"] for r in CATALOG_ROWS))

# id -> (cycles min, max, spacing weeks) (004 §5, §5.1, §5.2; 002 Methods)
CYCLES = {
    "004-5.1-IDAC": (3, 4, (8, 12)),
    "004-5.1-DA60": (4, 6, (8, 12)),
    "004-5.2-VEN-AZA": (8, 12, (4, 6)),
    "004-5.2-VEN-DEC": (8, 12, (4, 6)),
    "004-5.2-IDAC": (3, 4, (8, 12)),
    "002-IDAC": (2, None, (12, 14)),
}


def test_catalog_holds_exactly_the_table() -> None:
    assert list(load_catalog()) == CATALOG_IDS


@pytest.mark.parametrize("row", CATALOG_ROWS, ids=lambda r: f"{r['regimen_id']}:{r['drug']}")
def test_regimen_matches_source(row: dict[str, str]) -> None:
    r = get_regimen(row["regimen_id"])
    assert r.phase.value == row["phase"]
    assert {f.value for f in r.fitness} == set(row["fitness"].split("/"))
    assert r.source == row["source"]
    assert r.clock_day == int(row["clock_day"])
    item = next(i for i in r.items if i.drug == row["drug"])
    assert (item.dose_low, item.dose_high) == (float(row["dose_low"]), float(row["dose_high"]))
    assert item.is_range is (row["dose_low"] != row["dose_high"])
    assert item.unit.value == row["unit"]
    assert item.day_list == parse_days(row["days"])
    assert item.per_day == int(row["per_day"])


@pytest.mark.parametrize("rid", [rid for rid in CATALOG_IDS if "VEN" in rid])
def test_venetoclax_ramp_up(rid: str) -> None:
    ven = [(i.day_list, i.dose) for i in get_regimen(rid).items if i.drug == "venetoclax"]
    assert ven == [((1,), 100), ((2,), 200), (tuple(range(3, 29)), 400)]


@pytest.mark.parametrize("rid,expected", CYCLES.items())
def test_cycles_and_spacing(rid: str, expected) -> None:
    r = get_regimen(rid)
    assert (r.cycles.min, r.cycles.max) == expected[:2]
    assert r.spacing is not None
    assert (r.spacing.weeks_min, r.spacing.weeks_max) == expected[2]


def test_cpx351_components() -> None:
    item = get_regimen("004-4.1-CPX351").items[0]
    assert item.components == {"daunorubicin": 0.44, "cytarabine": 1.0}


def test_unknown_regimen_is_a_clear_error() -> None:
    with pytest.raises(NotFoundError, match=r"unknown regimen 'DA-99'.*004-4\.1-DA60"):
        get_regimen("DA-99")


def _doc():
    return copy.deepcopy(load_yaml("regimens.yaml"))


def _first_item(doc):
    return doc["regimens"][0]["items"][0]


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda d: _first_item(d).update(drug="doxorubicine"), "drug"),
        (lambda d: _first_item(d).update(unit="mg/m3"), "unit"),
        (lambda d: _first_item(d).update(days="3-1"), "days"),
        (lambda d: _first_item(d).update(days="d1-3"), "days"),
        (lambda d: _first_item(d).update(dose=[12, 8]), "dose"),
        (lambda d: _first_item(d).update(dose=0), "dose"),
        (lambda d: _first_item(d).update(route="IT"), "route"),
        (lambda d: d["regimens"][0].update(clock_drugs=["decitabine"]), "regimens"),
        (lambda d: d["regimens"][0].update(source="NCCN"), "regimens"),
        (lambda d: d["regimens"][1].update(id=d["regimens"][0]["id"]), "id"),
        (lambda d: d["regimens"][16].pop("spacing"), "regimens"),
        (lambda d: d["regimens"][0].update(unexpected=1), "unexpected"),
    ],
)
def test_invalid_catalog_rejected(mutate, field: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(ValidationError) as exc:
        validate_catalog(doc)
    assert field in exc.value.field


def test_valid_copy_accepted() -> None:
    assert len(validate_catalog(_doc())) == len(CATALOG_IDS)


@pytest.mark.parametrize(
    "spec,days",
    [("1-3", (1, 2, 3)), ("1,3,5", (1, 3, 5)), ("1-5,8-9", (1, 2, 3, 4, 5, 8, 9)), ("7", (7,))],
)
def test_parse_days(spec: str, days: tuple[int, ...]) -> None:
    assert parse_days(spec) == days


@pytest.mark.parametrize("spec", ["", "0", "1-", "a", "5-2", "1-61", "1;3"])
def test_parse_days_rejects(spec: str) -> None:
    with pytest.raises(ValidationError):
        parse_days(spec)


@settings(deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(1, 60), st.integers(0, 10)), min_size=1, max_size=6))
def test_parse_days_roundtrip(ranges) -> None:
    parts = [f"{a}-{min(a + n, 60)}" if n else str(a) for a, n in ranges]
    expected = sorted({d for a, n in ranges for d in range(a, min(a + n, 60) + 1)})
    assert list(parse_days(",".join(parts))) == expected
