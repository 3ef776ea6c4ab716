"""`backup_sqlite`: a consistent copy of a live store, and the one-line refusals a user can run into."""

from __future__ import annotations

import sqlite3
import stat
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from reminder.db import HEAD, StoreError, open_store
from reminder.db.backup import backup_sqlite
from reminder.db.models import Meta, Note


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _add_note(store, title: str) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2024, 7, 7, 8, 0)
    with store.write() as session:
        session.add(
            Note(
                title=title,
                first_studied_on=date(2024, 7, 7),
                ladder="1,4,7,14",
                created_at=now,
                updated_at=now,
            )
        )


@pytest.fixture
def live_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real store with two committed notes, still open (as the running service keeps it)."""
    db = tmp_path / "data" / "reminder.db"
    db.parent.mkdir()
    store = open_store(_url(db))
    _add_note(store, "Kubernetes 3.2 objects")
    _add_note(store, "Pods and controllers")
    with store.write() as session:
        session.add(Meta(key="secret_key", value="not-a-real-key"))
    yield db, store
    store.dispose()


def _titles(path: Path) -> list[str]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT title FROM notes ORDER BY id")]
    finally:
        conn.close()


def test_backup_while_another_connection_is_writing(live_store, tmp_path: Path) -> None:
    db, _store = live_store
    # The committed notes are still in the -wal file (not checkpointed): a plain file copy of reminder.db
    # would miss them, the backup must not.
    wal = db.with_name(db.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0

    writer = sqlite3.connect(db, isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO notes (title, first_studied_on, ladder, created_at, updated_at) "
            "VALUES ('uncommitted', '2024-07-08', '1,4,7,14', '2024-07-08 08:00:00', '2024-07-08 08:00:00')"
        )
        # The writer holds the write lock for the whole backup: the backup reads a snapshot beside it.
        dest = backup_sqlite(_url(db), tmp_path / "reminder-2024-07-08.db")
        writer.execute("COMMIT")
    finally:
        writer.close()

    assert dest == tmp_path / "reminder-2024-07-08.db"
    assert _titles(dest) == ["Kubernetes 3.2 objects", "Pods and controllers"]
    # The live store kept the writer's row: the backup did not get in its way.
    assert _titles(db) == ["Kubernetes 3.2 objects", "Pods and controllers", "uncommitted"]
    # One standalone file: no -wal/-shm beside it that a `cp` of the backup could leave behind, no temp file.
    assert sorted(p.name for p in tmp_path.iterdir() if "reminder-2024" in p.name) == ["reminder-2024-07-08.db"]
    # It holds the signing key: readable by its owner only.
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_backup_opens_as_a_store_at_the_current_schema(live_store, tmp_path: Path) -> None:
    db, _store = live_store
    dest = backup_sqlite(_url(db), tmp_path / "copy.db")

    restored = open_store(_url(dest), auto_upgrade=False)
    try:
        with restored.read() as session:
            titles = session.scalars(select(Note.title).order_by(Note.id)).all()
            key = session.get(Meta, "secret_key")
    finally:
        restored.dispose()
    assert titles == ["Kubernetes 3.2 objects", "Pods and controllers"]
    assert key is not None and key.value == "not-a-real-key"
    conn = sqlite3.connect(dest)
    try:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)
    finally:
        conn.close()


def test_existing_destination_is_kept_unless_overwrite(live_store, tmp_path: Path) -> None:
    db, store = live_store
    backups = tmp_path / "backups"
    backups.mkdir()
    dest = backups / "copy.db"
    backup_sqlite(_url(db), dest)
    _add_note(store, "Services")

    with pytest.raises(StoreError, match="exists") as err:
        backup_sqlite(_url(db), dest)
    assert "--overwrite" in str(err.value)
    assert _titles(dest) == ["Kubernetes 3.2 objects", "Pods and controllers"]

    backup_sqlite(_url(db), dest, overwrite=True)
    assert _titles(dest) == ["Kubernetes 3.2 objects", "Pods and controllers", "Services"]
    # No temporary file is left behind either way.
    assert sorted(p.name for p in backups.iterdir()) == ["copy.db"]


def test_backup_refuses_to_replace_the_database_itself(live_store) -> None:
    db, _store = live_store
    with pytest.raises(StoreError, match="the database itself"):
        backup_sqlite(_url(db), db, overwrite=True)
    assert len(_titles(db)) == 2


def test_postgresql_url_is_refused_without_showing_the_password(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as err:
        backup_sqlite("postgresql+psycopg://reminder:hunter2@db.internal/reminder", tmp_path / "x.db")
    message = str(err.value)
    assert "SQLite" in message and "pg_dump" in message
    assert "hunter2" not in message
    assert "\n" not in message
    assert not (tmp_path / "x.db").exists()


def test_missing_source_is_refused_and_not_created(tmp_path: Path) -> None:
    source = tmp_path / "nowhere.db"
    with pytest.raises(StoreError, match="no such database file"):
        backup_sqlite(_url(source), tmp_path / "copy.db")
    assert not source.exists()
    assert not (tmp_path / "copy.db").exists()


def test_a_file_that_is_not_sqlite_is_reported_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "vault"
    folder.mkdir()
    source = folder / "notes.txt"
    source.write_text("this is not a database\n" * 200, encoding="utf-8")
    with pytest.raises(StoreError) as err:
        backup_sqlite(_url(source), folder / "copy.db")
    assert "not a database" in str(err.value)
    assert "\n" not in str(err.value)
    # The half-made copy is removed: only the user's file is left.
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    ("make_dest", "reason"),
    [
        (lambda tmp: tmp / "missing-folder" / "copy.db", "does not exist"),
        # The tests may run as root, so chmod cannot make a folder unwritable: use places root cannot write.
        (lambda tmp: tmp / "data" / "reminder.db" / "copy.db", "is not a folder"),
        (lambda tmp: tmp, "it is a folder"),
        # sysfs refuses new files even to root (EACCES, or EROFS where it is mounted read-only).
        (lambda tmp: Path("/sys/reminder-backup.db"), "cannot write backup /sys/reminder-backup.db: "),
    ],
    ids=["missing-folder", "parent-is-a-file", "destination-is-a-folder", "folder-refuses-writes"],
)
def test_unwritable_destination_is_refused(live_store, tmp_path: Path, make_dest, reason: str) -> None:
    db, _store = live_store
    dest = make_dest(tmp_path)
    with pytest.raises(StoreError, match=reason) as err:
        backup_sqlite(_url(db), dest)
    assert "\n" not in str(err.value)
    assert str(dest) in str(err.value)
