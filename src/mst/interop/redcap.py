"""REDCap exports: a CSV export ("raw" codes) and its data dictionary.

The data dictionary is REDCap's own CSV (``Variable / Field Name``, ``Field Type``,
``Field Label``, ``Choices, Calculations, OR Slider Labels`` …). Coded fields
(``radio``, ``dropdown``, ``yesno``, ``truefalse``) are translated from codes to their
labels; a code that is not a choice of the dictionary is a rejection naming the row, the
field, the value and the allowed codes. A mapping file then takes labels (or codes) to the
flat-table values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mst.errors import ValidationError
from mst.interop.flat_import import ImportResult, Rejection, validate_flat_table
from mst.interop.mapping import Mapping, apply_mapping, load_mapping

_FIELD = "Variable / Field Name"
_TYPE = "Field Type"
_LABEL = "Field Label"
_CHOICES = "Choices, Calculations, OR Slider Labels"
_FIXED = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}


@dataclass(frozen=True)
class DictionaryField:
    """One field of a REDCap data dictionary."""

    name: str
    field_type: str
    label: str
    choices: dict[str, str]


def parse_choices(text: str) -> dict[str, str]:
    """Parse REDCap choices ``"1, Male | 2, Female"`` into ``{"1": "Male", "2": "Female"}``.

    Raises
    ------
    ValidationError
        A choice without a comma.
    """
    out: dict[str, str] = {}
    if not text or not text.strip():
        return out
    for part in text.split("|"):
        code, sep, label = part.partition(",")
        if not sep:
            raise ValidationError("choices", part.strip(), "each choice must be 'code, label'")
        out[code.strip()] = label.strip()
    return out


def read_dictionary(path: str | Path) -> dict[str, DictionaryField]:
    """Read a REDCap data dictionary CSV.

    Raises
    ------
    ValidationError
        Missing dictionary columns.
    """
    dd = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    need = [c for c in (_FIELD, _TYPE, _LABEL) if c not in dd.columns]
    if need:
        raise ValidationError("data dictionary", need, "REDCap dictionary column(s) not found")
    out: dict[str, DictionaryField] = {}
    for _, r in dd.iterrows():
        ftype = r[_TYPE].strip().lower()
        choices = (
            parse_choices(r.get(_CHOICES, ""))
            if ftype in {"radio", "dropdown"}
            else dict(_FIXED.get(ftype, {}))
        )
        out[r[_FIELD].strip()] = DictionaryField(r[_FIELD].strip(), ftype, r[_LABEL], choices)
    return out


def decode_export(
    export: pd.DataFrame, dictionary: dict[str, DictionaryField], first_row: int = 2
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Replace codes by labels in coded fields; unknown codes are rejections (cell emptied)."""
    out = export.copy()
    rej: list[Rejection] = []
    for c in export.columns:
        f = dictionary.get(c)
        if f is None or not f.choices:
            continue
        vals = []
        for i, v in enumerate(export[c].tolist()):
            s = "" if v is None else str(v).strip()
            if s == "":
                vals.append("")
            elif s in f.choices:
                vals.append(f.choices[s])
            else:
                rej.append(
                    Rejection(
                        first_row + i,
                        c,
                        s,
                        f"not a choice of the data dictionary {sorted(f.choices)}",
                    )
                )
                vals.append("")
        out[c] = vals
    return out, rej


def read_redcap(
    export_path: str | Path, dictionary_path: str | Path, mapping: Mapping | str | Path
) -> ImportResult:
    """Import a REDCap CSV export into the flat table.

    Parameters
    ----------
    export_path : str or Path
        REDCap "CSV (raw data)" export.
    dictionary_path : str or Path
        The project's data dictionary CSV.
    mapping : Mapping or path
        Mapping from REDCap fields (decoded labels) to flat-table columns and values.

    Returns
    -------
    ImportResult
        Accepted rows and every rejection (unknown codes, mapping and type errors);
        a row with any rejection is excluded.
    """
    mp = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    export = pd.read_csv(export_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    dictionary = read_dictionary(dictionary_path)
    unknown = [
        c
        for c in export.columns
        if c not in dictionary and not c.endswith("_complete") and c != "redcap_event_name"
    ]
    if unknown:
        raise ValidationError("export columns", unknown, "not in the data dictionary")
    decoded, rej = decode_export(export, dictionary)
    mapped, rej2 = apply_mapping(decoded, mp)
    rej = rej + rej2
    bad = {r.row for r in rej}
    first = validate_flat_table(mapped, source=str(export_path))
    keep = [i for i in range(len(mapped)) if 2 + i not in bad]
    res = validate_flat_table(mapped.iloc[keep].reset_index(drop=True), source=str(export_path))
    res.rejections = sorted(rej + first.rejections, key=lambda r: (r.row, r.column))
    return res


def read_table(
    path: str | Path, mapping: str | Path | None = None, dictionary: str | Path | None = None
) -> ImportResult:
    """Read a flat table from a spreadsheet, SPSS file or REDCap export.

    Parameters
    ----------
    path : str or pathlib.Path
        CSV, XLSX or SAV file; with ``dictionary``, a REDCap CSV export.
    mapping : str or pathlib.Path, optional
        Column-mapping file (required for a REDCap export).
    dictionary : str or pathlib.Path, optional
        REDCap data dictionary; its presence makes ``path`` a REDCap export.

    Returns
    -------
    ImportResult
        Accepted table and the rejected rows with their reasons.
    """
    from mst.interop.flat_import import read_flat_file

    if dictionary is None:
        return read_flat_file(path, mapping)
    if mapping is None:
        raise ValidationError("--mapping", None, "a REDCap export needs a mapping file")
    return read_redcap(path, dictionary, mapping)
