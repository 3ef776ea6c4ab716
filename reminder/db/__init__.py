"""Opening the store: engine, sessions, SQLite pragmas, and the schema-version gate.

The embedded SQLite store upgrades itself on first use. A PostgreSQL store is upgraded explicitly with
``reminder db upgrade`` (several processes may share it; one of them should migrate, not all at once).
A database written by a newer reminder is refused before anything touches it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from reminder import sqlite_files
from reminder.config import mask_url
from reminder.errors import StoreError as StoreError  # re-exported: defined with the other user errors
from reminder.revision import HEAD, REVISIONS
from reminder.sqlite_files import FOLDER_MODE, create_private_file, is_sqlite_file, make_private, read_only_uri
from reminder.sqlite_files import SQLITE_BUSY_TIMEOUT_MS as SQLITE_BUSY_TIMEOUT_MS


def _read_sqlite_revision(path: Path) -> str | None:
    """Read alembic_version without writing anything (read-only URI), so a newer file is left untouched."""
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
    except sqlite3.Error as exc:
        raise StoreError("cannot open database {path}: {reason}", path=path, reason=exc) from None
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return None
        raise StoreError("cannot open database {path}: {reason}", path=path, reason=exc) from None
    finally:
        conn.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that later upgrades to a write can fail
        # with SQLITE_BUSY at once in WAL mode, whatever the busy timeout. Readers stay deferred.
        if conn.get_execution_options().get("sqlite_write", False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Store:
    """An engine and its session factories. ``write()`` for changes, ``read()`` for queries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        write_engine = engine.execution_options(sqlite_write=True) if self.is_sqlite else engine
        self._write = sessionmaker(write_engine, expire_on_commit=False)
        self._read = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._write.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def create_store_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
        kwargs: dict = {}
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        if parsed.get_backend_name() == "postgresql" and "options" not in parsed.query:
            # The due query's cost estimate is far above what it reads (see notes.due_statement), enough to make
            # PostgreSQL compile it with JIT: 150 ms of compiling for a 10 ms query. The store's queries are all
            # small index lookups, which JIT never pays for.
            kwargs["connect_args"] = {"options": "-c jit=off"}
        engine = create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise describe_db_error(url, exc) from None
    except ImportError as exc:
        raise StoreError(
            "cannot open database {url}: driver not installed ({driver}); for PostgreSQL install reminder[postgres]",
            url=mask_url(url),
            driver=exc.name,
        ) from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _db_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return row[0] if row else None


def one_line(exc: BaseException) -> str:
    """A store error's reason, for a log line or a message: the driver's first line, without the SQL and its
    parameters (which can hold what the learner wrote) that SQLAlchemy appends, and with any password masked."""
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    return mask_url(lines[0] if lines else type(orig).__name__)


def describe_db_error(url: str, exc: BaseException) -> StoreError:
    return StoreError("cannot open database {url}: {reason}", url=mask_url(url), reason=one_line(exc))


def check_revision(url: str, revision: str | None) -> None:
    if revision is not None and revision not in REVISIONS:
        raise StoreError(
            "database {url} was written by a newer version of reminder (schema {revision}); upgrade reminder to use it",
            url=mask_url(url),
            revision=revision,
        )


def open_store(url: str, *, auto_upgrade: bool | None = None, create_dirs: bool = False) -> Store:
    """Open the store at ``url``, ready for use at the current schema.

    ``auto_upgrade`` defaults to True for SQLite (the embedded store migrates itself) and False otherwise.
    ``create_dirs`` creates the SQLite file's folder (used for the default location in the data dir).
    """
    sqlite_path = sqlite_files.sqlite_path(url)  # a URL SQLAlchemy cannot read fails in create_store_engine
    if sqlite_path is not None:
        _prepare_sqlite_file(url, sqlite_path, create_dirs=create_dirs)
    engine = create_store_engine(url)
    try:
        revision = _db_revision(engine)
    except DBAPIError as exc:
        engine.dispose()
        raise describe_db_error(url, exc) from None
    check_revision(url, revision)
    if revision != HEAD:
        if auto_upgrade is None:
            auto_upgrade = engine.dialect.name == "sqlite"
        if not auto_upgrade:
            engine.dispose()
            if revision is None:
                raise StoreError("database {url} is empty; run `reminder db upgrade` first", url=mask_url(url))
            raise StoreError(
                "database {url} is at schema {revision}; run `reminder db upgrade` first",
                url=mask_url(url),
                revision=revision,
            )
        from reminder.db.migrate import upgrade

        try:
            upgrade(engine)
        except DBAPIError as exc:
            engine.dispose()
            raise describe_db_error(url, exc) from None
    if sqlite_path is not None:
        make_private(sqlite_path)  # the -wal and -shm files exist now
    return Store(engine)


def _prepare_sqlite_file(url: str, path: Path, *, create_dirs: bool) -> None:
    """Refuse a file that is not a database, check its schema, and make the files the owner's alone."""
    try:
        if path.exists():
            if path.is_dir():
                raise StoreError("cannot open database {url}: {path} is a folder", url=mask_url(url), path=path)
            if not is_sqlite_file(path):
                raise StoreError(
                    "cannot open database {url}: {path} exists and is not an SQLite database "
                    "(refusing to overwrite it)",
                    url=mask_url(url),
                    path=path,
                )
            check_revision(url, _read_sqlite_revision(path))
        else:
            if create_dirs:
                # The default data folder is reminder's own: nobody else needs to list it.
                path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
                path.parent.chmod(FOLDER_MODE)
            elif not path.parent.is_dir():
                raise StoreError(
                    "cannot open database {url}: folder {parent} does not exist", url=mask_url(url), parent=path.parent
                )
            create_private_file(path)
        if create_dirs and path.parent.stat().st_mode & 0o777 != FOLDER_MODE:
            path.parent.chmod(FOLDER_MODE)  # a data folder made by an older version
        make_private(path)
    except OSError as exc:
        raise StoreError(
            "cannot open database {url}: {reason}", url=mask_url(url), reason=exc.strerror or exc
        ) from None
