"""Where the report's data come from: the registry, an exchange file or a flat table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mst.domain import Cohort
from mst.errors import ValidationError
from mst.io.frames import CohortFrames

#: ``progress(phase, done, total)``: the phase's name and how far it is.
Progress = Callable[[str, int, int], None]


@dataclass
class ReportInput:
    """A flat table, the cohort's frames when known (for course dates), import rejections."""

    table: pd.DataFrame
    frames: CohortFrames | None = None
    rejections: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""

    @property
    def course_days(self) -> dict[str, list[float]] | None:
        """Course start days from diagnosis per patient (None without the cohort)."""
        if self.frames is None:
            return None
        from mst.stats.timedep import course_days_from_frames

        return course_days_from_frames(self.frames)


def is_exchange_file(path: str | Path) -> bool:
    """True for an exchange file (CSV with ``record_type``; XLSX with a ``patient`` sheet)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        with p.open(encoding="utf-8-sig") as fh:
            header = fh.readline()
        return "record_type" in [h.strip() for h in header.replace(";", ",").split(",")]
    if suffix in {".xlsx", ".xlsm"}:
        from openpyxl import load_workbook

        wb = load_workbook(p, read_only=True)
        try:
            return "patient" in wb.sheetnames
        finally:
            wb.close()
    return False


def exchange_frames(path: str | Path, progress: Progress | None = None,
                    encoding: str | None = None) -> CohortFrames:
    """Read and validate an exchange file (CSV or XLSX) into the cohort's frames.

    The columnar reader (:func:`mst.io.exchange_frames.read_frames`, the one validator of
    exchange files) is called with ``progress(phase, done, total)`` as ``"reading"``.
    """
    from mst.io.exchange_frames import read_frames

    return read_frames(path, encoding=encoding, progress=None if progress is None
                       else (lambda k, t: progress("reading", k, t)))


def frames_input(frames: CohortFrames, source: str,
                 progress: Progress | None = None) -> ReportInput:
    """Flat table built from a cohort's frames (``progress("flat table", done, total)``)."""
    from mst.cohort import flat_table_from_frames

    n = len(frames.patients)
    if progress is not None:
        progress("flat table", 0, n)
    return ReportInput(flat_table_from_frames(frames), frames, [], source)


def cohort_input(cohort: Cohort, source: str, progress: Progress | None = None) -> ReportInput:
    """Flat table built from a cohort (``progress(phase, done, total)`` while building)."""
    from mst.io.frames import frames_from_cohort

    if progress is not None:
        progress("columns", 0, len(cohort.records))
    return frames_input(frames_from_cohort(cohort), source, progress)


def load_input(
    db: str | None = None,
    path: str | Path | None = None,
    mapping: str | Path | None = None,
    dictionary: str | Path | None = None,
    sheet: str | None = None,
    progress: Progress | None = None,
) -> ReportInput:
    """Load the report's input from ``--from FILE`` or the registry (``--db``, default URL).

    An exchange file (without ``mapping``) or the registry gives the full cohort (see
    :func:`registry_frames`); any other file is read as a flat table — with ``dictionary`` as a
    REDCap export (codes decoded with the data dictionary, then ``mapping`` applied; see
    docs/interop.md). An exchange file goes file → frames (:func:`exchange_frames`) → flat
    table (:func:`mst.cohort.flat_table_from_frames`), with ``progress(phase, done, total)``
    called in each phase.

    Raises
    ------
    ValidationError
        Both sources given; unreadable file.
    """
    if db is not None and path is not None:
        raise ValidationError("--db/--from", path, "give --db URL or --from FILE, not both")
    p = _existing(path) if path is not None else None
    if p is not None and (mapping is not None or not is_exchange_file(p)):
        from mst.interop.redcap import read_table

        res = read_table(p, mapping, dictionary, sheet=sheet)
        return ReportInput(res.table, None, [r.to_dict() for r in res.rejections], str(p))
    if p is not None:
        return frames_input(exchange_frames(p, progress), str(p), progress)
    return frames_input(registry_frames(db), "registry", progress)


def registry_frames(db: str | None = None) -> CohortFrames:
    """The registry's cohort as frames (``--db``, default URL), read table by table
    (:meth:`mst.registry.repository.Repository.load_frames`, no record objects)."""
    from mst.registry import open_registry

    with open_registry(db) as reg:
        return reg.load_frames()


def _existing(path: str | Path) -> Path:
    p = Path(str(path))
    if not p.exists():
        raise ValidationError("--from", str(p), "no such file")
    return p


def load_cohort(db: str | None = None, path: str | Path | None = None,
                progress: Progress | None = None) -> Cohort:
    """A cohort from an exchange file ``--from`` or the registry (``--db``, default URL);
    ``progress(phase, done, total)`` is called while an exchange file's rows are read."""
    if db is not None and path is not None:
        raise ValidationError("--db/--from", path, "give --db URL or --from FILE, not both")
    if path is None:  # the registry: --db, else $MST_DATABASE_URL, else ./mst.sqlite
        from mst.registry import open_registry

        with open_registry(db) as reg:
            return reg.load_cohort()
    p = _existing(path)
    if not is_exchange_file(p):
        raise ValidationError(
            "--from", str(p), "must be an exchange file (a flat table has no records)"
        )
    from mst.io.exchange import read_cohort

    return read_cohort(p, progress=None if progress is None
                       else (lambda k, t: progress("reading", k, t)))
