"""Error messages name the field and the rule in plain words — never a Python repr."""

from __future__ import annotations

import datetime as dt
import enum

import pytest

from mst.errors import ValidationError, show
from mst.protocol.schedule import next_step


class _E(enum.Enum):
    CR = "CR"


@pytest.mark.parametrize(
    ("value", "text"),
    [(dt.date(2026, 12, 1), "2026-12-01"), (dt.datetime(2026, 12, 1, 8, 30), "2026-12-01T08:30:00"),
     (1500.0, "1500"), (0.5, "0.5"), (3, "3"), (None, "(missing)"), (True, "true"),
     (_E.CR, "'CR'"), ("abc", "'abc'"), ({"a": 1, "b": {"c": 2}}, "an object with keys a, b"),
     ([1.0, dt.date(2026, 1, 2)], "[1, 2026-01-02]")],
)  # fmt: skip
def test_values_are_shown_in_plain_words(value: object, text: str) -> None:
    assert show(value) == text
    msg = str(ValidationError("field.x", value, "must be something"))
    if value is None:  # nothing to show: field and rule only
        assert msg == "field.x: must be something"
    else:
        assert msg == f"field.x: {text} rejected — must be something"
    for repr_marker in ("datetime.", "<", "np.", "{'"):
        assert repr_marker not in msg


def test_induction_after_remission_names_the_category_plainly() -> None:
    with pytest.raises(ValidationError) as exc:
        next_step(["CR", None])
    assert "ResponseCategory" not in str(exc.value) and "'CR'" in str(exc.value)


_PYDANTIC_PHRASES = ("Input should", "Extra inputs", "valid number", "Field required", "planinput")


def _plan(**patch: object) -> dict:
    import copy
    import json
    from pathlib import Path

    base = json.loads(
        (Path(__file__).parents[2] / "docs/examples/plan_new_fit_68.json").read_text("utf-8")
    )
    d = copy.deepcopy(base)
    for dotted, v in patch.items():
        *head, last = dotted.split("__")
        node = d
        for k in head:
            node = node[k]
        node[last] = v
    return d


@pytest.mark.parametrize(
    ("patch", "field", "rule"),
    [({"patient__weight_kg": 700}, "patient.weight_kg", "must be at most 250 kg"),
     ({"patient__height_cm": 1.72}, "patient.height_cm", "must be at least 100 cm"),
     ({"patient__fitness": "moderate"}, "patient.fitness", "must be one of"),
     ({"plan__last_dose_time": "25:00"}, "plan.last_dose_time", "HH:MM"),
     ({"assessment__cyp3a": ["x"]}, "assessment.cyp3a", "is not a field of the plan input")],
)  # fmt: skip
def test_plan_input_errors_in_plain_words(patch: dict, field: str, rule: str) -> None:
    from mst.protocol import read_plan_input

    with pytest.raises(ValidationError) as exc:
        read_plan_input(_plan(**patch))
    assert exc.value.field == field and rule in exc.value.rule
    assert not any(p in str(exc.value) for p in _PYDANTIC_PHRASES), str(exc.value)


@pytest.mark.parametrize("blank", ["", "NA", " n/a ", "null", "."])
def test_plan_input_blank_reads_as_missing(blank: str) -> None:
    from mst.protocol import plan

    d = _plan(patient__weight_kg=blank)
    with pytest.raises(ValidationError) as exc:
        plan(d)
    assert exc.value.field == "patient.weight_kg" and "required" in exc.value.rule


def test_unknown_drug_in_dose_choices_lists_the_drugs_in_words() -> None:
    from mst.protocol import plan

    with pytest.raises(ValidationError) as exc:
        plan(_plan(plan__dose_choices={"idarubicine": 10}))
    assert exc.value.field == "dose_choices.idarubicine"
    assert "(drugs: cytarabine, idarubicin)" in exc.value.rule and "[" not in exc.value.rule
