"""The per-user cache of the IPD-IMGT/HLA lookup tables (mst.donors.table_cache): a cached
table is the built table; a bad, foreign or writable-by-others file is never trusted."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from mst.donors import ard, reference, table_cache


@pytest.fixture(scope="module")
def built() -> tuple[reference.ImgtTables, ard.Reduction]:
    return reference.build_imgt_tables(), ard.build_reduction()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MST_CACHE_DIR", str(folder))
    reference.imgt_tables.cache_clear()
    ard.reduction.cache_clear()
    yield folder
    reference.imgt_tables.cache_clear()
    ard.reduction.cache_clear()


def _files(folder: Path) -> dict[str, Path]:
    return {p.name.split("-")[0]: p for p in folder.glob("*.pickle")}


def test_first_process_writes_the_next_one_loads(cache: Path, built: tuple,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert reference.imgt_tables() == built[0]
    assert ard.reduction() == built[1]
    files = _files(cache)
    assert set(files) == {"imgt", "ard"}
    digest = table_cache.source_digest()
    assert all(digest in p.name for p in files.values())
    assert (cache.stat().st_mode & 0o777) == 0o700
    # a new process (fresh lru caches) loads the files: building is not called
    reference.imgt_tables.cache_clear()
    ard.reduction.cache_clear()

    def boom() -> None:
        raise AssertionError("built although a valid cache file exists")

    monkeypatch.setattr(reference, "build_imgt_tables", boom)
    monkeypatch.setattr(ard, "build_reduction", boom)
    assert reference.imgt_tables() == built[0]
    assert ard.reduction() == built[1]


@pytest.mark.parametrize("bad", ["truncated", "other type", "writable by others"])
def test_a_bad_file_is_rebuilt(cache: Path, built: tuple, bad: str) -> None:
    reference.imgt_tables()
    path = _files(cache)["imgt"]
    if bad == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif bad == "other type":
        path.write_bytes(pickle.dumps({"names": []}))
    else:  # a well-formed table that someone else could have written: not trusted
        forged = reference.ImgtTables(frozenset(), {}, {}, {})
        path.write_bytes(pickle.dumps(forged))
        os.chmod(path, 0o666)
    reference.imgt_tables.cache_clear()
    assert reference.imgt_tables() == built[0]
    reference.imgt_tables.cache_clear()  # and the file is replaced by a good one
    assert table_cache._trusted(path)
    with path.open("rb") as fh:
        assert pickle.load(fh) == built[0]


def test_empty_setting_turns_the_cache_off(tmp_path: Path, built: tuple,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MST_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert table_cache.cache_dir() is None
    assert table_cache.cached_tables("imgt-tables", reference.build_imgt_tables,
                                     reference.ImgtTables) == built[0]
    assert not list(tmp_path.rglob("*.pickle"))


def test_unwritable_folder_still_gives_the_tables(tmp_path: Path, built: tuple,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("MST_CACHE_DIR", str(blocker / "mst"))
    assert table_cache.cached_tables("ard-reduction", ard.build_reduction,
                                     ard.Reduction) == built[1]


def test_default_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MST_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert table_cache.cache_dir() == tmp_path / "mst"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert table_cache.cache_dir() == tmp_path / ".cache" / "mst"
