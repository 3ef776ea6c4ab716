"""`due`, `list`, `show` and `status` read an up-to-date SQLite file without SQLAlchemy: they must answer exactly
like the store, through SQL compiled from the store's own statements."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from reminder import compile_sql, compiled_sql, notes, runner
from reminder.config import load_settings
from reminder.db import open_store
from reminder.db.models import Outbox, Slot
from reminder.lightread import (
    due_from_sqlite_file,
    list_from_sqlite_file,
    note_from_sqlite_file,
    status_from_sqlite_file,
)
from reminder.revision import HEAD
from reminder.schedulers import SrState


def test_compiled_sql_is_what_sqlalchemy_compiles_now() -> None:
    # A changed statement, model or schema revision fails here until `python -m reminder.compile_sql` is run.
    assert Path(compiled_sql.__file__).read_text(encoding="utf-8") == compile_sql.render()
    assert compiled_sql.REVISION == HEAD
    assert compile_sql.main(["--check"]) == 0


def _fill(path: Path) -> None:
    store = open_store(f"sqlite:///{path}")
    day = date(2024, 10, 27)
    with store.write() as s:
        for i in range(120):
            first = day - timedelta(days=i)
            note = notes.add_note(
                s,
                title=f"note {i:03d} 한국어",
                first_studied_on=first,
                today=day,
                ladder=(1, 4, 7, 14),
                extra_every=30,
                link=f"obsidian://open?file={i}",
            )
            if i % 3 == 0 and i > 0:
                notes.mark_done(s, note, day=day, today=day, extra_every=30, stage=1)
            if i % 7 == 0 and i > 20:
                notes.mark_done(s, note, day=day, today=day, extra_every=30)
            if i % 11 == 0:
                notes.mark_done(s, note, day=day, today=day, extra_every=30, long_term=True)
        # Notes on FSRS and on the SR plugin's schedule: due when their scheduler says, through the same rows.
        for i in range(30):
            first = day - timedelta(days=3 * i)
            note = notes.add_note(
                s,
                title=f"fsrs {i:02d}",
                first_studied_on=first,
                today=day,
                ladder=(1, 4, 7, 14),
                extra_every=30,
                scheduler="fsrs",
            )
            if i % 4 == 1 and note.reviews[0].due_on <= day:
                notes.mark_done(s, note, day=day, today=day, extra_every=30, rating="again")
            sr = notes.add_note(s, title=f"sr {i:02d}", first_studied_on=first, today=day, ladder=(1,), extra_every=30)
            notes.set_scheduler(sr, "sr", extra_every=30, sr=SrState(day + timedelta(days=i - 15), 5, 250))
        notes.snooze_notes(s, [5, 6], day + timedelta(days=1))
    store.dispose()


def test_both_paths_return_the_same_notes(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    _fill(path)
    store = open_store(f"sqlite:///{path}")
    titles: set[str] = set()
    for day in (date(2024, 10, 27), date(2024, 10, 28), date(2024, 12, 1), date(2024, 7, 1)):
        with store.read() as s:
            expected = notes.due_on(s, day, 30)
        assert due_from_sqlite_file(path, day, 30) == expected
        titles |= {d.title for d in expected}
    assert len(expected) < 180
    assert any(t.startswith("fsrs") for t in titles) and any(t.startswith("sr") for t in titles)
    store.dispose()


def test_list_and_show_read_the_same_views_as_the_store(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    _fill(path)
    store = open_store(f"sqlite:///{path}")
    with store.write() as s:  # an archived note: listed only with --all, shown by neither path
        s.get(notes.Note, 9).archived_at = notes.utcnow()
    for day in (date(2024, 10, 27), date(2024, 12, 1)):
        for archived in (False, True):
            with store.read() as s:
                expected = notes.list_notes(s, day, 30, include_archived=archived)
            assert list_from_sqlite_file(path, day, 30, include_archived=archived) == expected
            with store.read() as s:  # --limit: the first notes, the same on both paths
                assert notes.list_notes(s, day, 30, include_archived=archived, limit=7) == expected[:7]
            assert list_from_sqlite_file(path, day, 30, include_archived=archived, limit=7) == expected[:7]
        assert len(expected) == 180 and any(v.archived for v in expected)
        with store.read() as s:  # the rows give the views the ORM objects give
            orm = s.scalars(select(notes.Note).order_by(notes.Note.id)).all()
            assert expected == [notes.view_note(n, day, 30) for n in orm]
        # ids, an exact title, a unique prefix in other letter case, a prefix with LIKE's own characters
        for ref in ("1", "#5", "12", "33", "77", "130", "150", "note 004 한국어", "NOTE 099", "note 1%", "note_"):
            with store.read() as s:
                try:
                    view = notes.view_note(notes.resolve_note(s, ref), day, 30, with_history=True)
                except notes.NoteError:
                    view = None  # the light path leaves the refusal to the store path
            assert note_from_sqlite_file(path, ref, day, 30) == view, ref
            assert view is None or ref not in ("note 1%", "note_")
        assert note_from_sqlite_file(path, "NOTE 099", day, 30).id == 100
    for ref in ("9", "999", "note 00", "no such note"):  # archived, absent, ambiguous, nothing matches
        assert note_from_sqlite_file(path, ref, day, 30) is None
    store.dispose()


SLOT_FIELDS = ("id", "local_key", "zone", "scheduled_at", "claimed_at", "claimed_by", "due_count")
OUTBOX_FIELDS = ("id", "kind", "status", "attempts", "next_attempt_at", "last_error", "ntfy_id", "sent_at")


def _rows(rows: list, fields: tuple[str, ...]) -> list[tuple]:
    return [tuple(getattr(r, f) for f in fields) for r in rows]


def test_status_reads_what_the_store_path_reads(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    _fill(path)
    store = open_store(f"sqlite:///{path}")
    at = datetime(2024, 10, 26, 23, 0, tzinfo=UTC)
    with store.write() as s:
        for day in range(3):  # digest slots, and a later nudge that status leaves out
            when = at + timedelta(days=day)
            s.add(
                Slot(
                    local_key=f"2024-10-{27 + day}T08:00",
                    zone="Asia/Seoul",
                    scheduled_at=when,
                    claimed_at=when + timedelta(seconds=3),
                    claimed_by="test",
                    due_count=day + 4,
                )
            )
        s.add(
            Slot(
                local_key="nudge@2024-10-30T21:00",
                zone="Asia/Seoul",
                scheduled_at=at + timedelta(days=4),
                claimed_at=at + timedelta(days=4),
                claimed_by="test",
                due_count=1,
            )
        )
        for i, state in enumerate(["sent", "sent", "pending", "sending", *["failed"] * 7, "superseded"]):
            s.add(
                Outbox(
                    kind="digest",
                    payload="{}",
                    status=state,
                    attempts=i,
                    created_at=at,
                    next_attempt_at=at + timedelta(minutes=i) if state in ("pending", "sending") else None,
                    last_error=f"503 try {i}" if state != "sent" else None,
                    ntfy_id=f"id{i}" if state == "sent" else None,
                    sent_at=at + timedelta(hours=i) if state == "sent" else None,
                )
            )
    settings = load_settings({"timezone": "Asia/Seoul"}, environ={}, config_path=tmp_path / "none.toml")
    now = datetime(2024, 10, 29, 12, 0, tzinfo=UTC)
    expected = runner.status(store, settings, now)
    got = status_from_sqlite_file(path, settings.cron, settings.timezone, now)
    assert got is not None
    assert _rows([got.last_slot], SLOT_FIELDS) == _rows([expected.last_slot], SLOT_FIELDS)
    assert got.last_slot.local_key == "2024-10-29T08:00" and got.last_slot.claimed_at.tzinfo is not None
    assert got.next_slot == expected.next_slot
    assert _rows(got.pending, OUTBOX_FIELDS) == _rows(expected.pending, OUTBOX_FIELDS)
    assert [o.status for o in got.pending] == ["pending", "sending"]
    assert _rows(got.failed, OUTBOX_FIELDS) == _rows(expected.failed, OUTBOX_FIELDS)
    assert len(got.failed) == 5
    assert _rows([got.last_sent], OUTBOX_FIELDS) == _rows([expected.last_sent], OUTBOX_FIELDS)
    assert got.last_sent.ntfy_id == "id1"
    store.dispose()


def test_status_of_an_empty_store_and_an_older_file(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    open_store(f"sqlite:///{path}").dispose()
    now = datetime(2024, 10, 29, 12, 0, tzinfo=UTC)
    got = status_from_sqlite_file(path, "0 8 * * *", "Asia/Seoul", now)
    assert got is not None
    assert (got.last_slot, got.pending, got.failed, got.last_sent) == (None, [], [], None)
    assert got.next_slot == datetime(2024, 10, 30, 8, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000'")
    assert status_from_sqlite_file(path, "0 8 * * *", "Asia/Seoul", now) is None


def test_an_older_or_missing_file_takes_the_store_path(tmp_path: Path) -> None:
    assert due_from_sqlite_file(tmp_path / "absent.db", date(2024, 1, 1), 30) is None
    path = tmp_path / "old.db"
    open_store(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000'")
    assert due_from_sqlite_file(path, date(2024, 1, 1), 30) is None
    assert list_from_sqlite_file(path, date(2024, 1, 1), 30) is None


def light_env(tmp_path: Path, path: Path) -> dict[str, str]:
    return {
        "REMINDER_DATABASE_URL": f"sqlite:///{path}",
        "REMINDER_TIMEZONE": "Asia/Seoul",
        "REMINDER_CONFIG": str(tmp_path / "none.toml"),
        "HOME": str(tmp_path),
    }


def run_cold(argv: list[str], env: dict[str, str]) -> tuple[str, bool]:
    """``reminder ARGV`` in a fresh interpreter: (its stdout, whether SQLAlchemy was loaded by the end)."""
    code = (
        "import sys\n"
        "from reminder.cli import cli\n"
        "try:\n"
        f"    cli.main({argv!r}, standalone_mode=False)\n"
        "finally:\n"
        "    print('SQLALCHEMY' if 'sqlalchemy' in sys.modules else 'LIGHT', file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return out.stdout, out.stderr.strip().endswith("SQLALCHEMY")


@pytest.mark.parametrize(
    "argv",
    [
        ["due", "--json", "--on", "2024-10-27"],
        ["list", "--json"],
        ["show", "3", "--json"],
        ["show", "note 004", "--json"],
        ["status", "--json"],
    ],
)
def test_read_commands_do_not_import_sqlalchemy(tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "r.db"
    _fill(path)
    stdout, loaded_sqlalchemy = run_cold(argv, light_env(tmp_path, path))
    assert not loaded_sqlalchemy
    assert json.loads(stdout)


@pytest.mark.parametrize(
    "argv",
    [
        ["add", "TCP handshake", "--first-study", "2024-10-20"],
        ["done", "3", "--stage", "1", "--on", "2024-10-27"],
        ["edit", "3", "--pages", "p1"],
    ],
)
def test_write_commands_load_only_what_they_use(tmp_path: Path, argv: list[str]) -> None:
    # Each of these costs a cold start: the migration tool, the YAML parser, the HTTP client, the cron parser and
    # the web server are for other commands (a note from a write-back vault would load the vault code).
    path = tmp_path / "r.db"
    _fill(path)
    code = (
        "import sys\n"
        "from reminder.cli import cli\n"
        f"cli.main({argv!r}, standalone_mode=False)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}), file=sys.stderr)\n"
    )
    env = light_env(tmp_path, path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    loaded = set(json.loads(out.stderr.strip().splitlines()[-1].replace("'", '"')))
    assert "sqlalchemy" not in loaded  # they write through reminder.lightwrite
    assert not loaded & {"alembic", "yaml", "requests", "croniter", "waitress", "mako", "segno", "itsdangerous"}


def test_status_with_a_vault_finds_a_left_copy_without_sqlalchemy(tmp_path: Path) -> None:
    """The learner's usual store has a vault registered: status walks it for write-back copies a crash left,
    still on the light path."""
    path = tmp_path / "r.db"
    _fill(path)
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "note.md").write_text("---\n첫 학습날: 2024-10-01\n1일후: false\n---\n", encoding="utf-8")
    (vault / ".note.md.reminder-backup").write_text("the learner's bytes", encoding="utf-8")
    env = light_env(tmp_path, path)
    subprocess.run([sys.executable, "-m", "reminder", "vault", "add", str(vault)], env=env, check=True)
    stdout, loaded_sqlalchemy = run_cold(["status", "--json"], env)
    assert not loaded_sqlalchemy
    assert json.loads(stdout)["write_back_copies"] == [str(vault / ".note.md.reminder-backup")]
    stdout, loaded_sqlalchemy = run_cold(["status"], env)
    assert not loaded_sqlalchemy
    assert f"{vault / '.note.md.reminder-backup'}: left by an interrupted write-back of {vault / 'note.md'}" in stdout
