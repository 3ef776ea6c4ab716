"""A consistent copy of the SQLite store while the service keeps running (`reminder db backup PATH`).

SQLite's online backup API copies a snapshot of the database as one reader: in WAL mode it neither blocks the
runner's writes nor is blocked by them, and it includes what is committed in the -wal file but not yet
checkpointed (copying the .db file with `cp` would miss that, or catch a half-written page).

The copy is written to a temporary file beside the destination and renamed into place, so a crash or a full
disk never leaves a truncated file under the backup's name. PostgreSQL stores are backed up with pg_dump.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from reminder.config import mask_url
from reminder.db import SQLITE_BUSY_TIMEOUT_MS, StoreError, one_line
from reminder.sqlite_files import read_only_uri, sqlite_path


def _source_path(database_url: str) -> Path:
    try:
        parsed = make_url(database_url)
    except (ArgumentError, ValueError):
        raise StoreError("cannot back up {url}: not a database URL", url=mask_url(database_url)) from None
    backend = parsed.get_backend_name()
    if backend != "sqlite":
        raise StoreError(
            "cannot back up {url}: `reminder db backup` copies SQLite stores only; "
            "back up a {backend} store with its own tools (pg_dump for PostgreSQL)",
            url=mask_url(database_url),
            backend=backend,
        )
    found = sqlite_path(database_url)  # the file the store opens, by the same rule
    if found is None:
        raise StoreError("cannot back up {url}: an in-memory store has no file to copy", url=mask_url(database_url))
    path = found.absolute()
    if not path.is_file():
        raise StoreError("cannot back up {path}: no such database file", path=path)
    return path


def _check_destination(source: Path, dest: Path, overwrite: bool) -> None:
    if dest.is_dir():
        raise StoreError("cannot write backup {dest}: it is a folder; give a file name", dest=dest)
    if dest.exists() and dest.resolve() == source.resolve():
        raise StoreError("cannot write backup {dest}: it is the database itself", dest=dest)
    if dest.exists() and not overwrite:
        raise StoreError("cannot write backup {dest}: the file exists (use --overwrite to replace it)", dest=dest)
    if not dest.parent.exists():
        raise StoreError("cannot write backup {dest}: folder {parent} does not exist", dest=dest, parent=dest.parent)
    if not dest.parent.is_dir():
        raise StoreError("cannot write backup {dest}: {parent} is not a folder", dest=dest, parent=dest.parent)


def _copy(source: Path, tmp: Path) -> None:
    # mode=ro: the backup must never write to the live store, not even by creating it when it vanished.
    src = sqlite3.connect(read_only_uri(source), uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(tmp)
        try:
            # pages=-1 (the default) copies everything in one step under one read transaction: one snapshot,
            # never restarted by the runner's commits as a page-by-page copy would be.
            src.backup(dst)
            # The copy inherits WAL mode from the source's header; switching it back to a rollback journal
            # makes it one self-contained file (no -wal/-shm to carry along). The service turns WAL on again
            # when it opens a restored copy.
            dst.execute("PRAGMA journal_mode = DELETE")
            result = dst.execute("PRAGMA quick_check").fetchone()
            if not result or result[0] != "ok":
                raise StoreError("cannot back up {source}: the copy fails SQLite's integrity check", source=source)
        finally:
            dst.close()
    finally:
        src.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _install(tmp: Path, dest: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, dest)
        return
    # A hard link fails if dest appeared since the check above: no window in which another backup is clobbered.
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise StoreError(
            "cannot write backup {dest}: the file exists (use --overwrite to replace it)", dest=dest
        ) from None
    except OSError:
        # Some file systems (FAT, some network mounts) have no hard links; fall back to check-then-rename.
        if dest.exists():
            raise StoreError(
                "cannot write backup {dest}: the file exists (use --overwrite to replace it)", dest=dest
            ) from None
        os.replace(tmp, dest)
        return
    tmp.unlink()


def backup_sqlite(database_url: str, dest: Path, *, overwrite: bool = False) -> Path:
    """Copy the SQLite store at ``database_url`` to ``dest`` and return the absolute path of the copy.

    The copy is a standalone SQLite file (rollback journal, readable by `sqlite3` or `reminder --database`),
    created with mode 0600 because the store holds the signing key. Raises StoreError with a one-line message
    for a non-SQLite URL, a missing source, an existing ``dest`` (unless ``overwrite``) or an unwritable one.
    """
    source = _source_path(database_url)
    dest = Path(dest).expanduser().absolute()
    _check_destination(source, dest, overwrite)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise StoreError("cannot write backup {dest}: {reason}", dest=dest, reason=exc.strerror or exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _copy(source, tmp)
        _fsync(tmp)
        _install(tmp, dest, overwrite)
        # The rename is durable only once the folder's entry is on disk.
        with contextlib.suppress(OSError):
            _fsync(dest.parent)
    except sqlite3.Error as exc:
        raise StoreError("cannot back up {source}: {reason}", source=source, reason=one_line(exc)) from None
    except OSError as exc:
        raise StoreError("cannot write backup {dest}: {reason}", dest=dest, reason=exc.strerror or exc) from None
    finally:
        for leftover in [tmp, *(tmp.with_name(tmp.name + sfx) for sfx in ("-journal", "-wal", "-shm"))]:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return dest
