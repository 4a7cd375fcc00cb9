"""Grade GVHD (MAGIC), CRS (ASTCT) or myeloma response (IMWG 2016) from a CSV or JSON file.

One row (CSV) or one object (JSON) per assessment; the columns are the keyword
arguments of :func:`mst.monitoring.gvhd.grade_acute_gvhd`,
:func:`mst.monitoring.crs.grade_crs` and the fields of
:class:`mst.monitoring.response.MyelomaAssessment`, plus ``id`` (a label) and,
for IMWG, ``role`` (``baseline`` once, ``nadir`` at most once, then
``assessment`` rows). Blank, ``NA``, ``N/A``, ``NaN``, ``null``, ``None`` and
``.`` mean missing; booleans are ``true/false``, ``yes/no`` or ``1/0``. An
unknown column, value or role is an error naming the row and the field.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from mst.errors import ValidationError
from mst.monitoring.crs import grade_crs
from mst.monitoring.gvhd import grade_acute_gvhd
from mst.monitoring.response import MyelomaAssessment, assess_myeloma

Kind = Literal["gvhd", "crs", "imwg"]
_MISSING = {"", "na", "n/a", "nan", "null", "none", "."}
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def _bool(v: Any, where: str) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    raise ValidationError(where, v, "must be true/false, yes/no or 1/0")


def _float(v: Any, where: str) -> float:
    if isinstance(v, bool):
        raise ValidationError(where, v, "must be a number")
    try:
        return float(v.strip() if isinstance(v, str) else v)
    except (TypeError, ValueError):
        raise ValidationError(where, v, "must be a number") from None


def _int(v: Any, where: str) -> int:
    x = _float(v, where)
    if not x.is_integer():
        raise ValidationError(where, v, "must be a whole number")
    return int(x)


def _text(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValidationError(where, v, "must be text")
    return v.strip()


def _date(v: Any, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(v).strip())
    except ValueError:
        raise ValidationError(where, v, "must be an ISO date (YYYY-MM-DD)") from None


_GVHD: dict[str, Callable[[Any, str], Any]] = {
    "rash_bsa": _float,
    "bullae_bsa": _float,
    "bilirubin_mg_dl": _float,
    "persistent_upper_gi": _bool,
    "stool_ml_day": _float,
    "episodes_per_day": _int,
    "severe_pain_or_bloody": _bool,
}
_CRS: dict[str, Callable[[Any, str], Any]] = {
    "temperature_c": _float,
    "hypotension": _bool,
    "vasopressors": _int,
    "vasopressin_only_adjunct": _bool,
    "oxygen_device": _text,
    "oxygen_l_min": _float,
    "fever_masked": _bool,
}
_IMWG: dict[str, Callable[[Any, str], Any]] = {
    "serum_m": _float,
    "urine_m": _float,
    "immunofixation_negative": _bool,
    "marrow_plasma_cells": _float,
    "flc_kappa": _float,
    "flc_lambda": _float,
    "involved_light_chain": lambda v, w: _text(v, w).lower(),
    "clonal_cells_absent": _bool,
    "plasmacytoma_present": _bool,
    "new_lesion": _bool,
    "electrophoresis_negative": _bool,
    "date": _date,
}
_FIELDS = {"gvhd": _GVHD, "crs": _CRS, "imwg": _IMWG}
_META = {"gvhd": {"id", "date"}, "crs": {"id", "date"}, "imwg": {"id", "role"}}


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip().lower() in _MISSING)


def read_rows(path: str | Path, kind: Kind) -> list[tuple[str, dict[str, Any]]]:
    """Read a grading file into (row label, raw values) pairs.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (header row) or ``.json`` (an object or a list of objects).
    kind : {"gvhd", "crs", "imwg"}

    Returns
    -------
    list of (str, dict)
        ``"row 2"`` / ``"item 1"`` and the non-missing values, keys checked.

    Raises
    ------
    mst.errors.ValidationError
        Unreadable file, unknown column, empty file.
    """
    if kind not in _FIELDS:
        raise ValidationError("kind", kind, "must be gvhd, crs or imwg")
    p = Path(path)
    known = set(_FIELDS[kind]) | _META[kind]
    rows: list[tuple[str, dict[str, Any]]] = []
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise ValidationError(
                p.name, f"line {exc.lineno}", f"is not valid JSON ({exc.msg})"
            ) from None
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise ValidationError(f"{p.name} item {i}", item, "must be a JSON object")
            rows.append((f"item {i}", dict(item)))
    elif p.suffix.lower() == ".csv":
        with p.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            for i, r in enumerate(reader, 2):
                if None in r:
                    raise ValidationError(
                        f"{p.name} row {i}", r[None], "has more cells than header"
                    )
                rows.append((f"row {i}", dict(r)))
    else:
        raise ValidationError(str(p), p.suffix, "must be a .csv or .json file")
    if not rows:
        raise ValidationError(p.name, "no rows", "holds no assessment to grade")
    out = []
    for label, raw in rows:
        for key in raw:
            if key not in known:
                raise ValidationError(
                    f"{p.name} {label}: {key}",
                    raw[key],
                    "unknown field (known: " + ", ".join(sorted(known)) + ")",
                )
        out.append((f"{p.name} {label}", {k: v for k, v in raw.items() if not _missing(v)}))
    return out


def _typed(kind: Kind, where: str, raw: dict[str, Any]) -> dict[str, Any]:
    conv = _FIELDS[kind]
    return {k: conv[k](v, f"{where}: {k}") for k, v in raw.items() if k in conv}


def _with_where(where: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ValidationError as exc:
        if exc.field.startswith(where):
            raise
        raise ValidationError(f"{where}: {exc.field}", exc.value, exc.rule) from None


def grade_file(path: str | Path, kind: Kind) -> list[dict[str, Any]]:
    """Grade every assessment of a file.

    Parameters
    ----------
    path : str or Path
        CSV or JSON file (see the module docstring).
    kind : {"gvhd", "crs", "imwg"}
        MAGIC acute GVHD, ASTCT CRS, or IMWG 2016 myeloma response (each
        ``assessment`` row against the ``baseline`` row and the optional
        ``nadir`` row; unconfirmed calls).

    Returns
    -------
    list of dict
        One result per assessment: ``id``, the grade or category, the organ
        stages (GVHD) or component grades (CRS), the reasons and the source.

    Raises
    ------
    mst.errors.ValidationError
        Naming the file, row and field.
    """
    rows = read_rows(path, kind)
    out: list[dict[str, Any]] = []
    if kind in ("gvhd", "crs"):
        for where, raw in rows:
            kw = _typed(kind, where, raw)
            if kind == "gvhd":
                g = _with_where(where, lambda kw=kw: grade_acute_gvhd(**kw))
                res: dict[str, Any] = {
                    "grade": g.grade,
                    "grade_roman": g.roman,
                    "stages": {
                        "skin": g.skin,
                        "liver": g.liver,
                        "upper_gi": g.upper_gi,
                        "lower_gi": g.lower_gi,
                    },
                }
            else:
                kw.setdefault("temperature_c", None)
                c = _with_where(where, lambda kw=kw: grade_crs(**kw))
                res = {
                    "grade": c.grade,
                    "components": {
                        "fever": c.fever_grade,
                        "hypotension": c.hypotension_grade,
                        "hypoxia": c.hypoxia_grade,
                    },
                }
                g = c
            out.append(
                {
                    "id": str(raw.get("id", where)),
                    "date": (
                        _date(raw["date"], f"{where}: date").isoformat() if "date" in raw else None
                    ),
                    **res,
                    "reasons": list(g.reasons),
                    "source": g.source,
                }
            )
        return out
    baseline: MyelomaAssessment | None = None
    nadir: MyelomaAssessment | None = None
    todo: list[tuple[str, dict[str, Any], MyelomaAssessment]] = []
    for where, raw in rows:
        role = str(raw.get("role", "assessment")).strip().lower()
        a = _with_where(where, lambda w=where, r=raw: MyelomaAssessment(**_typed("imwg", w, r)))
        if role == "baseline":
            if baseline is not None:
                raise ValidationError(f"{where}: role", role, "only one baseline row is allowed")
            baseline = a
        elif role == "nadir":
            if nadir is not None:
                raise ValidationError(f"{where}: role", role, "only one nadir row is allowed")
            nadir = a
        elif role == "assessment":
            todo.append((where, raw, a))
        else:
            raise ValidationError(f"{where}: role", role, "must be baseline, nadir or assessment")
    if baseline is None:
        raise ValidationError("role", "baseline", "a baseline row (pre-treatment) is required")
    if not todo:
        raise ValidationError("role", "assessment", "at least one assessment row is required")
    for where, raw, a in todo:
        call = _with_where(where, lambda a=a: assess_myeloma(a, baseline, nadir))
        cat = call.category
        out.append(
            {
                "id": str(raw.get("id", where)),
                "date": a.date.isoformat() if a.date else None,
                "category": cat if isinstance(cat, str) else cat.value,
                "registry_category": (
                    call.registry_category.value if call.registry_category else None
                ),
                "confirmed": False,
                "reasons": list(call.reasons),
                "source": call.source,
            }
        )
    return out
