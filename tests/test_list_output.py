"""`reminder list` and `list --json` print byte for byte what they printed before their per-note work was made
cheaper, on a generated store of every kind of note: ladders of several lengths, FSRS and SR-plugin notes,
long-term, snoozed, archived and vault notes. The expected files in tests/data/list_output were written by the
version before that change; the store path (SQLAlchemy) and the light path must both print them."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from freezegun import freeze_time

from reminder import notes
from reminder.cli import cli
from reminder.db import open_store
from reminder.schedulers import SrState

EXPECTED = Path(__file__).resolve().parent / "data" / "list_output"
VAULT = Path(__file__).resolve().parent / "data" / "vault"
DAY = date(2026, 2, 15)
LADDERS = [(1, 4, 7, 14), (1, 3), (2, 5, 9, 20, 45), (1,), (1, 4, 7, 14, 30, 60)]
RUNS = {
    "list.json": ["list", "--json"],
    "list.txt": ["list"],
    "list-all.json": ["list", "--all", "--json"],
    "list-all.txt": ["list", "--all"],
}


def fill(tmp_path: Path, url: str) -> None:
    """The generated store: the test vault synced (one of its files then removed, so its note is archived),
    then 300 notes made through the store's own rules."""
    runner = CliRunner()
    folder = tmp_path / "study"
    shutil.copytree(VAULT, folder)
    env = {"REMINDER_DATABASE_URL": url}
    with freeze_time("2026-02-01 03:00:00"):
        for argv in (["vault", "add", str(folder)], ["sync"]):
            result = runner.invoke(cli, argv, env=env, catch_exceptions=False)
            assert result.exit_code == 0, result.output
    (folder / "Notion" / "해시 테이블.md").unlink()
    with freeze_time("2026-02-10 03:00:00"):
        result = runner.invoke(cli, ["sync"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    store = open_store(url)
    with store.write() as s:
        for i in range(300):
            first = DAY - timedelta(days=(i * 37) % 400)
            kind = i % 10
            note = notes.add_note(
                s,
                title=f"note {i:03d} " + ("복습 한국어 제목이 아주 길어서 잘리는 노트" if i % 13 == 0 else "title"),
                first_studied_on=first,
                today=DAY,
                ladder=LADDERS[i % len(LADDERS)],
                extra_every=30,
                subject=None if i % 4 == 0 else f"subject {i % 6} 과목",
                source="book" if i % 5 == 0 else None,
                pages=f"{i}-{i + 3}" if i % 5 == 0 else None,
                level="상" if i % 7 == 0 else None,
                link=f"obsidian://open?file={i}" if i % 2 else None,
                scheduler="fsrs" if kind == 1 else "ladder",
            )
            if kind == 1 and note.reviews[0].due_on <= DAY:
                notes.mark_done(s, note, day=DAY, today=DAY, extra_every=30, rating="again" if i % 3 else "good")
            elif kind == 2:
                notes.set_scheduler(note, "sr", extra_every=30, sr=SrState(DAY + timedelta(days=i % 30 - 15), 5, 250))
            elif kind == 3:
                notes.mark_done(s, note, day=DAY, today=DAY, extra_every=30, long_term=True)
            elif kind in (4, 5) and note.reviews[0].due_on <= DAY:
                notes.mark_done(s, note, day=DAY, today=DAY, extra_every=30, stage=note.reviews[0].offset)
            elif kind == 6 and all(r.due_on <= DAY for r in note.reviews if not r.extra):
                for review in [r for r in note.reviews if not r.extra]:
                    notes.mark_done(s, note, day=DAY, today=DAY, extra_every=30, stage=review.offset)
        s.flush()
        notes.snooze_notes(s, list(range(20, 60, 7)), DAY + timedelta(days=3))
    store.dispose()
    # Archived notes beside the vault's: archived on a day the listing shows no date of.
    conn = sqlite3.connect(tmp_path / "r.db")
    conn.execute("UPDATE notes SET archived_at = '2026-02-12 01:02:03.000000' WHERE title LIKE 'note %9 title'")
    conn.commit()
    conn.close()


def outputs(url: str) -> dict[str, str]:
    runner = CliRunner()
    found = {}
    with freeze_time("2026-02-15 05:01:00"):
        for name, argv in RUNS.items():
            result = runner.invoke(cli, argv, env={"REMINDER_DATABASE_URL": url}, catch_exceptions=False)
            assert result.exit_code == 0, result.output
            found[name] = result.stdout
    return found


@pytest.fixture
def filled(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    fill(tmp_path, url)
    return url


def test_list_prints_what_it_printed_before(filled: str) -> None:
    light = outputs(filled)
    # A URL with an option takes the store path (SQLAlchemy), whatever the light path would do.
    store = outputs(filled + "?timeout=10")
    for name in RUNS:
        expected = (EXPECTED / name).read_bytes().decode("utf-8")
        assert light[name] == expected, name
        assert store[name] == expected, name
    kinds = light["list-all.json"]
    for shown in ('"scheduler": "fsrs"', '"scheduler": "sr"', '"long_term": true', '"archived": true',
                  '"snoozed_until": "2026-02-18"', '"recall": ', '"extra_review": {', '"due": {'):  # fmt: skip
        assert shown in kinds, shown
