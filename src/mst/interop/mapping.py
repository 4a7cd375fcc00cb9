"""Column and code mapping from a source table (REDCap, SPSS, a spreadsheet) to the flat table.

A mapping file (YAML or TOML) has up to four sections::

    columns:          # flat-table column: source column
      patient_id: record_id
      age: age_dx
    values:           # flat-table column: {source value: flat value}
      sex: {"1": M, "2": F, Male: M, Female: F}
    constants:        # flat-table column: value for every row
      center_id: C01
    date_format: "%d/%m/%Y"   # optional strptime format of the source dates
    missing_codes: [UNK, NASK, "-99"]   # optional: the source's own missing-data codes

Missing-data codes are read as empty cells (in addition to blanks, R's ``NA``, ``#N/A`` …
that every table reader treats as missing, see :mod:`mst.io.tabular`).

Source columns that are not mapped are dropped. A value with no entry in ``values`` for
its column is passed through unchanged (and then validated by the flat-table rules).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mst.cohort import COLUMNS
from mst.errors import ValidationError
from mst.interop.flat_import import Rejection


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file."""

    columns: dict[str, str]
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    date_format: str | None = None
    missing_codes: tuple[str, ...] = ()


def _key(v: Any) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def parse_mapping(data: dict[str, Any], where: str = "mapping") -> Mapping:
    """Check and build a :class:`Mapping` from a parsed YAML/TOML document.

    Raises
    ------
    ValidationError
        Unknown section, unknown flat-table column, or malformed entries.
    """
    if not isinstance(data, dict):
        raise ValidationError(where, type(data).__name__, "must be a mapping of sections")
    allowed = {"columns", "values", "constants", "date_format", "missing_codes", "source",
               "description"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(where, unknown, f"unknown section(s); allowed: {sorted(allowed)}")
    cols = data.get("columns") or {}
    vals = data.get("values") or {}
    consts = data.get("constants") or {}
    for sec_name, sec in (("columns", cols), ("values", vals), ("constants", consts)):
        if not isinstance(sec, dict):
            raise ValidationError(f"{where}.{sec_name}", sec, "must be a mapping")
        bad = [k for k in sec if k not in COLUMNS]
        if bad:
            raise ValidationError(
                f"{where}.{sec_name}", bad, "not flat-table columns (docs/flat_table.md)"
            )
    if not cols and not consts:
        raise ValidationError(f"{where}.columns", None, "maps no column")
    for k, v in vals.items():
        if not isinstance(v, dict):
            raise ValidationError(f"{where}.values.{k}", v, "must map source values to values")
    fmt = data.get("date_format")
    codes = data.get("missing_codes") or []
    if not isinstance(codes, list) or not all(isinstance(c, str | int) for c in codes):
        raise ValidationError(f"{where}.missing_codes", codes, "must be a list of codes")
    return Mapping(
        {k: str(v) for k, v in cols.items()},
        {k: {_key(s): t for s, t in v.items()} for k, v in vals.items()},
        dict(consts),
        None if fmt is None else str(fmt),
        tuple(str(c).strip() for c in codes),
    )


def load_mapping(path: str | Path) -> Mapping:
    """Read a mapping file (``.yaml``/``.yml`` or ``.toml``)."""
    p = Path(path)
    if not p.exists():
        raise ValidationError("mapping", str(p), "no such file")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif p.suffix.lower() in {".yaml", ".yml"}:
            data = yaml.safe_load(text)
        else:
            raise ValidationError("mapping", str(p), "must be .yaml, .yml or .toml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ValidationError("mapping", str(p), f"could not be parsed ({exc})") from exc
    return parse_mapping(data, p.name)


def apply_mapping(
    raw: pd.DataFrame, mapping: Mapping, first_row: int = 2
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Rename, recode and add constants; dates are rewritten as ISO text.

    Returns
    -------
    (frame, rejections)
        The flat-table-shaped frame (cells still to be validated) and the cells whose
        date did not match ``date_format`` (their cell is left empty).

    Raises
    ------
    ValidationError
        A mapped source column is not in the table.
    """
    absent = [s for s in mapping.columns.values() if s not in raw.columns]
    if absent:
        raise ValidationError(
            "mapping.columns",
            absent,
            f"source column(s) not found; the table has {list(raw.columns)}",
        )
    out = pd.DataFrame(index=raw.index)
    rejections: list[Rejection] = []
    for flat, src in mapping.columns.items():
        col = raw[src]
        codes = mapping.values.get(flat)
        if codes:
            col = col.map(lambda v, c=codes: c.get(_key(v), v) if v is not None else v)
        if mapping.date_format and COLUMNS[flat].startswith("datetime"):
            conv = []
            for i, v in enumerate(col.tolist()):
                if v is None or (isinstance(v, str) and not v.strip()) or v != v:
                    conv.append(None)
                    continue
                if isinstance(v, dt.date):
                    conv.append(v.isoformat()[:10])
                    continue
                try:
                    conv.append(
                        dt.datetime.strptime(str(v).strip(), mapping.date_format).date().isoformat()
                    )
                except ValueError:
                    rejections.append(
                        Rejection(
                            first_row + i, flat, v, f"date must match {mapping.date_format!r}"
                        )
                    )
                    conv.append(None)
            col = pd.Series(conv, index=raw.index, dtype=object)
        out[flat] = col
    for flat, v in mapping.constants.items():
        out[flat] = v
    return out.reset_index(drop=True), rejections
