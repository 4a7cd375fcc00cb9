"""One way to read a user's table: encodings, delimiters and missing values.

Every command and API function that reads a delimited text file or a workbook goes through
:func:`read_table_text`, so the same file is read the same way everywhere:

* **Encoding**: a byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE); otherwise the
  file must be UTF-8, unless the caller declares another encoding (``--encoding cp1252``).
  A file that is not valid in the chosen encoding is refused with the byte offset and a hint;
  it is never decoded by guessing.
* **Binary input** (NUL bytes, control characters, a ZIP or other binary signature where text
  is expected) is refused in one line.
* **Delimiter**: comma, semicolon, tab or ``|``, sniffed from the header line outside quotes
  (``.tsv`` files are tab-delimited).
* **Missing values**: an empty cell and the tokens of :data:`MISSING_TOKENS` (R's ``NA``,
  ``NaN``, Excel's ``#N/A``, ``NULL`` …) are missing, in CSV and XLSX alike; callers may add
  a format's own codes (REDCap's ``UNK``, SPSS user-missing codes).
* **Header**: every column needs a name, and names are unique.

Cells are returned as strings with surrounding white space removed (``None`` when missing),
so callers convert and validate them with their own rules and error messages.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from mst.errors import ValidationError

#: Cell texts read as a missing value everywhere (compared after stripping white space).
MISSING_TOKENS: frozenset[str] = frozenset(
    {"", "NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "NULL", "null", "#N/A", "<NA>", "None"}
)

#: Delimiters recognised in text tables, in order of preference when counts tie.
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")

TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm"})

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an XLSX workbook saved with another extension?)"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "an old binary Office file (.xls): save it as .xlsx or .csv"),
    (b"\x89PNG", "a PNG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"SQLite format 3", "an SQLite database"),
    (b"$FL2", "an SPSS .sav file"),
)


def decode_bytes(data: bytes, source: str = "file", encoding: str | None = None) -> str:
    """Decode a text file's bytes: byte-order mark, then UTF-8, or the declared encoding.

    Parameters
    ----------
    data : bytes
        The file's content.
    source : str
        Name used in error messages (usually the path).
    encoding : str, optional
        A declared encoding (e.g. ``"cp1252"``, ``"latin-1"``); it overrides the UTF-8
        default but not a byte-order mark.

    Returns
    -------
    str
        The text, without a byte-order mark, with universal newlines.

    Raises
    ------
    ValidationError
        Empty or binary content, an unknown encoding name, or bytes invalid in the encoding.
    """
    if not data:
        raise ValidationError(source, None, "the file is empty (0 bytes): nothing to read")
    for sig, what in _BINARY_SIGNATURES:
        if data.startswith(sig):
            raise ValidationError(source, None, f"is {what}, not a delimited text table")
    chosen = None
    body = data
    for bom, name in _BOMS:
        if data.startswith(bom):
            chosen, body = name, data[len(bom) :]
            break
    if chosen is None:
        if encoding is None and b"\x00" in data[:65536]:
            raise ValidationError(
                source, None, "contains NUL bytes: a binary file, not a text table "
                "(a UTF-16 file without byte-order mark needs --encoding utf-16)"
            )
        chosen = encoding or "utf-8"
        try:
            codecs.lookup(chosen)
        except LookupError as exc:
            raise ValidationError(
                "encoding", encoding, "is not an encoding name Python knows (e.g. cp1252)"
            ) from exc
    try:
        text = body.decode(chosen)
    except UnicodeDecodeError as exc:
        hint = (
            "declare the file's encoding (for example --encoding cp1252 or latin-1), "
            "or save it as UTF-8"
            if encoding is None
            else "check the declared encoding"
        )
        raise ValidationError(
            source,
            None,
            f"is not valid {chosen} text (byte {exc.start}, value 0x{body[exc.start]:02x}); "
            + hint,
        ) from exc
    _refuse_binary_text(text, source)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _refuse_binary_text(text: str, source: str) -> None:
    sample = text[:65536]
    if "\x00" in sample:
        raise ValidationError(source, None, "contains NUL bytes: a binary file, not a text table")
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if sample and control / len(sample) > 0.01:
        raise ValidationError(
            source, None, "contains control characters: a binary file, not a text table"
        )


def sniff_delimiter(text: str, suffix: str = ".csv") -> str:
    """The delimiter of a text table, from its header line (outside quotes).

    Parameters
    ----------
    text : str
        Decoded file content.
    suffix : str
        The file's extension; ``.tsv`` means tab.

    Returns
    -------
    str
        One of :data:`DELIMITERS`; a comma for a one-column table.
    """
    if suffix.lower() == ".tsv":
        return "\t"
    header = text.split("\n", 1)[0]
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return best if counts[best] > 0 else ","


def check_header(names: list[str], source: str) -> list[str]:
    """Stripped header names; refuse an unnamed or a repeated column (named in file order).

    Parameters
    ----------
    names : list of str
        The header cells.
    source : str
        Name used in error messages.

    Returns
    -------
    list of str
    """
    out = [n.strip() if isinstance(n, str) else ("" if n is None else str(n)) for n in names]
    for i, name in enumerate(out, start=1):
        if not name:
            raise ValidationError(f"{source}, header", None, f"column {i} has no name")
    seen: dict[str, int] = {}
    for i, name in enumerate(out, start=1):
        if name in seen:
            raise ValidationError(
                f"{source}, header",
                name,
                f"column name used twice (columns {seen[name]} and {i}): names must be unique",
            )
        seen[name] = i
    return out


def _cell(value: object, missing: frozenset[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from a workbook
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif hasattr(value, "isoformat"):
        iso = value.isoformat()  # type: ignore[union-attr]
        text = iso[:10] if iso.endswith("T00:00:00") else iso
    else:
        text = str(value)
    text = text.strip()
    return None if text in missing else text


def parse_text_table(
    text: str,
    source: str = "file",
    delimiter: str | None = None,
    missing: Iterable[str] = (),
    max_field_chars: int = 100_000,
) -> pd.DataFrame:
    """Parse decoded delimited text into a frame of stripped strings (``None`` = missing).

    Parameters
    ----------
    text : str
        Decoded content (see :func:`decode_bytes`).
    source : str
        Name used in error messages.
    delimiter : str, optional
        Forced delimiter; sniffed from the header when omitted.
    missing : iterable of str
        Extra missing-value codes of the format, added to :data:`MISSING_TOKENS`.
    max_field_chars : int
        Longest cell accepted.

    Returns
    -------
    pandas.DataFrame
        One column per header name, dtype object. Row ``i`` of the frame is line ``i + 2``
        of the file for a file without embedded newlines.

    Raises
    ------
    ValidationError
        No header, unnamed or duplicated columns, a row with more cells than the header,
        an unterminated quote, a cell longer than ``max_field_chars``.
    """
    if not text.strip():
        raise ValidationError(source, None, "the file holds no header line and no data")
    tokens = MISSING_TOKENS | frozenset(missing)
    delim = delimiter or sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delim, strict=True)
    try:
        header = next(reader)
        names = check_header(header, source)
        rows: list[list[str | None]] = []
        for line_no, raw in enumerate(reader, start=2):
            if not raw or all(not c.strip() for c in raw):
                continue
            if len(raw) > len(names):
                extra = raw[len(names) :]
                if any(c.strip() for c in extra):
                    raise ValidationError(
                        f"{source}, row {line_no}",
                        None,
                        f"has {len(raw)} cells but the header names {len(names)} columns",
                    )
                raw = raw[: len(names)]
            for j, c in enumerate(raw):
                if len(c) > max_field_chars:
                    raise ValidationError(
                        f"{source}, row {line_no}, column {names[j]}",
                        None,
                        f"cell of {len(c)} characters is longer than the limit "
                        f"({max_field_chars})",
                    )
            cells = [_cell(c, tokens) for c in raw] + [None] * (len(names) - len(raw))
            rows.append(cells)
    except csv.Error as exc:
        raise ValidationError(
            f"{source}, row {reader.line_num}", None, f"is not well-formed delimited text ({exc})"
        ) from exc
    return pd.DataFrame(rows, columns=names, dtype=object)


def read_workbook(
    path: str | Path, sheet: str | None = None, missing: Iterable[str] = ()
) -> pd.DataFrame:
    """Read one sheet of an XLSX workbook as stripped strings (``None`` = missing).

    Parameters
    ----------
    path : str or Path
        The workbook.
    sheet : str, optional
        Sheet name; the first sheet when omitted.
    missing : iterable of str
        Extra missing-value codes.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ValidationError
        Not a readable workbook, an unknown sheet, bad header.
    """
    import openpyxl  # local: only workbook readers pay for it

    p = Path(path)
    source = str(p)
    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationError(source, None, "is not a readable XLSX workbook") from exc
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            raise ValidationError(
                "sheet", sheet, f"not in the workbook; its sheets are {', '.join(wb.sheetnames)}"
            )
        it = ws.iter_rows(values_only=True)
        header = next(it, None)
        if header is None:
            raise ValidationError(source, None, "the sheet is empty")
        while header and header[-1] is None:
            header = header[:-1]
        names = check_header(list(header), f"{source} [{ws.title}]")
        tokens = MISSING_TOKENS | frozenset(missing)
        rows = []
        for raw in it:
            cells = [_cell(v, tokens) for v in raw[: len(names)]]
            if all(c is None for c in cells):
                continue
            rows.append(cells + [None] * (len(names) - len(cells)))
    finally:
        wb.close()
    return pd.DataFrame(rows, columns=names, dtype=object)


def read_table_text(
    path: str | Path,
    encoding: str | None = None,
    sheet: str | None = None,
    missing: Iterable[str] = (),
    delimiter: str | None = None,
) -> pd.DataFrame:
    """Read a CSV/TSV/TXT or XLSX table as stripped strings, ``None`` for missing cells.

    Parameters
    ----------
    path : str or Path
        The file.
    encoding : str, optional
        Declared text encoding (used when the file has no byte-order mark).
    sheet : str, optional
        Workbook sheet.
    missing : iterable of str
        Extra missing-value codes of the format.
    delimiter : str, optional
        Forced delimiter for text files.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ValidationError
        See :func:`decode_bytes`, :func:`parse_text_table` and :func:`read_workbook`;
        an extension that is neither text nor workbook; a missing file.
    """
    p = Path(path)
    if not p.exists():
        raise ValidationError("file", str(p), "no such file")
    if p.is_dir():
        raise ValidationError("file", str(p), "is a folder, not a file")
    suffix = p.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return read_workbook(p, sheet=sheet, missing=missing)
    if suffix not in TEXT_SUFFIXES:
        raise ValidationError("file", str(p), "must be .csv, .tsv, .txt or .xlsx")
    text = decode_bytes(p.read_bytes(), source=str(p), encoding=encoding)
    return parse_text_table(
        text, source=str(p), delimiter=delimiter or sniff_delimiter(text, suffix), missing=missing
    )


def to_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert the columns of a string frame that are entirely numeric to numbers.

    A column converts when every non-missing cell parses as a number; otherwise it stays
    text. Integral columns become pandas ``Int64`` (missing kept), others ``float64``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`read_table_text`.

    Returns
    -------
    pandas.DataFrame
        A new frame.
    """
    out = {}
    for name in frame.columns:
        col = frame[name]
        present = col.notna()
        num = pd.to_numeric(col, errors="coerce")
        if present.any() and num[present].notna().all():
            finite = num[present]
            if (finite == finite.round()).all() and finite.abs().max() < 2**53:
                out[name] = num.astype("Int64")
            else:
                out[name] = num.astype("float64")
        else:
            out[name] = col
    return pd.DataFrame(out, index=frame.index)
