"""Reading RNA-seq count matrices and sample sheets, with plain-word errors.

Accepted count inputs (read as they are written by the usual tools):

* a gene x sample matrix (CSV, TSV or TXT; the first column holds the gene identifiers,
  every other column one sample);
* a featureCounts table (``#`` comment lines, then ``Geneid Chr Start End Strand Length``
  and one column per BAM file; the annotation columns are dropped and a sample column named
  ``path/to/S1.bam`` is called ``S1``);
* one or several HTSeq-count files (two columns, no header; the sample is the file name
  without its extension; HTSeq's ``__no_feature``-style counter rows are dropped), or a
  matrix that still carries those counter rows.

Missing values are read the way pandas reads them everywhere in :mod:`mst` (blank, ``NA``,
``NaN``, ``null`` ...); a missing count is an error, never a zero.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mst.errors import ValidationError

FEATURECOUNTS_ANNOTATION = ("Chr", "Start", "End", "Strand", "Length")
HTSEQ_COUNTER_PREFIX = "__"
_BAM_SUFFIX = re.compile(r"\.(bam|sam|cram)$", re.IGNORECASE)
_LEVEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class CountMatrix:
    """Validated raw counts.

    Attributes
    ----------
    counts : pandas.DataFrame
        Genes in rows (index = identifiers as given), samples in columns, ``int64`` >= 0.
    source_format : str
        ``"matrix"``, ``"featurecounts"`` or ``"htseq"``.
    dropped_rows : dict[str, int]
        Counter rows that were not genes (HTSeq ``__no_feature`` ...), with their totals.
    """

    counts: pd.DataFrame
    source_format: str
    dropped_rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SampleSheet:
    """Validated sample sheet.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by ``sample_id``; columns as given (``condition``, optional ``patient_id``,
        optional ``batch``, any other covariate). Factor values are stripped strings.
    """

    table: pd.DataFrame

    @property
    def samples(self) -> list[str]:
        """Sample identifiers in sheet order."""
        return [str(s) for s in self.table.index]


def _delimiter(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        suffix = Path(path.stem).suffix.lower()
    if suffix == ".csv":
        return ","
    if suffix in {".tsv", ".tab"}:
        return "\t"
    first = next((ln for ln in text.splitlines() if ln and not ln.startswith("#")), "")
    if "\t" in first:
        return "\t"
    if "," in first:
        return ","
    if ";" in first:
        return ";"
    return "\t"


def _read_text(path: Path) -> str:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a file")
    raw = path.read_bytes()
    if path.suffix.lower() == ".gz":
        import gzip

        raw = gzip.decompress(raw)
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValidationError("file", str(path), "is not UTF-8 or Windows-1252 text")


def _frame(path: Path) -> pd.DataFrame:
    """Read a delimited file as strings (missing values as NaN), comments skipped."""
    import io

    text = _read_text(path)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise ValidationError("file", str(path), "has no data rows")
    sep = _delimiter(path, text)
    try:
        df = pd.read_csv(
            io.StringIO("\n".join(lines)),
            sep=sep,
            header=None,
            dtype=str,
            quoting=csv.QUOTE_MINIMAL,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        first = str(exc).splitlines()[0]
        raise ValidationError("file", str(path), f"could not be read as a table ({first})") from exc
    return df


def _is_count(text: object) -> bool:
    return isinstance(text, str) and text.strip().lstrip("+").isdigit()


def _sample_name(column: str) -> str:
    return (
        _BAM_SUFFIX.sub("", Path(column).name)
        if ("/" in column or _BAM_SUFFIX.search(column))
        else column
    )


def _to_counts(body: pd.DataFrame, path: Path, first_data_line: int) -> pd.DataFrame:
    """String frame (index = gene, columns = samples) -> int64 frame, or a named error."""
    for col in body.columns:
        values = body[col]
        miss = values.isna() | (values.astype(str).str.strip() == "")
        if miss.any():
            i = int(np.flatnonzero(miss.to_numpy())[0])
            raise ValidationError(
                f"{path.name} row {i + first_data_line} ({body.index[i]}), sample {col}",
                None,
                "count is missing; a count matrix must be complete (write 0 for no reads)",
            )
        ok = values.map(_is_count)
        if not ok.all():
            i = int(np.flatnonzero(~ok.to_numpy())[0])
            raw = str(values.iloc[i]).strip()
            try:
                num = float(raw)
            except ValueError:
                num = None
            if num is not None and num < 0:
                rule = "counts must not be negative"
            elif num is not None:
                rule = (
                    "counts must be whole numbers of reads (DESeq2 models raw counts; "
                    "normalised values, TPM or FPKM are not accepted)"
                )
            else:
                rule = "count must be a whole number >= 0"
            raise ValidationError(
                f"{path.name} row {i + first_data_line} ({body.index[i]}), sample {col}", raw, rule
            )
    try:
        return body.apply(lambda s: s.str.strip().astype(np.int64))
    except OverflowError as exc:
        raise ValidationError(f"{path.name}", None, "a count is too large (over 2^63)") from exc


def _check_genes(genes: pd.Index, path: Path, first_data_line: int) -> None:
    blank = [i for i, g in enumerate(genes) if not isinstance(g, str) or not g.strip()]
    if blank:
        raise ValidationError(
            f"{path.name} row {blank[0] + first_data_line}", None, "gene identifier is missing"
        )
    dup = genes[genes.duplicated()]
    if len(dup):
        first = str(dup[0])
        rows = [i + first_data_line for i, g in enumerate(genes) if g == first]
        raise ValidationError(
            f"{path.name} rows {rows}",
            first,
            "gene identifier appears more than once; sum or remove the duplicates first",
        )


def _drop_counters(counts: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    mask = counts.index.str.startswith(HTSEQ_COUNTER_PREFIX)
    dropped = {str(g): int(counts.loc[g].sum()) for g in counts.index[mask]}
    return counts.loc[~mask], dropped


def _read_matrix(path: Path) -> CountMatrix:
    df = _frame(path)
    text = _read_text(path)
    comment_lines = 0
    for ln in text.splitlines():
        if ln.startswith("#") or not ln.strip():
            comment_lines += 1
        else:
            break
    header = [str(x).strip() if isinstance(x, str) else "" for x in df.iloc[0].tolist()]
    fmt = "matrix"
    if header[: 1 + len(FEATURECOUNTS_ANNOTATION)] == ["Geneid", *FEATURECOUNTS_ANNOTATION]:
        fmt = "featurecounts"
        keep = [0] + list(range(1 + len(FEATURECOUNTS_ANNOTATION), len(header)))
        df = df.iloc[:, keep]
        header = [header[i] for i in keep]
    if len(header) < 2:
        raise ValidationError(
            f"{path.name}", None, "needs a gene column and at least one sample column"
        )
    samples = [_sample_name(h) for h in header[1:]]
    for j, s in enumerate(samples):
        if not s:
            raise ValidationError(f"{path.name} column {j + 2}", None, "sample name is missing")
    dup = [s for s in samples if samples.count(s) > 1]
    if dup:
        raise ValidationError(f"{path.name} header", dup[0], "sample appears in two columns")
    body = df.iloc[1:, 1:]
    body.columns = samples
    genes = pd.Index([g.strip() if isinstance(g, str) else g for g in df.iloc[1:, 0]])
    body.index = genes
    first = comment_lines + 2
    _check_genes(genes, path, first)
    counts = _to_counts(body, path, first)
    counts, dropped = _drop_counters(counts)
    if dropped and fmt == "matrix":
        fmt = "htseq"
    counts.index.name = "gene_id"
    return CountMatrix(counts=counts, source_format=fmt, dropped_rows=dropped)


def _looks_like_htseq(path: Path) -> bool:
    df = _frame(path)
    return df.shape[1] == 2 and _is_count(df.iloc[0, 1])


def _read_htseq(paths: Sequence[Path]) -> CountMatrix:
    columns: dict[str, pd.Series] = {}
    dropped: dict[str, int] = {}
    index: pd.Index | None = None
    for path in paths:
        df = _frame(path)
        if df.shape[1] != 2:
            raise ValidationError(
                path.name, None, "an HTSeq-count file has exactly two columns (gene, count)"
            )
        sample = path.name.split(".")[0]
        if sample in columns:
            raise ValidationError(path.name, sample, "two count files name the same sample")
        genes = pd.Index([g.strip() if isinstance(g, str) else g for g in df.iloc[:, 0]])
        _check_genes(genes, path, 1)
        body = pd.DataFrame({sample: df.iloc[:, 1].to_numpy()}, index=genes)
        part, drop = _drop_counters(_to_counts(body, path, 1))
        for k, v in drop.items():
            dropped[k] = dropped.get(k, 0) + v
        if index is None:
            index = part.index
        elif not part.index.equals(index):
            missing = index.symmetric_difference(part.index)
            raise ValidationError(
                path.name,
                str(missing[0]),
                "gene list differs from the first HTSeq-count file (every file must list the "
                "same genes)",
            )
        columns[sample] = part[sample]
    counts = pd.DataFrame(columns)
    counts.index.name = "gene_id"
    return CountMatrix(counts=counts, source_format="htseq", dropped_rows=dropped)


def read_counts(paths: str | Path | Sequence[str | Path]) -> CountMatrix:
    """Read raw counts from a matrix, a featureCounts table or HTSeq-count files.

    Parameters
    ----------
    paths : path or sequence of paths
        One matrix / featureCounts file, or one or more HTSeq-count files.

    Returns
    -------
    CountMatrix
        Validated counts (genes x samples, ``int64``).

    Raises
    ------
    ValidationError
        Missing, non-integer or negative counts, duplicated genes or samples, empty files.
    FileNotFoundError
        A path that does not exist.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    ps = [Path(p) for p in paths]
    if not ps:
        raise ValidationError("counts", None, "no count file given")
    if len(ps) == 1 and not _looks_like_htseq(ps[0]):
        cm = _read_matrix(ps[0])
    else:
        for p in ps:
            if not _looks_like_htseq(p):
                raise ValidationError(
                    p.name,
                    None,
                    "several count files must each be an HTSeq-count file (gene, count; no "
                    "header); give a single matrix file otherwise",
                )
        cm = _read_htseq(ps)
    if cm.counts.shape[0] == 0:
        raise ValidationError("counts", None, "no gene rows")
    return cm


