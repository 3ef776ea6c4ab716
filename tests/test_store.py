"""The store: migrations, the schema gate, URL errors, concurrent writers, the indexed due query."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select, text

from reminder import notes
from reminder.db import HEAD, REVISIONS, StoreError, open_store
from reminder.db.migrate import alembic_config, downgrade, upgrade
from reminder.db.models import Base, Note

REPO = Path(__file__).resolve().parents[1]
TABLES = {
    "notes",
    "reviews",
    "review_events",
    "vaults",
    "slots",
    "outbox",
    "meta",
    "forgotten_files",
    "alembic_version",
}


def test_revision_constants_match_the_scripts() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    chain = [rev.revision for rev in scripts.walk_revisions()][::-1]
    assert tuple(chain) == REVISIONS
    assert scripts.get_current_head() == HEAD


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_upgrade_downgrade_and_no_drift(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    engine = create_engine(url)
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) == TABLES
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) == TABLES
    engine.dispose()


def test_alembic_command_line_upgrades_a_checkout_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "REMINDER_DATABASE_URL": url}
    alembic = Path(sys.executable).parent / "alembic"
    out = subprocess.run([str(alembic), "upgrade", "head"], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)


def test_embedded_store_upgrades_itself_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    store.dispose()


def test_postgres_store_needs_an_explicit_upgrade(pg_url: str) -> None:
    with pytest.raises(StoreError, match="run `reminder db upgrade` first"):
        open_store(pg_url)
    open_store(pg_url, auto_upgrade=True).dispose()
    open_store(pg_url).dispose()


def test_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    open_store(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with pytest.raises(StoreError) as err:
        open_store(f"sqlite:///{path}")
    assert "newer version of reminder" in str(err.value) and "upgrade reminder" in str(err.value)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert not Path(str(path) + "-wal").exists()


def test_newer_database_on_the_command_line(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "newer.db"
    open_store(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff'")
    monkeypatch.setenv("REMINDER_DATABASE_URL", f"sqlite:///{path}")
    result = run_cli("list")
    assert result.exit_code == 2
    assert "newer version of reminder" in result.output


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:1/db", "cannot open database"),
        ("nosuchdb://alice:s3cr3t-pw@host/db", "cannot open database"),
        ("not a url", "cannot open database"),
        ("sqlite:////no/such/folder/x.db", "does not exist"),
    ],
)
def test_unopenable_url_is_one_line_with_the_password_masked(url: str, expected: str, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_DATABASE_URL", url)
    result = run_cli("list")
    assert result.exit_code == 2
    assert expected in result.output
    assert "s3cr3t" not in result.output
    assert result.output.strip().count("\n") == 0
    assert "Traceback" not in result.output


def test_a_store_locked_by_another_writer_is_one_line_not_a_traceback(tmp_path: Path, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Another writer holding the SQLite store past the busy timeout made `done` and `add` end in a traceback
    (SQLAlchemy's OperationalError with the SQL); now it is one `Error:` line and nothing is stored. Exit 1, not
    the 2 of a mistake: nothing was wrong with the command, and the service's supervisor, which ends the service
    when its first wake exits 2 (a store that cannot be opened at all), retries a wake that exits 1."""
    import reminder.db
    import reminder.lightwrite

    for module in (reminder.db, reminder.lightwrite):  # the store's and the light ledger's (`run --once`)
        monkeypatch.setattr(module, "SQLITE_BUSY_TIMEOUT_MS", 50)  # met at once instead of in 10 s
    path = tmp_path / "locked.db"
    monkeypatch.setenv("REMINDER_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("REMINDER_NTFY_SERVER", "http://127.0.0.1:9")  # never reached: the claim fails first
    monkeypatch.setenv("REMINDER_NTFY_TOPIC", "study-reviews")
    assert run_cli("add", "TCP handshake", "--first-study", "2024-07-07").exit_code == 0
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        for args in (("add", "UDP", "--first-study", "2024-07-07"), ("done", "tcp"), ("run", "--once")):
            result = run_cli(*args)
            assert result.exit_code == 1, (args, result.output)
            assert "database is locked" in result.output and result.output.startswith("Error: ")
            assert result.output.strip().count("\n") == 0 and "SQL" not in result.output
    finally:
        other.execute("ROLLBACK")
        other.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT title FROM notes").fetchall() == [("TCP handshake",)]
        assert conn.execute("SELECT count(*) FROM review_events").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM slots").fetchone() == (0,)  # the slot is still to be served


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    open_store(url).dispose()
    script = textwrap.dedent(
        f"""
        import sys
        from datetime import date
        from reminder import notes
        from reminder.db import open_store
        store = open_store({url!r})
        for i in range(60):
            with store.write() as s:
                notes.add_note(s, title=f"{{sys.argv[1]}}-{{i}}", first_studied_on=date(2024, 7, 7),
                               today=date(2024, 7, 12), ladder=(1, 4, 7, 14), extra_every=30)
            with store.write() as s:
                n = notes.resolve_note(s, f"{{sys.argv[1]}}-{{i}}")
                notes.mark_done(s, n, day=date(2024, 7, 12), today=date(2024, 7, 12), extra_every=30)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("a", "b", "c")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    store = open_store(url)
    with store.read() as session:
        titles = session.scalars(select(Note.title)).all()
        assert len(titles) == 180 and len(set(titles)) == 180
        assert notes.due_on(session, date(2024, 7, 12), 30) == []
    store.dispose()


def test_due_query_uses_the_pending_index(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'plan.db'}")
    with store.write() as session:
        for i in range(50):
            notes.add_note(
                session,
                title=f"n{i}",
                first_studied_on=date(2024, 1, 1),
                today=date(2024, 7, 1),
                ladder=(1, 4, 7, 14),
                extra_every=30,
            )
    with store.engine.connect() as conn:
        plan = conn.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT note_id FROM reviews JOIN notes ON notes.id = reviews.note_id "
                "WHERE reviews.done_on IS NULL AND reviews.due_on <= '2024-01-05' AND notes.archived_at IS NULL"
            )
        ).all()
    assert any("ix_reviews_pending_due" in row[-1] for row in plan), plan
    store.dispose()


def test_due_and_done_on_postgres(pg_url: str) -> None:
    store = open_store(pg_url, auto_upgrade=True)
    with store.write() as session:
        notes.add_note(
            session,
            title="Kubernetes 3.2 오브젝트",
            first_studied_on=date(2024, 7, 7),
            today=date(2024, 7, 12),
            ladder=(1, 4, 7, 14),
            extra_every=30,
        )
        notes.add_note(
            session,
            title="kubectl",
            first_studied_on=date(2024, 7, 12),
            today=date(2024, 7, 12),
            ladder=(1, 4, 7, 14),
            extra_every=30,
        )
    with store.read() as session:
        due = notes.due_on(session, date(2024, 7, 12), 30)
        assert [(d.title, d.stage, d.days_late) for d in due] == [("Kubernetes 3.2 오브젝트", 4, 1)]
        assert notes.resolve_note(session, "KUBERNETES").title == "Kubernetes 3.2 오브젝트"
    with store.write() as session:
        note = notes.resolve_note(session, "1")
        notes.mark_done(session, note, day=date(2024, 7, 12), today=date(2024, 7, 12), extra_every=30)
    with store.read() as session:
        assert notes.due_on(session, date(2024, 7, 12), 30) == []
    store.dispose()


def test_instants_are_stored_naive_utc_and_read_back_aware(any_db_url: str) -> None:
    """The stored form is the one reminder always wrote (so older rows and the light sqlite3 read paths read the
    same text); Python code only ever sees aware UTC, whatever zone it wrote in."""
    from datetime import UTC, datetime, timedelta, timezone

    seoul_morning = datetime(2024, 7, 12, 9, 30, 15, 250000, tzinfo=timezone(timedelta(hours=9)))
    store = open_store(any_db_url, auto_upgrade=True)
    try:
        with store.write() as session:
            note = notes.add_note(
                session,
                title="Pods",
                first_studied_on=date(2024, 7, 12),
                today=date(2024, 7, 12),
                ladder=(1, 4),
                extra_every=30,
            )
            note.created_at = seoul_morning
            session.flush()
            note_id = note.id
            # A row as an older release wrote it (naive UTC), straight through SQL.
            session.execute(
                text("UPDATE notes SET updated_at = :at WHERE id = :id"),
                {"at": datetime(2024, 7, 12, 1, 0), "id": note_id},
            )
        with store.read() as session:
            stored = session.execute(
                text("SELECT created_at FROM notes WHERE id = :id"), {"id": note_id}
            ).scalar_one()
            loaded = session.get(Note, note_id)
            assert loaded is not None
            created, updated = loaded.created_at, loaded.updated_at
    finally:
        store.dispose()

    if any_db_url.startswith("sqlite"):
        assert stored == "2024-07-12 00:30:15.250000"  # SQLAlchemy's SQLite text form, in UTC
        raw = sqlite3.connect(any_db_url.removeprefix("sqlite:///"))
        try:
            assert raw.execute("SELECT created_at FROM notes").fetchone()[0] == stored
        finally:
            raw.close()
    else:
        assert stored == datetime(2024, 7, 12, 0, 30, 15, 250000)  # timestamp without time zone
    assert created == seoul_morning and created.tzinfo is UTC
    assert updated == datetime(2024, 7, 12, 1, 0, tzinfo=UTC)
