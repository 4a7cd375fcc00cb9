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


_MIN = "Text Validation Min"
_MAX = "Text Validation Max"
_VALIDATION = "Text Validation Type OR Show Slider Number"
#: REDCap's own columns of an export that are not fields of the data dictionary.
REDCAP_COLUMNS = frozenset({"redcap_event_name", "redcap_repeat_instrument",
                            "redcap_repeat_instance", "redcap_data_access_group",
                            "redcap_survey_identifier"})


@dataclass(frozen=True)
class DictionaryField:
    """One field of a REDCap data dictionary (choices, and the validation min/max)."""

    name: str
    field_type: str
    label: str
    choices: dict[str, str]
    validation: str = ""
    minimum: str = ""
    maximum: str = ""

    def checkbox_column(self, code: str) -> str:
        """Export column of one checkbox choice: ``ae___1`` (REDCap lower-cases the code and
        writes ``-`` and ``.`` as ``_``)."""
        return f"{self.name}___{code.lower().replace('-', '_').replace('.', '_')}"


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
    """Read a REDCap data dictionary CSV (through :func:`mst.io.tabular.read_table_text`).

    Raises
    ------
    ValidationError
        Missing dictionary columns.
    """
    from mst.io.tabular import read_table_text

    dd = read_table_text(path, missing=()).astype(object)
    dd = dd.where(dd.notna(), "")
    need = [c for c in (_FIELD, _TYPE, _LABEL) if c not in dd.columns]
    if need:
        raise ValidationError("data dictionary", need, "REDCap dictionary column(s) not found")
    out: dict[str, DictionaryField] = {}
    for r in dd.to_dict(orient="records"):
        ftype = str(r[_TYPE]).strip().lower()
        choices = (
            parse_choices(r.get(_CHOICES, ""))
            if ftype in {"radio", "dropdown", "checkbox"}
            else dict(_FIXED.get(ftype, {}))
        )
        name = str(r[_FIELD]).strip()
        out[name] = DictionaryField(name, ftype, str(r[_LABEL]), choices,
                                    str(r.get(_VALIDATION, "")).strip().lower(),
                                    str(r.get(_MIN, "")).strip(), str(r.get(_MAX, "")).strip())
    return out


def _bound_check(f: DictionaryField, s: str) -> str | None:
    """The rule a value breaks against the dictionary's validation min/max, or None."""
    if not (f.minimum or f.maximum):
        return None
    if f.validation.startswith("date"):
        lo, hi, v = f.minimum[:10], f.maximum[:10], s[:10]  # ISO dates compare as text
    else:
        try:
            v = float(s)  # type: ignore[assignment]
            lo = float(f.minimum) if f.minimum else None  # type: ignore[assignment]
            hi = float(f.maximum) if f.maximum else None  # type: ignore[assignment]
        except ValueError:
            return "must be a number (data dictionary validation)"
    if (lo not in (None, "") and v < lo) or (hi not in (None, "") and v > hi):
        return (f"must be between {f.minimum or '-inf'} and {f.maximum or 'inf'} "
                "(data dictionary validation min/max)")
    return None