def read_sample_sheet(path: str | Path, condition: str = "condition") -> SampleSheet:
    """Read a sample sheet: ``sample_id``, ``condition`` and optional columns.

    Parameters
    ----------
    path : path
        CSV/TSV with a header. Required columns: ``sample_id`` and the condition column.
        Optional: ``patient_id`` (links a sample to a registry patient), ``batch``, others.
    condition : str
        Name of the column holding the condition (default ``condition``).

    Returns
    -------
    SampleSheet

    Raises
    ------
    ValidationError
        Missing columns, blank or duplicated sample ids, blank condition values.
    """
    p = Path(path)
    df = _frame(p)
    header = [str(x).strip() if isinstance(x, str) else "" for x in df.iloc[0].tolist()]
    body = df.iloc[1:].copy()
    body.columns = header
    for col in ("sample_id", condition):
        if col not in header:
            raise ValidationError(
                f"{p.name} column {col}", None, f"is required; the sheet has {header}"
            )
    body = body.apply(lambda s: s.str.strip())
    for i, sid in enumerate(body["sample_id"]):
        if not isinstance(sid, str) or not sid:
            raise ValidationError(f"{p.name} row {i + 2}, sample_id", None, "is missing")
    dup = body["sample_id"][body["sample_id"].duplicated()]
    if len(dup):
        raise ValidationError(f"{p.name} column sample_id", dup.iloc[0], "appears more than once")
    for col in header:
        if col in ("sample_id", "patient_id") or not col:
            continue
        miss = body[col].isna() | (body[col] == "")
        if miss.any() and col in (condition, "batch"):
            i = int(np.flatnonzero(miss.to_numpy())[0])
            raise ValidationError(
                f"{p.name} row {i + 2} ({body['sample_id'].iloc[i]}), {col}",
                None,
                "is missing; every sample needs a value for a design variable",
            )
    for i, level in enumerate(body[condition]):
        if not _LEVEL.match(level):
            raise ValidationError(
                f"{p.name} row {i + 2}, {condition}",
                level,
                "must be a single word of letters, digits, '.', '_' or '-'",
            )
    body = body.set_index("sample_id")
    body.index.name = "sample_id"
    return SampleSheet(table=body)


def align(counts: CountMatrix, sheet: SampleSheet) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match count columns with sheet rows (same samples, sheet order).

    Raises
    ------
    ValidationError
        A count column absent from the sheet, or a sheet sample without counts.
    """
    cols = list(counts.counts.columns)
    missing = [c for c in cols if c not in sheet.table.index]
    if missing:
        raise ValidationError(
            f"sample {missing[0]}",
            None,
            f"is in the count matrix but missing from the sample sheet "
            f"({len(missing)} such sample(s): {', '.join(missing[:5])})",
        )
    absent = [s for s in sheet.table.index if s not in cols]
    if absent:
        raise ValidationError(
            f"sample {absent[0]}",
            None,
            f"is in the sample sheet but has no column in the count matrix "
            f"({len(absent)} such sample(s): {', '.join(absent[:5])})",
        )
    order = list(sheet.table.index)
    return counts.counts[order], sheet.table.loc[order]
