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
