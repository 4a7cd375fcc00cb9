"""Per-user cache of the lookup tables built from the shipped IPD-IMGT/HLA release files.

Building the tables (:func:`mst.donors.reference.imgt_tables`,
:func:`mst.donors.ard.reduction`) reads about 125,000 lines of the release files, about half
a second, in every process that compares or checks an HLA typing. The built tables are kept
in a cache file per user, like Python's own ``.pyc`` files: the next process loads them in
a few hundredths of a second.

* **Where**: ``$MST_CACHE_DIR`` if set (empty: no cache), else ``$XDG_CACHE_HOME/mst``, else
  ``~/.cache/mst``; the folder is created private (mode 700).
* **When it is used**: the file name carries a SHA-256 digest of the release files and of
  the code that builds the tables (plus the Python version), so another release, an edited
  file or another version of this code builds afresh and never reads a stale table. A file
  that cannot be read, is not of the expected type, is not owned by the user or is writable
  by others is ignored (the tables are built and the file replaced).
* **Not shipped**: the tables are derived data; the package distributes only the unmodified
  release files (their licence, CC BY-ND, asks for that), and each machine derives its own.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: Release files the tables are built from (paths under ``mst/data/<IMGT_DIR>/``).
SOURCE_FILES: tuple[str, ...] = (
    "release_version.txt",
    "Allelelist.txt",
    "wmda/hla_nom_g.txt",
    "wmda/hla_nom_p.txt",
    "wmda/rel_dna_ser.txt",
    "wmda/rel_ser_ser.txt",
)
#: Modules whose code builds the tables (their source is part of the digest).
BUILDER_MODULES: tuple[str, ...] = ("reference.py", "ard.py", "table_cache.py")


def cache_dir() -> Path | None:
    """The cache folder (see the module docstring), or None when caching is off.

    Returns
    -------
    pathlib.Path or None
        ``$MST_CACHE_DIR``, ``$XDG_CACHE_HOME/mst`` or ``~/.cache/mst``; None for an empty
        ``MST_CACHE_DIR``.
    """
    env = os.environ.get("MST_CACHE_DIR")
    if env is not None:
        return Path(env) if env.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mst"


@lru_cache(maxsize=1)
def source_digest() -> str:
    """SHA-256 (hex, first 20 characters) of the release files and the builders' code.

    Returns
    -------
    str
        Changes with any byte of :data:`SOURCE_FILES`, of :data:`BUILDER_MODULES` or with
        the Python version.
    """
    from mst.donors.reference import IMGT_DIR

    h = hashlib.sha256(f"python {sys.version_info[0]}.{sys.version_info[1]}\n".encode())
    data = resources.files("mst.data").joinpath(IMGT_DIR)
    for name in SOURCE_FILES:
        h.update(name.encode() + b"\0" + data.joinpath(name).read_bytes() + b"\0")
    here = resources.files("mst.donors")
    for name in BUILDER_MODULES:
        h.update(name.encode() + b"\0" + here.joinpath(name).read_bytes() + b"\0")
    return h.hexdigest()[:20]


def _trusted(path: Path) -> bool:
    # Only a file of this user that nobody else can write is unpickled.
    try:
        st = path.stat()
    except OSError:
        return False
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def cached_tables(name: str, build: Callable[[], T], kind: type) -> T:
    """The tables ``build()`` returns, from the cache when a valid file is there.

    Parameters
    ----------
    name : str
        Short name of the tables (part of the file name).
    build : callable
        Builds the tables from the release files.
    kind : type
        Type the tables must have; a cached object of another type is ignored.

    Returns
    -------
    object
        The tables, equal to ``build()``'s.
    """
    folder = cache_dir()
    if folder is None:
        return build()
    path = folder / f"{name}-{source_digest()}.pickle"
    if _trusted(path):
        try:
            with path.open("rb") as fh:
                obj = pickle.load(fh)
            if isinstance(obj, kind):
                return obj  # type: ignore[no-any-return]
        except Exception:  # any unreadable cache file is rebuilt
            pass
    tables = build()
    _store(folder, path, tables)
    return tables


def _store(folder: Path, path: Path, obj: object) -> None:
    # Written to a temporary file and renamed: a reader never sees half a file. A folder
    # that cannot be written only means that the next process builds the tables again.
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass
