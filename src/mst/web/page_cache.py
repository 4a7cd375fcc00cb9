"""Cache of what the patient page derives from a record (timeline, charts, recovery, alerts).

Entries are keyed by patient id and stamped with the record's version (its newest audit row,
:meth:`mst.registry.repository.Repository.record_version`), so any change to the record —
through the app, the CLI or another process — makes the entry stale. Access control is not
cached: the version query itself refuses invisible patients.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from mst.registry.repository import Repository


class RecordPageCache:
    """Bounded, thread-safe LRU cache of derived patient-page content.

    Parameters
    ----------
    size : int
        Patients kept (least recently used evicted first).
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, repo: Repository, patient_id: str, build: Callable[[Any], dict[str, Any]]
    ) -> dict[str, Any]:
        """The derived content of the patient's current record, built on a miss.

        Parameters
        ----------
        repo : Repository
            The user's (scoped) repository.
        patient_id : str
            Patient id.
        build : callable
            Computes the content from a :class:`~mst.domain.PatientRecord`.

        Returns
        -------
        dict
            The content, including the record under ``"record"`` and the version it was
            stamped with under ``"version"``.
        """
        version = repo.record_version(patient_id)
        with self._lock:
            hit = self._items.get(patient_id)
            if hit is not None and hit[0] == version:
                self._items.move_to_end(patient_id)
                return hit[1]
        record = repo.get_record(patient_id)
        content = {"record": record, "version": version, **build(record)}
        with self._lock:
            self._items[patient_id] = (version, content)
            self._items.move_to_end(patient_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return content


class CohortTableCache:
    """The flat analysis table of what a center scope sees, rebuilt when the registry changes.

    Keyed by the repository's center scope and stamped with
    :meth:`~mst.registry.repository.Repository.registry_version`.
    """

    def __init__(self) -> None:
        self._items: dict[frozenset[str] | None, tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def get(self, repo: Repository, build: Callable[[Any], Any], version: int | None = None) -> Any:
        """The table for ``repo``'s scope, built from ``repo.load_frames()`` on a miss.

        ``build`` gets the scope's :class:`~mst.io.frames.CohortFrames` (read table by table,
        no record objects). ``version`` is the registry version when the caller has read it
        already.
        """
        version = repo.registry_version() if version is None else version
        key = repo.center_scope
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == version:
                return hit[1]
        table = build(repo.load_frames())
        with self._lock:
            self._items[key] = (version, table)
        return table


class VersionedCache:
    """Bounded LRU of values stamped with a version; a different version is a miss.

    Used for the cohort page's statistics, keyed by center scope and filters and stamped with
    :meth:`~mst.registry.repository.Repository.registry_version`.

    Parameters
    ----------
    size : int
        Entries kept (least recently used evicted first).
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[Any, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: Any, version: int) -> Any | None:
        """The value for ``key`` at ``version`` if cached, else ``None`` (nothing is built)."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == version:
                self._items.move_to_end(key)
                return hit[1]
        return None

    def get(self, key: Any, version: int, build: Callable[[], Any]) -> Any:
        """The value for ``key`` at ``version``, built on a miss."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == version:
                self._items.move_to_end(key)
                return hit[1]
        value = build()
        with self._lock:
            self._items[key] = (version, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


class TtlCache:
    """Values kept for a few seconds (center lists for filter menus: they rarely change).

    Parameters
    ----------
    seconds : float
        How long a value is reused.
    """

    def __init__(self, seconds: float = 30.0) -> None:
        self.seconds = seconds
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, build: Callable[[], Any]) -> Any:
        """The value for ``key``, rebuilt when older than ``seconds``."""
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.seconds:
                return hit[1]
        value = build()
        with self._lock:
            self._items[key] = (now, value)
        return value
