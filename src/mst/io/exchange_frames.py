"""The exchange reader, column by column: a file → validated :class:`~mst.io.frames.CohortFrames`.

One validator for every path (import, ``mst cohort --from``, report, web): the file is read
with pyarrow's CSV reader (every column as text) or openpyxl, and every rule of the row-by-row
reader (:class:`mst.io.exchange.RowBuilder`, the reference) is checked on whole columns:

* **Field rules** are not written twice: they are derived from the pydantic models'
  declarations (type, enum, ``ge/gt/le/lt``, ``min_length/max_length``, ``pattern``,
  optional or required). A cell *proven valid* is in its canonical form (``2019-03-04``,
  ``12``, ``2.5``, ``1e-05``, ``2018-02-15T21:00:00``) and within the declared bounds; any
  other cell (another spelling the models may still accept, an out-of-range value) sends its
  row to the row-by-row reader, which accepts it (its parsed values are kept) or gives the
  message.
* **Model validators and cross-record rules** (dates plausible, age from birth date, lab
  units via the analyte table, event grade/cause/detail, uniqueness and references to earlier
  rows, course order, infusion after its course starts, nothing before diagnosis — labs and
  antibodies 30 days — or after death / last follow-up, one death, response category by
  disease, donor ids unique in the file, centers recorded) have vectorised twins here.
* **Messages** always come from the reference: the first flagged row (in the order the
  row-by-row reader meets it) is replayed through :class:`~mst.io.exchange.RowBuilder` with the
  context of the rows before it, and the first flagged record through
  :meth:`mst.domain.PatientRecord.check_consistency`. A twin that flags a row or record the
  reference accepts is a programming error (:class:`ColumnarDisagreementError`), never silently
  passed.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import re
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from mst.domain import (
    AntibodyResult,
    Center,
    ClinicalEvent,
    Cohort,
    Course,
    Donor,
    DrugAdministration,
    Infusion,
    LabResult,
    Patient,
    PatientRecord,
    ResponseAssessment,
)
from mst.domain.analytes import analyte_table, check_myeloma_event_detail
from mst.domain.models import (
    AML_CATEGORIES,
    EARLIEST_DATE,
    FUTURE_TOLERANCE_DAYS,
    GRADED_EVENTS,
    MYELOMA_CATEGORIES,
)
from mst.errors import MstError, ValidationError
from mst.io.exchange import (
    _KNOWN_COLUMNS,
    _TO_MODEL,
    MAX_FIELD_CHARS,
    RECORD_FIELDS,
    RowBuilder,
    _clean,
    _csv_rows,
    _new_bucket,
    _xlsx_rows,
    check_cells,
    check_record,
    parse_course,
    row_where,
)
from mst.io.frames import SCHEMA, CohortFrames
from mst.io.tabular import _BOMS, MISSING_TOKENS, check_header, decode_bytes

Progress = Callable[[int, int], None]


class ColumnarDisagreementError(MstError, AssertionError):
    """The columnar checks flagged a row or record that the row-by-row reference accepts."""


# --------------------------------------------------------------------------- the raw table
@dataclass
class _Source:
    """Raw cells split by record type, in stream order (the order the reference reads)."""

    header: list[str]
    rowno: np.ndarray  # file row of each stream position (messages, ``row`` column)
    rt: np.ndarray  # record type of each position as the reference reads it (stripped)
    parts: dict[str, tuple[np.ndarray, dict[str, pa.Array]]]  # kind -> positions, raw cells
    odd: np.ndarray | None = None  # positions holding non-text cells (XLSX numbers)
    raw_rows: list[dict[str, Any]] | None = None  # the rows as the reference gets them
    exotic_space: bool = False  # cells may need Python's str.strip (non-ASCII white space)
    pending: ValidationError | None = None  # a file error after the last row read
    known: np.ndarray | None = None  # positions of a record type of the format
    too_long: dict[int, tuple[str, str]] = field(default_factory=dict)  # pos -> column, cell

    @property
    def n(self) -> int:
        return len(self.rowno)

    def raw(self, pos: int) -> dict[str, Any]:
        """The row as the reference would get it (the cells its rules read)."""
        if self.raw_rows is not None:
            return self.raw_rows[pos]
        kind = self.rt[pos]
        row: dict[str, Any] = {"record_type": kind}
        if kind in self.parts:
            positions, cols = self.parts[kind]
            j = int(np.searchsorted(positions, pos))
            row.update({c: a[j].as_py() for c, a in cols.items()})
        return row


class _Splitter:
    """Collects a table's rows (batch by batch) into per-record-type columns.

    Each batch is split once per record type (one ``take`` of that type's columns), the
    record types compared as dictionary codes; the pieces are joined column by column at
    the end, each piece freed as soon as its column is joined.
    """

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.pos: dict[str, list[np.ndarray]] = {k: [] for k in RECORD_FIELDS}
        self.fields: dict[str, list[str]] = {
            k: [f for f in fields_ if f in header] for k, fields_ in RECORD_FIELDS.items()
        }
        self.tables: dict[str, list[pa.Table]] = {k: [] for k in RECORD_FIELDS}
        self.rt: list[np.ndarray] = []
        self.known: list[np.ndarray] = []  # a record type of the format, per position
        self.too_long: dict[int, tuple[str, str]] = {}
        self.n = 0

    def add(self, tb: pa.Table) -> None:
        m = tb.num_rows
        groups: dict[str, list[int]] = {}
        if "record_type" in self.header:
            enc = pc.fill_null(tb.column("record_type"), "None").combine_chunks()
            enc = enc.dictionary_encode()
            codes = enc.indices.to_numpy(zero_copy_only=False)
            stripped = [str(x).strip() for x in enc.dictionary.to_pylist()]
            names = np.array(stripped, dtype=object)
            rt = names[codes] if m else np.empty(0, dtype=object)
            for j, kind in enumerate(stripped):
                if kind in RECORD_FIELDS:
                    groups.setdefault(kind, []).append(j)
        else:
            codes = np.empty(0, dtype=np.int32)
            rt = np.full(m, "", dtype=object)
        self.rt.append(rt)
        if groups:
            of_format = np.zeros(len(names), dtype=bool)  # per dictionary entry
            of_format[[j for js in groups.values() for j in js]] = True
            self.known.append(of_format[codes])
        else:
            self.known.append(np.zeros(m, dtype=bool))
        for kind, js in groups.items():
            hit = codes == js[0] if len(js) == 1 else np.isin(codes, js)
            idx = np.flatnonzero(hit)
            if not idx.size:
                continue
            self.pos[kind].append(idx + self.n)
            if self.fields[kind]:
                self.tables[kind].append(tb.select(self.fields[kind]).take(pa.array(idx)))
        for h in self.header:  # cells over the limit, first column in header order
            col = tb.column(h)
            if _text_bytes(col) <= MAX_FIELD_CHARS:  # no cell is longer than all its text
                continue
            if (pc.max(pc.binary_length(col)).as_py() or 0) <= MAX_FIELD_CHARS:
                continue
            over = _np_bool(pc.greater(pc.utf8_length(col), MAX_FIELD_CHARS))
            for j in np.flatnonzero(over):
                self.too_long.setdefault(int(j) + self.n, (h, col[int(j)].as_py()))
        self.n += m

    def parts(self) -> dict[str, tuple[np.ndarray, dict[str, pa.Array]]]:
        out = {}
        for kind, fields_ in self.fields.items():
            pos = (np.concatenate(self.pos[kind]) if self.pos[kind]
                   else np.empty(0, dtype=np.int64))
            self.pos[kind] = []
            pieces = self.tables[kind]
            cols: dict[str, pa.Array] = {}
            if pieces:
                tb = pa.concat_tables(pieces)
                pieces.clear()
                for f in fields_:
                    cols[f] = tb.column(f).combine_chunks()
                    tb = tb.drop_columns([f])  # this column's pieces are freed here
                del tb
            else:
                cols = {f: pa.array([], pa.string()) for f in fields_}
            out[kind] = (pos, cols)
        return out

    def record_types(self) -> np.ndarray:
        return np.concatenate(self.rt) if self.rt else np.empty(0, dtype=object)

    def known_types(self) -> np.ndarray:
        return np.concatenate(self.known) if self.known else np.empty(0, dtype=bool)


def _text_bytes(col: pa.ChunkedArray) -> int:
    """Bytes of text a string column holds (its data buffers): a bound on any cell."""
    total = 0
    for chunk in col.chunks:
        buffers = chunk.buffers()
        total += buffers[2].size if len(buffers) > 2 and buffers[2] is not None else 0
    return total


_EXOTIC_SPACE = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")
_WIDE_SPACE = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
# A quoted field opens after a delimiter or a line start and closes before one (doubled
# quotes inside): when every quote is part of such a field, pyarrow and Python's csv agree.
_QUOTED = re.compile(r'"[^"]*(?:""[^"]*)*"')
_QUOTED_BYTES = re.compile(rb'"[^"]*(?:""[^"]*)*"')


def _quote_scan(text: str | bytes) -> tuple[bool, bool]:
    """(every quote is part of a field quoted as a whole, some quoted field holds a line
    break) — one pass over the quoted fields.

    ``text`` is ``bytes`` only for ASCII content (the text itself, byte for byte). A quote
    opens a quoted field that ends at the next lone quote; a quote with no quote after it
    opens no field.
    """
    quote, seps, quoted, nl, cr = ((b'"', b",\n", _QUOTED_BYTES, b"\n", b"\r")
                                   if isinstance(text, bytes)
                                   else ('"', ",\n", _QUOTED, "\n", "\r"))
    end = len(text)
    broken = False
    a = text.find(quote)  # type: ignore[arg-type]
    while a >= 0:
        m = quoted.match(text, a)  # type: ignore[arg-type]
        if m is None:
            return False, broken  # a quote that closes no field
        b = m.end()
        if (a and text[a - 1] not in seps) or (b < end and text[b] not in seps):
            return False, broken
        if not broken:
            cell = m.group()
            broken = nl in cell or cr in cell  # type: ignore[operator]
        a = text.find(quote, b)  # type: ignore[arg-type]
    return True, broken


def _exotic(text: str | bytes) -> bool:
    # White space that Python's str.strip removes but pyarrow's ASCII trim keeps.
    if isinstance(text, bytes):  # ASCII content: no wide space possible
        return any(c.encode("ascii") in text for c in _EXOTIC_SPACE)
    if any(c in text for c in _EXOTIC_SPACE):
        return True
    return not text.isascii() and _WIDE_SPACE.search(text) is not None


#: Bytes of CSV text parsed at once on the sliced path (about 95,000 exchange rows); each
#: slice is parsed by pyarrow on all cores and split by record type before the next one.
_SLICE_BYTES = 8 << 20

_CSV_PARSE_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError)


def _csv_options(names: list[str]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


def _csv_source(text: list[str | bytes], data: list[bytes]) -> _Source:
    """Parse the CSV with pyarrow, split by record type as it is read.

    ``text`` holds the decoded text — or the file's bytes when they are ASCII without a
    carriage return (then they are the text, byte for byte, and are never decoded);
    ``data`` holds the file's bytes when they are exactly the text in UTF-8 (else the text
    is encoded). Both lists are emptied here, and the bytes are released once pyarrow has
    read them, before the record types' columns are joined.

    When no quoted cell holds a line break, every line break ends a row: the rows are then
    parsed in slices of about :data:`_SLICE_BYTES` cut at line breaks, each slice on all
    cores (:func:`_split_slices`). Otherwise — or when a slice holds anything irregular —
    the file is streamed in 1 MB batches (:func:`_split_stream`), which is the reference
    of the sliced path; irregular rows there send the file to Python's csv.
    """
    body = text[0]
    if isinstance(body, bytes):
        cut = body.find(b"\n")
        first_line = (body[:cut] if cut >= 0 else body).decode("ascii")
    else:
        first_line = body[: body.find("\n")] if "\n" in body else body
    header_rows = list(csv.reader(io.StringIO(first_line)))
    plain, broken = _quote_scan(body)
    if not plain:
        return _csv_source_slow(body.decode("ascii") if isinstance(body, bytes) else body)
    names = header_rows[0] if header_rows else []
    _check_exchange_header(names if header_rows else None)
    exotic = _exotic(body)
    if isinstance(body, bytes):
        raw, slow_text = body, None
    else:
        raw = data[0] if data else body.encode("utf-8")
        slow_text = None if data else body
    text.clear()
    data.clear()
    del body
    splitter = None if broken else _split_slices(raw, names)
    if splitter is None:
        splitter = _split_stream(raw, names)
    if splitter is None:
        return _csv_source_slow(slow_text if slow_text is not None else raw.decode("utf-8"))
    del raw, slow_text  # the bytes (and any text) are not needed any more
    n = splitter.n
    return _Source(names, np.arange(2, n + 2), splitter.record_types(), splitter.parts(),
                   exotic_space=exotic, too_long=splitter.too_long,
                   known=splitter.known_types())


def _split_stream(raw: bytes, names: list[str]) -> _Splitter | None:
    """The rows after the header, streamed in 1 MB batches; ``None`` for an irregular file
    (a row of another length, a quote pyarrow cannot read)."""
    irregular: list[int] = []

    def invalid(row: Any) -> str:
        irregular.append(row.number)
        return "skip"

    splitter = _Splitter(names)
    try:
        reader = pacsv.open_csv(
            pa.BufferReader(raw),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1,
                                           block_size=1 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid),
            convert_options=_csv_options(names),
        )
        for batch in reader:
            if irregular:
                break
            splitter.add(pa.Table.from_batches([batch]))
    except _CSV_PARSE_ERRORS:
        irregular.append(-1)
    return None if irregular else splitter


def _split_slices(raw: bytes, names: list[str]) -> _Splitter | None:
    """The rows after the header parsed slice by slice (no quoted cell holds a line break,
    so each line is one row and a slice may end at any line break); ``None`` when a slice
    holds anything irregular (then the streaming reader decides, as for any file)."""
    start = raw.find(b"\n") + 1
    if start <= 0:
        return None  # a header without a line break: nothing to slice
    irregular: list[int] = []

    def invalid(row: Any) -> str:
        irregular.append(1)
        return "skip"

    splitter = _Splitter(names)
    read_options = pacsv.ReadOptions(column_names=names, use_threads=True)
    parse_options = pacsv.ParseOptions(newlines_in_values=False, invalid_row_handler=invalid)
    convert_options = _csv_options(names)
    view = memoryview(raw)
    try:
        while start < len(raw):
            end = raw.find(b"\n", start + _SLICE_BYTES)
            end = len(raw) if end < 0 else end + 1
            tb = pacsv.read_csv(pa.py_buffer(view[start:end]), read_options=read_options,
                                parse_options=parse_options, convert_options=convert_options)
            if irregular:
                return None
            splitter.add(tb)
            del tb
            start = end
    except _CSV_PARSE_ERRORS:
        return None
    return splitter


def _check_exchange_header(fieldnames: list[str] | None) -> None:
    # The header rules of the reference (mst.io.exchange._csv_rows), in its order.
    if fieldnames is None or "record_type" not in fieldnames:
        raise ValidationError(
            "row 1", None, "the header must contain a record_type column (is this an "
            "exchange file written by mst export?)"
        )
    check_header(list(fieldnames), "row 1")
    unknown = [f for f in fieldnames if f not in _KNOWN_COLUMNS]
    if unknown:
        raise ValidationError(
            "row 1", unknown[0], "is not a column of the exchange format (docs/registry.md)"
        )


def _csv_source_slow(text: str) -> _Source:
    """Irregular files (short or long rows, stray quotes): Python's csv, as the reference."""
    rows: list[dict[str, Any]] = []
    pending: ValidationError | None = None
    try:
        for _, row in _csv_rows(io.StringIO(text, newline="")):
            rows.append(row)
    except ValidationError as exc:
        if not rows:
            raise
        pending = exc
    header = list(rows[0]) if rows else []
    return _rows_source(header, rows, np.arange(2, len(rows) + 2), pending, _exotic(text))