def decode_export(
    export: pd.DataFrame, dictionary: dict[str, DictionaryField], first_row: int = 2
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Replace codes by labels in coded fields; unknown codes are rejections (cell emptied).

    Checkbox fields (``ae___1``, ``ae___2`` … with 0/1) become ``Checked``/``Unchecked``
    and a column ``ae`` listing the labels of the checked choices (``"Nausea; Vomiting"``).
    Numbers and dates outside the dictionary's validation min/max are rejections.
    """
    out = export.copy()
    rej: list[Rejection] = []
    for c in export.columns:
        f = dictionary.get(c)
        if f is None:
            continue
        if not f.choices:
            for i, v in enumerate(export[c].tolist()):
                if v is None or not str(v).strip():
                    continue
                rule = _bound_check(f, str(v).strip())
                if rule is not None:
                    rej.append(Rejection(first_row + i, c, v, rule))
                    out.iat[i, out.columns.get_loc(c)] = None
            continue
        if f.field_type == "checkbox":
            continue
        vals: list[str | None] = []
        for i, v in enumerate(export[c].tolist()):
            s = "" if v is None else str(v).strip()
            if s == "":
                vals.append(None)
            elif s in f.choices:
                vals.append(f.choices[s])
            else:
                rej.append(Rejection(first_row + i, c, s,
                                     f"not a choice of the data dictionary "
                                     f"({', '.join(sorted(f.choices))})"))
                vals.append(None)
        out[c] = vals
    for f in dictionary.values():
        if f.field_type != "checkbox":
            continue
        cols = {code: f.checkbox_column(code) for code in f.choices}
        present = {code: col for code, col in cols.items() if col in export.columns}
        if not present:
            continue
        checked: list[list[str]] = [[] for _ in range(len(export))]
        for code, col in present.items():
            vals = []
            for i, v in enumerate(export[col].tolist()):
                s = "" if v is None else str(v).strip()
                if s == "1":
                    checked[i].append(f.choices[code])
                    vals.append("Checked")
                elif s in {"0", ""}:
                    vals.append(None if s == "" else "Unchecked")
                else:
                    rej.append(Rejection(first_row + i, col, s,
                                         "a checkbox must be 1 (checked) or 0 (unchecked)"))
                    vals.append(None)
            out[col] = vals
        out[f.name] = ["; ".join(x) if x else None for x in checked]
    return out, rej


def read_redcap(
    export_path: str | Path, dictionary_path: str | Path, mapping: Mapping | str | Path
) -> ImportResult:
    """Import a REDCap CSV export into the flat table.

    Parameters
    ----------
    export_path : str or Path
        REDCap "CSV (raw data)" export, read by :func:`mst.io.tabular.read_table_text`
        with the mapping's ``missing_codes`` (e.g. ``UNK``, ``NASK``) as missing values.
    dictionary_path : str or Path
        The project's data dictionary CSV.
    mapping : Mapping or path
        Mapping from REDCap fields (decoded labels) to flat-table columns and values.

    Returns
    -------
    ImportResult
        Accepted rows and every rejection (unknown codes, values outside the dictionary's
        min/max, mapping and type errors); a row with any rejection is excluded. Rows of
        repeating instruments (``redcap_repeat_instrument`` set) are set aside — the flat
        table has one row per patient — and counted in ``notes``.
    """
    from mst.io.tabular import read_table_text

    mp = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    export = read_table_text(export_path, missing=mp.missing_codes)
    dictionary = read_dictionary(dictionary_path)
    checkbox_cols = {f.checkbox_column(code) for f in dictionary.values()
                     if f.field_type == "checkbox" for code in f.choices}
    unknown = [
        c
        for c in export.columns
        if c not in dictionary and c not in checkbox_cols and not c.endswith("_complete")
        and c not in REDCAP_COLUMNS
    ]
    if unknown:
        raise ValidationError("export columns", unknown, "not in the data dictionary")
    notes: list[str] = []
    first_rows = list(range(2, 2 + len(export)))
    if "redcap_repeat_instrument" in export.columns:
        rep = export["redcap_repeat_instrument"].notna()
        if rep.any():
            by_inst = export.loc[rep, "redcap_repeat_instrument"].value_counts()
            notes.append(
                f"{int(rep.sum())} row(s) of repeating instruments set aside ("
                + ", ".join(f"{k}: {v}" for k, v in by_inst.items())
                + "); the flat table has one row per patient")
            first_rows = [r for r, m in zip(first_rows, rep.tolist(), strict=True) if not m]
            export = export.loc[~rep].reset_index(drop=True)
    decoded, rej = decode_export(export, dictionary)
    mapped, rej2 = apply_mapping(decoded, mp)
    rej = rej + rej2
    rownum = dict(enumerate(first_rows))
    rej = [Rejection(rownum[r.row - 2], r.column, r.value, r.rule) for r in rej]
    bad = {r.row for r in rej}
    first = validate_flat_table(mapped, source=str(export_path))
    first_rej = [Rejection(rownum[r.row - 2], r.column, r.value, r.rule)
                 for r in first.rejections]
    keep = [i for i in range(len(mapped)) if rownum[i] not in bad]
    res = validate_flat_table(mapped.iloc[keep].reset_index(drop=True), source=str(export_path))
    res.rejections = sorted(rej + first_rej, key=lambda r: (r.row, r.column))
    res.notes = notes
    return res


def read_table(
    path: str | Path, mapping: str | Path | None = None, dictionary: str | Path | None = None,
    sheet: str | None = None, encoding: str | None = None,
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
    sheet : str, optional
        Sheet of an XLSX workbook.
    encoding : str, optional
        Declared encoding of a text file without byte-order mark.

    Returns
    -------
    ImportResult
        Accepted table and the rejected rows with their reasons.
    """
    from mst.interop.flat_import import read_flat_file

    if dictionary is None:
        return read_flat_file(path, mapping, sheet=sheet, encoding=encoding)
    if mapping is None:
        raise ValidationError("--mapping", None, "a REDCap export needs a mapping file")
    return read_redcap(path, dictionary, mapping)
