"""`reminder due` reads an up-to-date SQLite file without SQLAlchemy: it must answer exactly like the store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.dialects import sqlite

from reminder import notes
from reminder.db import open_store
from reminder.duelist import DUE_SQL_SQLITE, due_from_sqlite_file
from reminder.schedulers import SrState


def test_light_sql_is_what_sqlalchemy_compiles() -> None:
    compiled = notes.due_statement(date(2024, 7, 12)).compile(dialect=sqlite.dialect())
    assert " ".join(str(compiled).split()) == DUE_SQL_SQLITE
    assert len(compiled.positiontup or ()) == DUE_SQL_SQLITE.count("?")


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


def test_an_older_or_missing_file_takes_the_store_path(tmp_path: Path) -> None:
    assert due_from_sqlite_file(tmp_path / "absent.db", date(2024, 1, 1), 30) is None
    path = tmp_path / "old.db"
    open_store(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000'")
    assert due_from_sqlite_file(path, date(2024, 1, 1), 30) is None


def test_due_command_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    _fill(path)
    code = (
        "import sys\n"
        "from reminder.cli import cli\n"
        "try:\n"
        "    cli.main(['due', '--json', '--on', '2024-10-27'], standalone_mode=False)\n"
        "finally:\n"
        "    print('SQLALCHEMY' if 'sqlalchemy' in sys.modules else 'LIGHT', file=sys.stderr)\n"
    )
    env = {
        "REMINDER_DATABASE_URL": f"sqlite:///{path}",
        "REMINDER_TIMEZONE": "Asia/Seoul",
        "REMINDER_CONFIG": str(tmp_path / "none.toml"),
        "HOME": str(tmp_path),
    }
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stderr.strip().endswith("LIGHT")
    assert json.loads(out.stdout)["count"] > 0