def _numeric_columns() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Per record type: file columns of float fields, and of int fields (course numbers too).

    A workbook number in such a column reads as its text would: an ``int`` in either (the
    reference's ``int()`` and pydantic give the same value), a finite ``float`` in a float
    column. Any other non-text cell is judged by the reference row by row.
    """
    out = {}
    for kind, fields_ in RECORD_FIELDS.items():
        renames = {v: k for k, v in _TO_MODEL.get(kind, {}).items()}
        floats, ints = set(), set()
        for name, info in _MODELS[kind].model_fields.items():
            col = renames.get(name, name)
            base = _spec(info).base
            if col in fields_ and base is float:
                floats.add(col)
            elif col in fields_ and base is int:
                ints.add(col)
        if "course_number" in fields_:
            ints.add("course_number")
        out[kind] = (frozenset(floats), frozenset(ints))
    return out


def _as_text(v: Any, column: str, kind: Any,
             numeric: dict[str, tuple[frozenset[str], frozenset[str]]]) -> str | None:
    """A workbook number as text when that cannot change the answer, else ``None``."""
    floats, ints = numeric.get(kind, (frozenset(), frozenset()))
    if type(v) is int and (column in floats or column in ints):
        return str(v)
    if type(v) is float and column in floats and np.isfinite(v):
        return repr(v)
    return None


def _rows_source(header: list[str], rows: list[dict[str, Any]], rowno: np.ndarray,
                 pending: ValidationError | None, exotic: bool, fill: Any = None) -> _Source:
    n = len(rows)
    odd = np.zeros(n, dtype=bool)
    arrays = []
    numeric = _numeric_columns()
    for h in header:
        values = []
        for k, r in enumerate(rows):
            v = r.get(h, fill)
            if v is not None and not isinstance(v, str):
                text = _as_text(v, h, r.get("record_type"), numeric)
                if text is None:
                    odd[k] = True
                    text = str(v)
                v = text
            values.append(v)
        arrays.append(pa.array(values, type=pa.string()))
    splitter = _Splitter(header)
    splitter.add(pa.Table.from_arrays(arrays, names=header) if header else
                 pa.table({"record_type": pa.nulls(n, pa.string())}))
    splitter.too_long = {}  # the reference's own reader checked the cells (CSV) or none (XLSX)
    return _Source(header, rowno, splitter.record_types(), splitter.parts(), odd=odd,
                   raw_rows=rows, exotic_space=exotic, pending=pending)


def _xlsx_source(path: Path) -> _Source:
    pairs = list(_xlsx_rows(path))
    rows = [r for _, r in pairs]
    rowno = np.array([i for i, _ in pairs], dtype=np.int64)
    header = list(dict.fromkeys(k for r in rows for k in r if k != "_sheet"))
    exotic = any(isinstance(v, str) and _exotic(v) for r in rows for v in r.values())
    # an absent cell of an XLSX row reads as "" (the reference: row.get(f, ""))
    return _rows_source(header, rows, rowno, None, exotic, fill="")


def _np_bool(arr: Any) -> np.ndarray:
    if isinstance(arr, pa.Scalar):
        raise TypeError("a column was expected")
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


# --------------------------------------------------------------------------- cleaning
_MISSING = pa.array(sorted(MISSING_TOKENS), type=pa.string())


def _strip(arr: pa.Array, exotic: bool) -> pa.Array:
    if not exotic:
        return pc.ascii_trim_whitespace(arr)
    return pa.array([None if s is None else s.strip() for s in arr.to_pylist()], pa.string())


@dataclass
class _Codes:
    """A text column as dictionary codes, for rules that judge each distinct cell once.

    ``codes[i]`` indexes ``dictionary`` (the column's distinct cells, none missing), ``-1``
    where cell ``i`` is missing; so a table of per-cell results with one extra last entry
    for a missing cell is spread to the rows as ``table[codes]``.
    """

    array: pa.Array  # the column itself (the codes are used only with this very object)
    codes: np.ndarray  # the narrowest signed integers that hold them
    dictionary: pa.Array

    def of(self, arr: Any) -> _Codes | None:
        return self if arr is self.array else None

    @classmethod
    def encode(cls, arr: pa.Array | pa.ChunkedArray) -> _Codes:
        """The codes of a column not coded yet."""
        a = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        enc = a.dictionary_encode()
        codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        return cls(a, codes, enc.dictionary)


def _clean_column(arr: pa.Array, exotic: bool) -> tuple[pa.Array, _Codes]:
    """Cells stripped, missing tokens as null; ``arr`` itself when nothing changes (the
    raw and the cleaned column then share their memory). Each distinct cell is cleaned
    once; the cleaned column comes with its dictionary codes."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    enc = arr.dictionary_encode()
    raw_codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
    dic = enc.dictionary
    s = _strip(dic, exotic)
    stripped = not pc.all(pc.equal(pc.binary_length(s), pc.binary_length(dic))).as_py() \
        if len(s) else False
    missing = pc.is_in(s, value_set=_MISSING)
    gone = bool(pc.any(missing).as_py())
    if not stripped and not gone:
        return arr, _Codes(arr, _narrow(raw_codes, len(dic)), dic)
    if gone:
        s = pc.if_else(missing, pa.scalar(None, pa.string()), s)
    out = s.take(enc.indices)  # the cleaned cells, row by row
    # cleaned cells may coincide (" a" and "a"): their distinct values, codes remapped
    enc2 = s.dictionary_encode()
    remap = np.append(pc.fill_null(enc2.indices, -1).to_numpy(zero_copy_only=False), -1)
    return out, _Codes(out, _narrow(remap[raw_codes], len(enc2.dictionary)), enc2.dictionary)


def _narrow(codes: np.ndarray, distinct: int) -> np.ndarray:
    """Codes in -1 .. distinct - 1 as the narrowest signed integers that hold them."""
    for dtype in (np.int8, np.int16):
        if distinct <= np.iinfo(dtype).max:
            return codes.astype(dtype)
    return codes.astype(np.int32)


# --------------------------------------------------------------------------- field rules
@dataclass
class _Spec:
    base: Any
    required: bool
    bounds: dict[str, Any] = field(default_factory=dict)


_BOUND_ATTRS = ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern")


def _spec(info: FieldInfo) -> _Spec:
    meta = list(info.metadata)

    def unwrap(t: Any) -> Any:
        origin = get_origin(t)
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(t) if a is not type(None)]
            return unwrap(args[0]) if len(args) == 1 else object
        if origin is Annotated:
            base, *extra = get_args(t)
            for e in extra:
                meta.extend(e.metadata if isinstance(e, FieldInfo) else [e])
            return unwrap(base)
        return t

    base = unwrap(info.annotation)
    bounds: dict[str, Any] = {}
    for m in meta:
        found = {a: getattr(m, a) for a in _BOUND_ATTRS if getattr(m, a, None) is not None}
        if not found:  # a declaration this module does not know: never prove such a cell
            base = object
        bounds.update(found)
    return _Spec(base, info.is_required(), bounds)


_INT_RE = r"^(0|-?[1-9][0-9]{0,14})$"
_FLOAT_RE = r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?$"
_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATETIME_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"


@dataclass
class _Checked:
    """Per-row outcome of the field rules of one model."""

    canon: np.ndarray  # every cell in a form proven here (else: the reference decides)
    valid: np.ndarray  # canon and every declared bound holds
    values: dict[str, Any]  # converted columns (numpy / pandas), by model field


def _bound_masks(values: pa.ChunkedArray | pa.Array, bounds: dict[str, Any]) -> Any:
    ok = pc.is_valid(values)
    ops = {"ge": pc.greater_equal, "gt": pc.greater, "le": pc.less_equal, "lt": pc.less}
    for name, op in ops.items():
        if name in bounds:
            ok = pc.and_(ok, op(values, bounds[name]))
    return ok


def _check_fields(model: type[BaseModel], cols: dict[str, pa.ChunkedArray], n: int,
                  today: dt.date, coded: dict[str, _Codes] | None = None) -> _Checked:
    canon = np.ones(n, dtype=bool)
    valid = np.ones(n, dtype=bool)
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in cols:
            continue  # not a file column (Course.administrations)
        spec = _spec(info)
        codes = coded[name].of(cols[name]) if coded and name in coded else None
        if codes is not None:  # each distinct cell judged once
            c, v, values[name] = _check_coded(spec, codes, today)
        elif spec.base is str or spec.base is float:
            c, v, values[name] = _check_one(spec, cols[name], today)
        else:  # ids, codes, dates, integers: few distinct cells, each judged once
            c, v, values[name] = _check_distinct(spec, cols[name], today)
        canon &= c
        valid &= v
    return _Checked(canon, valid & canon, values)


def _check_coded(spec: _Spec, codes: _Codes, today: dt.date
                 ) -> tuple[np.ndarray, np.ndarray, Any]:
    """:func:`_check_one` judged once per distinct cell of a coded column and spread back
    to the rows (same masks and values as judging every row)."""
    dic = codes.dictionary
    if len(dic) == 0:  # every cell missing
        return _check_one(spec, codes.array, today)
    # one extra last entry: the result for a missing cell (code -1)
    c_d, v_d, val_d = _check_one(spec, pa.concat_arrays([dic, pa.nulls(1, dic.type)]), today)
    c = c_d[codes.codes]
    v = v_d[codes.codes]
    if isinstance(val_d, tuple):  # (values, the row mask itself, as _check_one keeps it)
        return c, v, (val_d[0][codes.codes], c)
    return c, v, codes.array


def _check_distinct(spec: _Spec, a: Any, today: dt.date) -> tuple[np.ndarray, np.ndarray, Any]:
    """:func:`_check_one` judged once per distinct cell and spread back to the rows (same
    masks and values as judging every row)."""
    return _check_coded(spec, _Codes.encode(a), today)


def _check_one(spec: _Spec, a: Any, today: dt.date) -> tuple[np.ndarray, np.ndarray, Any]:
    """One column against its field declaration: (canonical, valid, converted values)."""
    present = _np_bool(pc.is_valid(a))
    c = present.copy()
    v = present.copy()
    b = spec.bounds
    value: Any
    if spec.base is str:
        if "min_length" in b or "max_length" in b:
            length = pc.utf8_length(a)
            if "min_length" in b:
                v &= _np_bool(pc.greater_equal(length, b["min_length"]))
            if "max_length" in b:
                v &= _np_bool(pc.less_equal(length, b["max_length"]))
        if "pattern" in b:
            v &= _np_bool(pc.match_substring_regex(a, b["pattern"]))
        value = a
    elif isinstance(spec.base, type) and issubclass(spec.base, Enum):
        allowed = pa.array([str(m.value) for m in spec.base], pa.string())
        v &= _np_bool(pc.is_in(a, value_set=allowed))
        value = a
    elif spec.base in (int, float):
        c &= _np_bool(pc.match_substring_regex(a, _INT_RE if spec.base is int else _FLOAT_RE))
        safe = pc.if_else(pa.array(c), a, pa.scalar("0"))
        num = pc.cast(safe, pa.int64() if spec.base is int else pa.float64())
        if spec.base is float:
            c &= _np_bool(pc.is_finite(num))
        v &= c & _np_bool(_bound_masks(num, b))
        arr = num.to_numpy().astype("float64" if spec.base is float else "int64")
        value = (arr, c)
    elif spec.base in (dt.date, dt.datetime):
        is_date = spec.base is dt.date
        c &= _np_bool(pc.match_substring_regex(a, _DATE_RE if is_date else _DATETIME_RE))
        fmt = "%Y-%m-%d" if is_date else "%Y-%m-%dT%H:%M:%S"
        safe = pc.if_else(pa.array(c), a, pa.scalar("2000-01-01T00:00:00"[: 10 if is_date
                                                                             else 19]))
        stamp = pc.strptime(safe, format=fmt, unit="s", error_is_null=True)
        # pyarrow rolls 2020-02-30 over to 2020-03-01: a date is proven only if it prints
        # back as written.
        c &= _np_bool(pc.equal(pc.strftime(stamp, format=fmt), safe))
        sec = stamp.to_numpy().astype("datetime64[s]")
        day = sec.astype("datetime64[D]")
        latest = np.datetime64(today + dt.timedelta(days=FUTURE_TOLERANCE_DAYS), "D")
        in_range = (day >= np.datetime64(EARLIEST_DATE, "D")) & (day <= latest)
        v &= c & in_range
        # nanoseconds only within the plausible range (year 0 would overflow)
        when = np.where(in_range, sec, np.datetime64("NaT")).astype("datetime64[ns]")
        value = (when, c)
    else:
        c &= False
        v &= False
        value = a
    if not spec.required:
        c |= ~present
        v |= ~present
    else:
        c |= ~present  # a missing required cell is definitely invalid (canon, not valid)
    return c, v, value


# --------------------------------------------------------------------------- per record type
@dataclass
class _Kind:
    """The rows of one record type: stream positions, cleaned cells and checks."""

    name: str
    pos: np.ndarray
    cells: dict[str, pa.ChunkedArray]  # by model field
    checked: _Checked | None = None
    rule_ok: np.ndarray | None = None  # model validators' twins
    struct_ok: np.ndarray | None = None  # uniqueness and references to earlier rows
    coded: dict[str, _Codes] = field(default_factory=dict)  # dictionary codes of cells
    keys: np.ndarray | None = None  # course numbers as the reference reads them


_MODELS: dict[str, type[BaseModel]] = {
    "center": Center,
    "patient": Patient,
    "donor": Donor,
    "course": Course,
    "administration": DrugAdministration,
    "infusion": Infusion,
    "lab": LabResult,
    "event": ClinicalEvent,
    "response": ResponseAssessment,
    "antibody": AntibodyResult,
}


def _num(checked: _Checked, name: str) -> tuple[np.ndarray, np.ndarray]:
    return checked.values[name]


def _codes(arr: pa.Array | pa.ChunkedArray, coded: _Codes | None = None
           ) -> tuple[np.ndarray, list[Any]]:
    """Dictionary codes of a text column (-1 where missing) and its distinct cells: no
    Python string per row (``coded``: the column's codes when they are known)."""
    c = coded if coded is not None and coded.of(arr) is not None else _Codes.encode(arr)
    return c.codes, c.dictionary.to_pylist()


def _object_column(arr: pa.Array | pa.ChunkedArray, coded: _Codes | None = None
                   ) -> np.ndarray:
    """A text column as an object array of ``str`` / ``None``, one object per distinct
    cell (shared by the rows holding it)."""
    codes, uniques = _codes(arr, coded)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = uniques
    return table[codes]  # code -1 (missing) takes the last entry, None


def _text(checked: _Checked, name: str) -> np.ndarray:
    return np.asarray(checked.values[name].to_numpy(zero_copy_only=False), dtype=object)


def _patient_rules(k: _Kind) -> np.ndarray:
    ch = k.checked
    assert ch is not None
    birth, bok = _num(ch, "birth_date")
    diag, _ = _num(ch, "diagnosis_date")
    lfu, lok = _num(ch, "last_followup_date")
    age, aok = _num(ch, "age_at_diagnosis")
    has_birth = bok & _np_bool(pc.is_valid(k.cells["birth_date"]))
    has_age = aok & _np_bool(pc.is_valid(k.cells["age_at_diagnosis"]))
    has_lfu = lok & _np_bool(pc.is_valid(k.cells["last_followup_date"]))
    b = pd.DatetimeIndex(birth)
    d = pd.DatetimeIndex(diag)
    derived = (d.year - b.year - ((d.month < b.month) | ((d.month == b.month) & (d.day < b.day)))
               ).to_numpy()
    ok = has_birth | has_age
    ok &= ~(has_birth & (birth > diag))
    ok &= ~(has_birth & (derived > 120))
    ok &= ~(has_birth & has_age & (age != derived))
    eln = _np_bool(pc.is_valid(k.cells["eln_risk"]))
    dx = _text(ch, "diagnosis")
    ok &= ~(eln & ~np.isin(dx, ["AML", "MDS"]))
    ok &= ~(has_lfu & (lfu < diag))
    derived = np.nan_to_num(np.asarray(derived, dtype="float64")).astype("int64")
    fixed = np.where(has_birth, derived, age)
    ch.values["age_at_diagnosis"] = (fixed, aok | has_birth)
    return ok


def _lab_rules(k: _Kind) -> np.ndarray:
    ch = k.checked
    assert ch is not None
    value, _ = _num(ch, "value")
    analyte = ch.values["analyte"]
    unit = ch.values["unit"]
    table = analyte_table()
    an_codes, an_uniques = _codes(analyte, k.coded.get("analyte"))
    un_codes, un_uniques = _codes(unit, k.coded.get("unit"))
    pair = (an_codes.astype(np.int64) + 1) * (len(un_uniques) + 1) + un_codes + 1
    codes, pairs = pd.factorize(pair)
    # per (analyte, unit) pair: known, factor to the canonical unit, range, canonical unit
    m = len(pairs)
    known = np.zeros(m, dtype=bool)
    factor = np.ones(m)
    low = np.zeros(m)
    high = np.zeros(m)
    canonical = np.empty(m, dtype=object)
    for j, code in enumerate(pairs):
        ia, iu = divmod(int(code), len(un_uniques) + 1)
        an = an_uniques[ia - 1] if ia > 0 else None
        un = un_uniques[iu - 1] if iu > 0 else None
        a = table.get(an) if isinstance(an, str) else None
        if a is None or un not in a.units:
            continue
        known[j] = True
        factor[j] = a.units[un]
        low[j] = a.minimum
        high[j] = a.maximum
        canonical[j] = a.unit
    hit = known[codes]
    conv = value * factor[codes]
    ok = hit & (low[codes] <= conv) & (conv <= high[codes])
    out = np.where(hit, conv, value)
    ch.values["value"] = (out, ch.values["value"][1])
    ch.values["unit"] = canonical[codes]
    return ok


def _event_rules(k: _Kind) -> np.ndarray:
    ch = k.checked
    assert ch is not None
    kind = _text(ch, "kind")
    grade, _ = _num(ch, "grade")
    has_grade = _np_bool(pc.is_valid(k.cells["grade"]))
    has_cause = _np_bool(pc.is_valid(k.cells["cause"]))
    ok = np.ones(len(kind), dtype=bool)
    graded = np.zeros(len(kind), dtype=bool)
    for ev, (lo, hi) in GRADED_EVENTS.items():
        rows = kind == ev.value
        graded |= rows
        ok &= ~(rows & (~has_grade | (grade < lo) | (grade > hi)))
    ok &= ~(~graded & has_grade)
    death = kind == "death"
    ok &= ~(death & ~has_cause) & ~(~death & has_cause)
    detail = _text(ch, "detail")
    for j in np.flatnonzero(np.isin(kind, ["cytogenetics", "bone_disease"])):
        try:
            check_myeloma_event_detail(kind[j], detail[j])
        except ValidationError:
            ok[j] = False
    return ok


_RULES: dict[str, Callable[[_Kind], np.ndarray]] = {
    "patient": _patient_rules,
    "lab": _lab_rules,
    "event": _event_rules,
}


def _lookup(cells: pa.Array | pa.ChunkedArray, values: pa.Array,
            nulls_match: bool = False, coded: _Codes | None = None) -> np.ndarray:
    """Index of each cell in ``values`` (exact match), -1 where absent; a missing cell
    matches a missing value only with ``nulls_match`` (``coded``: the cells' codes when
    known; each distinct cell is then looked up once)."""
    if coded is not None and coded.of(cells) is not None:
        dic = coded.dictionary
        # one extra last entry: the answer for a missing cell (code -1)
        per_cell = _lookup(pa.concat_arrays([dic, pa.nulls(1, dic.type)]), values,
                           nulls_match)
        return per_cell[coded.codes]
    idx = pc.index_in(cells, value_set=values, skip_nulls=not nulls_match)
    return pc.fill_null(idx, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _int_keys(cells: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Course numbers as the reference reads them (Python ``int``): keys and a parsed mask."""
    canon = _np_bool(pc.match_substring_regex(cells, _INT_RE))
    safe = pc.if_else(pa.array(canon), cells, pa.scalar("0"))
    keys = pc.cast(safe, pa.int64()).to_numpy().copy()
    ok = canon.copy()
    raw = None
    for j in np.flatnonzero(~canon):
        raw = raw if raw is not None else cells.to_pylist()
        try:
            keys[j] = int(raw[j])  # the reference's own conversion
            ok[j] = True
        except (TypeError, ValueError, OverflowError):
            pass
    return keys, ok


# --------------------------------------------------------------------------- replay
class ReplayBuilder(RowBuilder):
    """A :class:`RowBuilder` that sees the rows before a given one through prebuilt maps."""

    def __init__(self, patient_first: dict[str, int], donor_first: dict[str, tuple[int, int, str]],
                 course_first: dict[Any, list[tuple[int, int]]], pos: int,
                 rowno: np.ndarray) -> None:
        super().__init__()
        self._pf = patient_first
        self._df = donor_first
        self._cf = course_first
        self._pos = pos
        self._rowno = rowno

    def _patient_known(self, pid: Any, i: int) -> bool:
        try:
            return self._pf.get(pid, self._pos) < self._pos
        except TypeError:  # an unhashable cell cannot name a patient
            return False

    def _bucket(self, pid: Any, i: int) -> dict[str, Any]:
        bucket = _new_bucket(None, 0)
        for key, pos in self._cf.get(pid, ()):
            if pos < self._pos:
                bucket["courses"][key] = {"data": None, "row": 0, "administrations": []}
        return bucket

    def _donor_first(self, did: str, i: int) -> tuple[int, str] | None:
        first = self._df.get(did)
        if first is None or first[0] >= self._pos:
            return None
        return int(self._rowno[first[0]]), first[2]

    def _note_patient(self, patient: Patient, i: int) -> None:
        pass

    def _note_donor(self, did: str, i: int, pid: str) -> None:
        pass


# --------------------------------------------------------------------------- the reader
_FRAME_OF = {
    "center": "centers", "patient": "patients", "donor": "donors", "course": "courses",
    "administration": "administrations", "infusion": "infusions", "lab": "labs",
    "event": "events", "response": "responses", "antibody": "antibodies",
}


def read_frames(path: str | Path, encoding: str | None = None,
                progress: Progress | None = None) -> CohortFrames:
    """Read and validate an exchange file (CSV or XLSX) column by column.

    Parameters
    ----------
    path : str or pathlib.Path
        An exchange file (see :mod:`mst.io.exchange`).
    encoding : str, optional
        Text encoding of a CSV file without a byte-order mark (UTF-8 by default).
    progress : callable, optional
        Called as ``progress(rows_done, rows_total)`` as record types are validated.

    Returns
    -------
    CohortFrames
        Validated frames (:data:`mst.io.frames.SCHEMA`), ``row`` = file row.

    Raises
    ------
    mst.errors.ValidationError, mst.errors.ConsistencyError
        The message of the row-by-row reader for the first broken rule.
    """
    path = Path(path)
    if not path.exists():
        raise ValidationError("file", str(path), "no such file")
    if path.is_dir():
        raise ValidationError("file", str(path), "is a folder, not a file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = path.read_bytes()
        if encoding is None and data.isascii() and b"\r" not in data:
            # The text is the bytes themselves: decode_bytes' checks (empty, binary
            # signatures, NUL bytes, control characters) read only the first 64 KiB, so
            # they are run on those (the same answer) and the file is never decoded.
            decode_bytes(data[: 1 << 16], source=str(path))
            holder: list[str | bytes] = [data]
            raw: list[bytes] = []
        else:
            text = decode_bytes(data, source=str(path), encoding=encoding)
            same = (encoding is None and b"\r" not in data
                    and not any(data.startswith(bom) for bom, _ in _BOMS))
            holder = [text]
            raw = [data] if same else []
            del text
        del data
        src = _csv_source(holder, raw)
        del holder, raw
    elif suffix == ".xlsx":
        src = _xlsx_source(path)
    else:
        raise ValidationError("path", str(path), "must end in .csv or .xlsx")
    return _validate(src, progress)


def _validate(src: _Source, progress: Progress | None) -> CohortFrames:
    today = dt.date.today()
    n = src.n
    rowno = src.rowno
    total = max(n, 1)
    if progress is not None:
        progress(0, total)
    rt = src.rt
    flagged = np.zeros(n, dtype=bool)  # rows the reference must judge
    definite = np.zeros(n, dtype=bool)  # rows a twin says the reference rejects
    flagged |= ~(src.known if src.known is not None else np.isin(rt, list(RECORD_FIELDS)))
    definite |= flagged
    too_long = np.fromiter(src.too_long, dtype=np.int64)
    flagged[too_long] = True
    definite[too_long] = True
    if src.odd is not None:
        flagged |= src.odd
    kinds: dict[str, _Kind] = {}
    done = 0
    for kind, fields_ in RECORD_FIELDS.items():
        pos, raw_cells = src.parts[kind]
        renames = _TO_MODEL.get(kind, {})
        cells: dict[str, pa.Array] = {}
        coded: dict[str, _Codes] = {}
        for f in fields_:
            name = renames.get(f, f)
            if f in raw_cells:
                cells[name], coded[name] = _clean_column(raw_cells[f], src.exotic_space)
            else:
                cells[name] = pa.nulls(len(pos), pa.string())
        k = _Kind(kind, pos, cells, coded=coded)
        model = _MODELS[kind]
        k.checked = _check_fields(model, cells, len(pos), today, coded)
        rule = _RULES.get(kind)
        k.rule_ok = rule(k) if rule else np.ones(len(pos), dtype=bool)
        # codes are read again only for the frame's text columns
        text_columns = SCHEMA[_FRAME_OF[kind]]
        k.coded = {c: v for c, v in coded.items() if text_columns.get(c) == "object"}
        del coded
        kinds[kind] = k
        done += len(pos)
        if progress is not None:
            progress(done, total)
    # --- uniqueness and references to earlier rows (stream positions) ---
    pk = kinds["patient"]
    p_ids = _text(pk.checked, "id")  # type: ignore[arg-type]
    p_series = pd.Series(pk.pos, index=p_ids)
    p_dup = pd.Series(p_ids).duplicated().to_numpy() & pd.notna(p_ids)
    patient_first = {pid: int(p) for pid, p in p_series[~p_series.index.duplicated()].items()
                     if pid is not None}
    known_ids = pa.array(list(patient_first), pa.string())
    first_pos = np.fromiter(patient_first.values(), dtype=np.int64, count=len(patient_first))
    patient_of: dict[str, np.ndarray] = {}  # per record type: index in known_ids, or -1
    for kind, k in kinds.items():
        ok = np.ones(len(k.pos), dtype=bool)
        if kind == "patient":
            ok &= ~p_dup
        elif kind != "center":
            j = _lookup(k.cells["patient_id"], known_ids, coded=k.coded.get("patient_id"))
            ok &= (j >= 0) & (first_pos[np.maximum(j, 0)] < k.pos) if len(first_pos) else False
            patient_of[kind] = j
        k.struct_ok = ok
    dk = kinds["donor"]
    d_ids = _text(dk.checked, "id")  # type: ignore[arg-type]
    d_pids = np.asarray(dk.cells["patient_id"].to_numpy(zero_copy_only=False), dtype=object)
    d_ser = pd.Series(d_ids)
    dk.struct_ok &= ~(d_ser.duplicated().to_numpy() & d_ser.notna().to_numpy())
    ck = kinds["course"]
    c_keys, c_ok = _int_keys(ck.cells["number"])
    ck.keys = c_keys
    c_pids = np.asarray(ck.cells["patient_id"].to_numpy(zero_copy_only=False), dtype=object)
    # patient ids of courses as codes (a missing id is one value too, as a dict key is)
    course_ids = pc.unique(ck.cells["patient_id"])
    c_code = _lookup(ck.cells["patient_id"], course_ids, nulls_match=True)
    c_frame = pd.DataFrame({"pid": c_code, "key": c_keys})
    c_dup = c_frame.duplicated().to_numpy() & c_ok
    ck.struct_ok &= c_ok & ~c_dup
    ak = kinds["administration"]
    a_keys, a_ok = _int_keys(ak.cells["course_number"])
    ak.keys = a_keys
    # the first course (patient, number) of each administration, -1 for none
    firsts = c_frame.assign(pos=ck.pos)[c_ok].drop_duplicates(["pid", "key"])
    j = pd.MultiIndex.from_arrays([firsts["pid"], firsts["key"]]).get_indexer(
        pd.MultiIndex.from_arrays([_lookup(ak.cells["patient_id"], course_ids,
                                           nulls_match=True), a_keys]))
    a_first = np.where(a_ok & (j >= 0), firsts["pos"].to_numpy()[np.maximum(j, 0)], -1) \
        if len(firsts) else np.full(len(a_keys), -1, dtype=np.int64)
    ak.struct_ok &= a_ok & (a_first >= 0) & (a_first < ak.pos)
    # --- the flags of stage 1 (every row but a course's own fields) ---
    for kind, k in kinds.items():
        ch = k.checked
        assert ch is not None and k.rule_ok is not None and k.struct_ok is not None
        if kind == "course":
            bad = ~k.struct_ok
            sure = bad
        else:
            bad = ~(ch.valid & k.rule_ok & k.struct_ok)
            sure = ~k.struct_ok | (ch.canon & ~(ch.valid & k.rule_ok))
        flagged[k.pos] |= bad
        definite[k.pos] |= sure
    # --- build the frames from proven cells; replay flagged rows in the reference's order ---
    if not flagged.any() and ck.checked is not None and ck.checked.valid.all():
        src.parts = {}  # no row is replayed: the raw cells are not read again
    frames = {}
    for kind, k in kinds.items():
        frames[_FRAME_OF[kind]] = _frame_of(k, rowno)
        k.cells = {}  # cleaned cells and converted values are in the frame now
        k.coded = {}
        k.checked.values = {}  # type: ignore[union-attr]
    harvested: dict[int, Any] = {}
    replay_maps = None  # the first donors and courses, built for the first replayed row
    for p in np.flatnonzero(flagged):
        p = int(p)
        raw = src.raw(p)
        if replay_maps is None:
            replay_maps = _replay_maps(d_ids, d_pids, dk.pos, c_pids, c_keys, c_ok, ck.pos)
        builder = ReplayBuilder(patient_first, *replay_maps, p, rowno)
        if p in src.too_long:
            column, cell = src.too_long[p]
            check_cells(int(rowno[p]), {column: cell})
        obj = builder.add(int(rowno[p]), raw)
        if definite[p]:
            raise ColumnarDisagreementError(
                f"the columnar checks flagged {row_where(int(rowno[p]), raw)}, which the "
                "row-by-row reader accepts"
            )
        harvested[p] = obj
    if src.pending is not None:
        raise src.pending
    for kind, k in kinds.items():
        if kind != "course":
            _patch(frames[_FRAME_OF[kind]], k, harvested)
    # --- stage 2: courses' own fields and each record's consistency, in patient order ---
    course_err: dict[str, MstError] = {}
    ch = ck.checked
    assert ch is not None
    for j in np.flatnonzero(~ch.valid):
        p = int(ck.pos[j])
        data = _clean(src.raw(p), "course")
        try:
            obj = parse_course(data, (), int(rowno[p]))
        except ValidationError as exc:
            course_err.setdefault(c_pids[j], exc)
            continue
        if ch.canon[j]:
            raise ColumnarDisagreementError(
                f"the columnar checks flagged row {int(rowno[p])}, a course the row-by-row "
                "reader accepts"
            )
        harvested[p] = obj
    _patch(frames["courses"], ck, harvested)
    cf = CohortFrames(**frames)
    bad_pids = _inconsistent(cf, _patient_rows(cf, list(patient_first), patient_of, kinds,
                                               harvested))
    for pid, prow in zip(cf.patients["id"], cf.patients["row"], strict=True):
        if pid in course_err:
            raise course_err[pid]
        if pid in bad_pids:
            rec = record_of(cf, pid)
            check_record(rec, int(prow))
            raise ColumnarDisagreementError(
                f"the columnar checks flagged patient {pid}, whom "
                "PatientRecord.check_consistency accepts"
            )
    # --- stage 3: the cohort ---
    centers = [_construct(Center, r) for r in _records(cf.centers, "centers")]
    center_ids = set(cf.centers["id"])
    unknown_center = ~cf.patients["center_id"].isin(center_ids)
    if len(center_ids) != len(cf.centers) or unknown_center.any():
        pid = cf.patients["id"][unknown_center].iloc[0] if unknown_center.any() else None
        recs = (record_of(cf, pid),) if pid is not None else ()
        Cohort.model_construct(centers=tuple(centers), records=recs).check_consistency()
        raise ColumnarDisagreementError("the columnar checks flagged the centers, which the "
                                   "row-by-row reader accepts")
    if progress is not None:
        progress(total, total)
    return cf


def _replay_maps(d_ids: np.ndarray, d_pids: np.ndarray, d_pos: np.ndarray,
                 c_pids: np.ndarray, c_keys: np.ndarray, c_ok: np.ndarray, c_pos: np.ndarray
                 ) -> tuple[dict[str, tuple[int, int, str]], dict[Any, list[tuple[int, int]]]]:
    """What :class:`ReplayBuilder` reads of the rows before a replayed one: the first row of
    each donor id (position, 0, patient id), and per patient the first row of each of its
    course numbers."""
    donor_first: dict[str, tuple[int, int, str]] = {}
    for did, p, pid in zip(d_ids, d_pos, d_pids, strict=True):
        if did is not None and did not in donor_first:
            donor_first[did] = (int(p), 0, pid)
    course_first: dict[tuple[str, int], int] = {}
    for pid, key, p, good in zip(c_pids, c_keys, c_pos, c_ok, strict=True):
        if good and (pid, int(key)) not in course_first:
            course_first[(pid, int(key))] = int(p)
    course_by_pid: dict[Any, list[tuple[int, int]]] = {}
    for (pid, key), p in course_first.items():
        course_by_pid.setdefault(pid, []).append((key, p))
    return donor_first, course_by_pid


def _patient_rows(cf: CohortFrames, known: list[Any], patient_of: dict[str, np.ndarray],
                  kinds: dict[str, _Kind], harvested: dict[int, Any]
                  ) -> dict[str, np.ndarray]:
    """Per frame, the row of each record's patient in ``cf.patients`` — the patient
    lookups of the reference checks, wherever they still hold: the frame's patients are
    the patients looked up, in that order, and no record of the frame has values the
    reference parsed (those could spell a patient id otherwise)."""
    if cf.patients["id"].tolist() != known:
        return {}
    patched = np.fromiter(harvested, dtype=np.int64, count=len(harvested))
    return {_FRAME_OF[kind]: rows for kind, rows in patient_of.items()
            if not (len(patched) and np.isin(kinds[kind].pos, patched).any())}


# --------------------------------------------------------------------------- frames
def _frame_of(k: _Kind, rowno: np.ndarray) -> pd.DataFrame:
    name = _FRAME_OF[k.name]
    schema = SCHEMA[name]
    ch = k.checked
    assert ch is not None
    n = len(k.pos)
    out: dict[str, pd.Series] = {}
    for col, dtype in schema.items():
        v = ch.values.get(col)
        if v is None and col in k.cells:  # a reference (patient_id) not checked as a field
            v = k.cells[col]
        if v is None:
            out[col] = pd.Series([None] * n, dtype=object) if dtype == "object" else \
                pd.Series(pd.array([None] * n, dtype=dtype))
        elif isinstance(v, tuple):
            arr, ok = v
            present = ok & _np_bool(pc.is_valid(k.cells[col]))
            if dtype.startswith("datetime64"):
                s = pd.Series(arr).where(present)
                out[col] = s.astype("datetime64[ns]")
            elif dtype == "Int64":
                out[col] = pd.Series(pd.arrays.IntegerArray(arr.astype("int64"), ~present))
            else:
                out[col] = pd.Series(np.where(present, arr, np.nan), dtype="float64")
        elif isinstance(v, np.ndarray):
            out[col] = pd.Series(v, dtype=object)
        else:
            out[col] = pd.Series(_object_column(v, k.coded.get(col)), dtype=object)
    out["row"] = pd.Series(pd.array(rowno[k.pos], dtype="Int64"))
    # every column is a fresh array of its own: the frame takes them without copying
    df = pd.DataFrame(out, columns=[*schema, "row"], copy=False)
    if name == "courses":
        keys = k.keys if k.keys is not None else _int_keys(k.cells["number"])[0]
        df["number"] = pd.array(keys, dtype="Int64")  # a copy
    if name == "administrations":
        keys = k.keys if k.keys is not None else _int_keys(k.cells["course_number"])[0]
        df["course_number"] = pd.array(keys, dtype="Int64")  # a copy
    return df


def _patch(df: pd.DataFrame, k: _Kind, harvested: dict[int, Any]) -> None:
    """Write the values the reference parsed for rows it accepted into the frame."""
    if not harvested:
        return
    hit = np.flatnonzero(np.isin(k.pos, np.fromiter(harvested, dtype=np.int64)))
    hits = [(int(j), harvested[int(k.pos[j])]) for j in hit]
    for j, obj in hits:
        if isinstance(obj, dict):  # a course's cleaned data: validated in stage 2
            continue
        values = obj.model_dump() if isinstance(obj, BaseModel) else {}
        for col in df.columns:
            if col in values:
                df.at[j, col] = _plain(values[col])


def _plain(v: Any) -> Any:
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, dt.datetime):
        return pd.Timestamp(v)
    if isinstance(v, dt.date):
        return pd.Timestamp(v.year, v.month, v.day)
    return v


# --------------------------------------------------------------------------- consistency twin
def _inconsistent(cf: CohortFrames, patient_codes: dict[str, np.ndarray] | None = None
                  ) -> set[str]:
    """Patients whose record breaks a rule of :meth:`PatientRecord.check_consistency`.

    ``patient_codes``: per frame, the row of each record's patient in ``cf.patients`` when
    already known (else looked up here).
    """
    P = cf.patients
    pidx = pd.Index(P["id"])
    diag = P["diagnosis_date"].to_numpy()
    birth = P["birth_date"].to_numpy()
    lfu = P["last_followup_date"].to_numpy()
    myeloma = (P["diagnosis"] == "myeloma").to_numpy()
    bad = np.zeros(len(P), dtype=bool)
    day = np.timedelta64(1, "D")

    def code(df: pd.DataFrame) -> np.ndarray:
        for name, frame in cf.items():
            if frame is df and patient_codes is not None and name in patient_codes:
                return patient_codes[name]
        return pidx.get_indexer(df["patient_id"])

    C = cf.courses
    A = cf.administrations
    cc = code(C)
    last_day = A.groupby(["patient_id", "course_number"])["day"].max()
    mi = pd.MultiIndex.from_arrays([C["patient_id"], C["number"].astype("int64")])
    maxday = last_day.reindex(mi).fillna(1).to_numpy(dtype="int64")
    start = C["start_date"].to_numpy()
    last_chemo = start + (maxday - 1) * day
    order = np.lexsort((C["number"].to_numpy(dtype="int64"), cc))
    s_c, s_start, s_last = cc[order], start[order], last_chemo[order]
    same = s_c[1:] == s_c[:-1]
    bad[s_c[1:][same & (s_start[1:] <= s_last[:-1])]] = True
    bad[cc[start < diag[cc]]] = True
    Inf = cf.infusions
    ic = code(Inf)
    imi = pd.MultiIndex.from_arrays([Inf["patient_id"], Inf["course_number"].astype("int64")])
    cstart = pd.Series(start, index=mi)
    cstart = cstart[~cstart.index.duplicated()]
    i_start = cstart.reindex(imi).to_numpy()
    i_day = Inf["infused_at"].to_numpy().astype("datetime64[D]").astype("datetime64[ns]")
    bad[ic[pd.isna(i_start)]] = True
    with np.errstate(invalid="ignore"):
        bad[ic[~pd.isna(i_start) & (i_day < i_start)]] = True
    D = cf.donors
    dmi = pd.MultiIndex.from_arrays([D["patient_id"], D["id"]])
    bad[ic[~pd.MultiIndex.from_arrays([Inf["patient_id"], Inf["donor_id"]]).isin(dmi)]] = True
    L = cf.labs
    lc = code(L)
    has_donor = L["donor_id"].notna().to_numpy()
    lmi = pd.MultiIndex.from_arrays([L["patient_id"][has_donor], L["donor_id"][has_donor]])
    bad[lc[has_donor][~lmi.isin(dmi)]] = True
    B = cf.antibodies
    bc = code(B)
    for c, dates in ((lc, L["date"].to_numpy()), (bc, B["date"].to_numpy())):
        b = birth[c]
        with np.errstate(invalid="ignore"):
            bad[c[~pd.isna(b) & (dates < b)]] = True
    R = cf.responses
    rc = code(R)
    cat = R["category"].to_numpy(dtype=object)
    in_mm = np.isin(cat, [x.value for x in MYELOMA_CATEGORIES])
    in_aml = np.isin(cat, [x.value for x in AML_CATEGORIES])
    bad[rc[np.where(myeloma[rc], ~in_mm, ~in_aml)]] = True
    E = cf.events
    ec = code(E)
    is_death = (E["kind"] == "death").to_numpy()
    deaths = np.bincount(ec[is_death], minlength=len(P))
    bad |= deaths > 1
    death_date = np.full(len(P), np.datetime64("NaT"), dtype="datetime64[ns]")
    death_date[ec[is_death]] = E["date"].to_numpy()[is_death]
    dated_c = np.concatenate([cc, cc, ic, lc, ec, rc, bc])
    dated = np.concatenate([start, last_chemo, i_day, L["date"].to_numpy(),
                            E["date"].to_numpy(), R["date"].to_numpy(), B["date"].to_numpy()])
    window = np.concatenate([np.zeros(2 * len(C) + len(Inf), dtype=bool),
                             np.ones(len(L), dtype=bool),
                             np.zeros(len(E) + len(R), dtype=bool), np.ones(len(B), dtype=bool)])
    earliest = diag[dated_c]
    earliest[window] -= 30 * day
    bad[dated_c[dated < earliest]] = True
    dd = death_date[dated_c]
    with np.errstate(invalid="ignore"):
        bad[dated_c[~pd.isna(dd) & (dated > dd)]] = True
        lf = lfu[dated_c]
        bad[dated_c[~pd.isna(lf) & (dated > lf)]] = True
        bad |= ~pd.isna(death_date) & ~pd.isna(lfu) & (lfu != death_date)
    return set(P["id"][bad])


# --------------------------------------------------------------------------- objects
def _records(df: pd.DataFrame, name: str) -> list[dict[str, Any]]:
    """Plain Python values of a frame's rows (dates as dates, missing as None)."""
    schema = SCHEMA[name]
    cols: dict[str, list[Any]] = {}
    for col, dtype in schema.items():
        s = df[col]
        if dtype.startswith("datetime64"):
            if col == "infused_at":
                vals = [None if pd.isna(x) else x.to_pydatetime() for x in s]
            else:
                arr = s.to_numpy().astype("datetime64[D]")
                vals = [None if np.isnat(x) else x.item() for x in arr]
        elif dtype == "Int64":
            vals = [None if x is pd.NA else int(x) for x in s.astype(object)]
        elif dtype == "float64":
            vals = [None if x != x else float(x) for x in s.to_numpy()]
        else:
            vals = [None if x is None or (isinstance(x, float) and x != x) else x for x in s]
        cols[col] = vals
    keys = list(cols)
    return [dict(zip(keys, vs, strict=True)) for vs in zip(*cols.values(), strict=True)] \
        if keys and len(df) else []


_ENUMS: dict[type[BaseModel], dict[str, type[Enum]]] = {}


def _enum_fields(model: type[BaseModel]) -> dict[str, type[Enum]]:
    if model not in _ENUMS:
        out = {}
        for name, info in model.model_fields.items():
            base = _spec(info).base
            if isinstance(base, type) and issubclass(base, Enum):
                out[name] = base
        _ENUMS[model] = out
    return _ENUMS[model]


def _construct(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """An instance from validated values, without validating again."""
    for name, enum in _enum_fields(model).items():
        v = values.get(name)
        if v is not None:
            values[name] = enum(v)
    data = {k: values[k] for k in model.model_fields if k in values}
    return model.model_construct(**data)


def record_of(cf: CohortFrames, pid: str) -> PatientRecord:
    """The :class:`~mst.domain.PatientRecord` of one patient of validated frames."""
    def rows(name: str) -> list[dict[str, Any]]:
        df = getattr(cf, name)
        return _records(df[df["patient_id"] == pid].reset_index(drop=True), name)

    p = _records(cf.patients[cf.patients["id"] == pid].reset_index(drop=True), "patients")[0]
    admins: dict[int, list[Any]] = {}
    for a in rows("administrations"):
        admins.setdefault(a["course_number"], []).append(_construct(DrugAdministration, a))
    courses = []
    for c in rows("courses"):
        c["administrations"] = tuple(admins.get(c["number"], ()))
        courses.append(_construct(Course, c))
    return PatientRecord.model_construct(
        patient=_construct(Patient, p),
        donors=tuple(_construct(Donor, d) for d in rows("donors")),
        courses=tuple(courses),
        infusions=tuple(_construct(Infusion, x) for x in rows("infusions")),
        labs=tuple(_construct(LabResult, x) for x in rows("labs")),
        events=tuple(_construct(ClinicalEvent, x) for x in rows("events")),
        responses=tuple(_construct(ResponseAssessment, x) for x in rows("responses")),
        antibodies=tuple(_construct(AntibodyResult, x) for x in rows("antibodies")),
    )


def _columns(df: pd.DataFrame, name: str, model: type[BaseModel]) -> list[list[Any]]:
    """The model's fields of a frame as Python value lists (enums as members, None missing)."""
    schema = SCHEMA[name]
    enums = _enum_fields(model)
    out: list[list[Any]] = []
    for field_name in model.model_fields:
        if field_name == "administrations":
            out.append([()] * len(df))
            continue
        s = df[field_name]
        dtype = schema[field_name]
        if dtype.startswith("datetime64"):
            unit = "datetime64[us]" if field_name == "infused_at" else "datetime64[D]"
            vals = s.to_numpy().astype(unit).tolist()  # NaT -> None
        elif dtype == "Int64":
            missing = s.isna().to_numpy()
            vals = s.fillna(0).astype("int64").to_numpy().tolist()
            for j in np.flatnonzero(missing):
                vals[j] = None
        elif dtype == "float64":
            arr = s.to_numpy()
            vals = arr.tolist()
            for j in np.flatnonzero(np.isnan(arr)):
                vals[j] = None
        else:
            vals = s.tolist()
            if field_name in enums:
                lookup = {m.value: m for m in enums[field_name]}
                vals = [None if v is None else lookup[v] for v in vals]
        out.append(vals)
    return out


def _maker(model: type[BaseModel]) -> Callable[[tuple[Any, ...]], Any]:
    """Build instances from validated values in field order, as ``model_construct`` does."""
    if model.__pydantic_post_init__ or model.__pydantic_root_model__:  # pragma: no cover
        return lambda values: model.model_construct(**dict(zip(model.model_fields, values,
                                                               strict=True)))
    names = tuple(model.model_fields)
    new = model.__new__
    put = object.__setattr__
    # Every field is set: one set shared by all instances (frozen models never add to it;
    # pydantic copies it before changing a copy), a few hundred bytes saved per object.
    fields_set = set(names)

    def make(values: tuple[Any, ...]) -> Any:
        m = new(model)
        put(m, "__dict__", dict(zip(names, values, strict=True)))
        put(m, "__pydantic_fields_set__", fields_set)
        put(m, "__pydantic_extra__", None)
        put(m, "__pydantic_private__", None)
        return m

    return make


def _objects(df: pd.DataFrame, name: str, model: type[BaseModel]) -> list[Any]:
    make = _maker(model)
    return [make(v) for v in zip(*_columns(df, name, model), strict=True)] if len(df) else []


def cohort_from_frames(cf: CohortFrames) -> Cohort:
    """The :class:`~mst.domain.Cohort` of validated frames (objects built, not re-validated).

    Parameters
    ----------
    cf : CohortFrames
        Output of :func:`read_frames`.

    Returns
    -------
    mst.domain.Cohort
        Records in patient order, children in file order.
    """
    # Hundreds of thousands of small objects: the cyclic collector would rescan all of them
    # again and again while they are built (none of them forms a cycle).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _cohort_from_frames(cf)
    finally:
        if enabled:
            gc.enable()


def _cohort_from_frames(cf: CohortFrames) -> Cohort:
    pidx = pd.Index(cf.patients["id"])
    n = len(pidx)

    def grouped(name: str, model: type[BaseModel]) -> list[list[Any]]:
        df = getattr(cf, name)
        buckets: list[list[Any]] = [[] for _ in range(n)]
        for j, obj in zip(pidx.get_indexer(df["patient_id"]).tolist(),
                          _objects(df, name, model), strict=True):
            buckets[j].append(obj)
        return buckets

    A = cf.administrations
    admins: dict[tuple[str, int], list[Any]] = {}
    for key, obj in zip(zip(A["patient_id"].tolist(), A["course_number"].tolist(), strict=True),
                        _objects(A, "administrations", DrugAdministration), strict=True):
        admins.setdefault(key, []).append(obj)
    C = cf.courses
    course_admins = [tuple(admins.get(k, ())) for k in
                     zip(C["patient_id"].tolist(), C["number"].tolist(), strict=True)]
    cols = _columns(C, "courses", Course)
    cols[list(Course.model_fields).index("administrations")] = course_admins
    make_course = _maker(Course)
    courses: list[list[Any]] = [[] for _ in range(n)]
    for j, values in zip(pidx.get_indexer(C["patient_id"]).tolist(), zip(*cols, strict=True),
                         strict=True):
        courses[j].append(make_course(values))
    kinds = {name: grouped(name, model) for name, model in (
        ("donors", Donor), ("infusions", Infusion), ("labs", LabResult),
        ("events", ClinicalEvent), ("responses", ResponseAssessment),
        ("antibodies", AntibodyResult))}
    make_record = _maker(PatientRecord)
    records = tuple(
        make_record((patient, tuple(kinds["donors"][j]), tuple(courses[j]),
                     tuple(kinds["infusions"][j]), tuple(kinds["labs"][j]),
                     tuple(kinds["events"][j]), tuple(kinds["responses"][j]),
                     tuple(kinds["antibodies"][j])))
        for j, patient in enumerate(_objects(cf.patients, "patients", Patient))
    )
    centers = tuple(_objects(cf.centers, "centers", Center))
    return _maker(Cohort)((centers, records))


__all__ = ["ColumnarDisagreementError", "cohort_from_frames", "read_frames", "record_of"]
