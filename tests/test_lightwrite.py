"""`add`, `done`, `undo` and `edit` write an up-to-date SQLite file without SQLAlchemy: the same operations through
the store and through reminder.lightwrite, on two real files, must answer alike and leave every row of every table
alike, review events and timestamps included."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from reminder import lightwrite, notes
from reminder.db import open_store
from reminder.errors import NoteError
from reminder.recording import FsrsOptions

TODAY = date(2024, 10, 27)
EVERY = 30
LADDER = (1, 4, 7, 14)

# The seed: notes in every state the operations below meet (added through the store in both files).
SEED: list[dict[str, Any]] = [
    {"title": "Kubernetes 3.2 오브젝트", "first_studied_on": date(2024, 7, 7), "subject": "k8s"},  # past the ladder
    {"title": "TCP handshake", "first_studied_on": date(2024, 10, 20)},  # D+1 and D+4 due
    {"title": "fresh", "first_studied_on": TODAY},  # nothing due
    {"title": "FSRS note", "first_studied_on": date(2024, 10, 1), "scheduler": "fsrs", "fsrs": FsrsOptions()},
    {"title": "Docker 볼륨", "first_studied_on": date(2024, 6, 1), "pages": "p10"},
]

# (operation, note reference, options, refused): each runs through both paths, in order, a minute apart.
OPERATIONS: list[tuple[str, str, dict[str, Any], bool]] = [
    ("done", "1", {"day": TODAY}, False),  # the extra review: its occurrence recorded, the next one made
    ("done", "tcp", {"day": TODAY, "stage": 1}, False),
    ("done", "tcp", {"day": TODAY, "stage": 1}, False),  # already done
    ("done", "TCP handshake", {"day": TODAY}, False),  # D+4
    ("done", "fresh", {"day": TODAY}, True),  # nothing due: the error
    ("done", "2", {"day": date(2030, 1, 1)}, True),  # a day in the future: the error
    ("done", "fsrs", {"day": TODAY, "rating": "hard"}, False),
    ("done", "fsrs", {"day": TODAY, "rating": "good"}, True),  # not due any more: the error
    ("done", "fresh", {"day": TODAY, "rating": "again"}, True),  # nothing due for `again` either: the error
    ("done", "5", {"day": TODAY, "rating": "again"}, False),  # back tomorrow, the stage still open
    ("done", "5", {"day": TODAY, "long_term": True}, False),  # the pending extra review goes
    ("undo", "5", {"long_term": True}, False),  # and comes back
    ("undo", "2", {"stage": 4}, False),  # the event taken back too
    ("undo", "2", {"stage": 7}, False),  # not done: nothing changes
    ("undo", "fsrs", {"stage": 1}, False),  # replayed into FSRS without that review
    ("edit", "2", {"title": "  TCP   3-way handshake ", "pages": "p93~", "subject": ""}, False),
    ("edit", "2", {"first_studied_on": date(2024, 10, 10)}, False),  # every due date moves
    ("edit", "1", {"ladder": (1, 3, 7, 21)}, False),  # stages dropped and added, the extra review moved
    ("edit", "3", {"scheduler": "fsrs", "fsrs": FsrsOptions()}, False),
    ("edit", "3", {"scheduler": "ladder"}, False),
    ("edit", "2", {"first_studied_on": date(2030, 1, 1)}, True),  # the error
    ("edit", "2", {"title": ""}, True),  # the error
    ("edit", "2", {"pages": "x" * 101}, True),  # the error
    ("add", "", {"title": "tcp 3-WAY handshake", "first_studied_on": TODAY, "unique_title": True}, True),  # the error
    ("add", "", {"title": "new one", "first_studied_on": date(2024, 10, 1), "link": "obsidian://open?file=n"}, False),
    ("add", "", {"title": "new fsrs", "first_studied_on": TODAY, "scheduler": "fsrs", "fsrs": FsrsOptions()}, False),
    ("add", "", {"title": "later", "first_studied_on": date(2024, 11, 1)}, True),  # the error
    ("done", "new one", {"day": TODAY, "long_term": True}, False),
]


def _dump(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table (sqlite_sequence too: ids are never reused)."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
    finally:
        conn.close()


def _through_store(url: str, kind: str, ref: str, options: dict[str, Any]) -> Any:
    store = open_store(url)
    try:
        with store.write() as s:
            if kind == "add":
                note = notes.add_note(s, today=TODAY, ladder=LADDER, extra_every=EVERY, **options)
                return notes.view_note(note, TODAY, EVERY)
            target = notes.resolve_note(s, ref)
            if kind == "done":
                result = notes.mark_done(s, target, today=TODAY, extra_every=EVERY, source="cli", **options)
                return result, notes.view_note(target, TODAY, EVERY)
            if kind == "undo":
                changed = notes.undo(s, target, extra_every=EVERY, **options)
                return changed, notes.view_note(target, TODAY, EVERY)
            notes.edit_note(s, target, today=TODAY, extra_every=EVERY, **options)
            return notes.view_note(target, TODAY, EVERY)
    finally:
        store.dispose()


def _through_light(path: Path, kind: str, ref: str, options: dict[str, Any]) -> Any:
    if kind == "add":
        return lightwrite.add(path, today=TODAY, ladder=LADDER, extra_every=EVERY, **options)
    if kind == "done":
        return lightwrite.done(path, ref, today=TODAY, extra_every=EVERY, source="cli", **options)
    if kind == "undo":
        return lightwrite.undo(path, ref, today=TODAY, extra_every=EVERY, **options)
    return lightwrite.edit(path, ref, today=TODAY, extra_every=EVERY, **options)


def _outcome(run: Any) -> Any:
    try:
        return run()
    except NoteError as exc:
        return ("error", str(exc))


def _seeded(tmp_path: Path, name: str) -> tuple[str, Path]:
    path = tmp_path / name
    url = f"sqlite:///{path}"
    store = open_store(url)
    with store.write() as s:
        for fields in SEED:
            notes.add_note(s, today=TODAY, ladder=LADDER, extra_every=EVERY, **fields)
    store.dispose()
    return url, path


def test_both_paths_answer_alike_and_leave_the_same_rows(tmp_path: Path) -> None:
    with freeze_time("2024-10-27 05:01:00", tick=False) as frozen:
        store_url, store_file = _seeded(tmp_path, "store.db")
        _, light_file = _seeded(tmp_path, "light.db")
        assert _dump(store_file) == _dump(light_file)
        for kind, ref, options, refused in OPERATIONS:
            frozen.tick(60)
            expected = _outcome(lambda: _through_store(store_url, kind, ref, options))  # noqa: B023
            got = _outcome(lambda: _through_light(light_file, kind, ref, options))  # noqa: B023
            assert got is not None, (kind, ref, options)  # the light path took it
            assert got == expected, (kind, ref, options)
            assert _dump(light_file) == _dump(store_file), (kind, ref, options)
            assert (isinstance(got, tuple) and got[0] == "error") == refused, (kind, ref, options, got)
    rows = _dump(light_file)
    # The scenario did what it says: events recorded and taken back, notes added.
    assert len(rows["notes"]) == len(SEED) + 2
    assert {e[4] for e in rows["review_events"]} == {"good", "again"}
    assert [n[1] for n in rows["notes"]][1] == "TCP 3-way handshake"


def test_what_the_light_path_does_not_take_goes_to_the_store(tmp_path: Path) -> None:
    _, path = _seeded(tmp_path, "r.db")
    before = _dump(path)
    # Unknown and ambiguous references: the store path gives its own error.
    assert lightwrite.done(path, "99", today=TODAY, extra_every=EVERY, day=TODAY) is None
    assert lightwrite.edit(path, "nothing like it", today=TODAY, extra_every=EVERY, title="x") is None
    assert lightwrite.add(tmp_path / "missing.db", today=TODAY, ladder=LADDER, extra_every=EVERY, title="a",
                          first_studied_on=TODAY) is None  # fmt: skip
    assert not (tmp_path / "missing.db").exists()
    # A file at another schema revision: the store path upgrades or refuses it.
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.commit()
    conn.close()
    assert lightwrite.done(path, "2", today=TODAY, extra_every=EVERY, day=TODAY) is None
    after = _dump(path)
    assert after.pop("alembic_version") != before.pop("alembic_version")
    assert after == before


def test_a_vault_note_is_done_through_the_store(tmp_path: Path) -> None:
    _, path = _seeded(tmp_path, "r.db")
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO vaults (id, name, path, write_back, created_at, status_block) "
                 "VALUES (1, 'v', '/nowhere', 0, '2024-10-01 00:00:00.000000', 1)")  # fmt: skip
    conn.execute("UPDATE notes SET vault_id = 1, vault_path = 'tcp.md' WHERE id = 2")
    conn.commit()
    conn.close()
    before = _dump(path)
    assert lightwrite.done(path, "2", today=TODAY, extra_every=EVERY, day=TODAY) is None
    assert lightwrite.undo(path, "2", today=TODAY, extra_every=EVERY, stage=1) is None
    assert _dump(path) == before


def test_a_write_waits_for_another_writer_then_lands(tmp_path: Path) -> None:
    _, path = _seeded(tmp_path, "r.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE notes SET pages = 'held' WHERE id = 3")
    outcome: list[Any] = []
    writer = threading.Thread(
        target=lambda: outcome.append(lightwrite.edit(path, "2", today=TODAY, extra_every=EVERY, pages="p1"))
    )
    writer.start()
    writer.join(timeout=0.5)
    assert writer.is_alive() and not outcome  # waiting on the write lock, not failed
    holder.execute("COMMIT")
    holder.close()
    writer.join(timeout=10)
    assert outcome and outcome[0] is not None and outcome[0].pages == "p1"
    rows = {r[0]: r[4] for r in _dump(path)["notes"]}
    assert rows[2] == "p1" and rows[3] == "held"


def test_the_commands_write_without_sqlalchemy(tmp_path: Path, db_url: str) -> None:
    _seeded(tmp_path, "reminder.db")
    script = (
        "import sys\n"
        "from reminder.cli import cli\n"
        "for args in (sys.argv[1:5], sys.argv[5:8], sys.argv[8:11], sys.argv[11:]):\n"
        "    try:\n"
        "        cli.main(args, prog_name='reminder')\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, (args, exc.code)\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    args = ["add", "새 노트", "--first-study", "2024-10-26", "done", "새", "--stage=1", "undo", "새", "--stage=1",
            "edit", "새", "--pages=p2"]  # fmt: skip
    run = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Added #6 새 노트: next due now: D+1")
    assert lines[1].startswith("#6 새 노트: done D+1 on ")
    assert lines[3].startswith("#6 새 노트: D+1 undone; ")
    assert lines[4].startswith("Updated #6 새 노트: next due now: D+1")
    assert lines[-1] == "False"


@freeze_time("2024-10-27 05:01:00")
@pytest.mark.parametrize("args", [["done", "fresh"], ["edit", "2", "--first-study", "2999-01-01"]])
def test_a_mistake_is_one_line_and_exit_2_on_the_light_path(  # type: ignore[no-untyped-def]
    run_cli, tmp_path: Path, db_url: str, args: list[str]
) -> None:
    _, path = _seeded(tmp_path, "reminder.db")
    before = _dump(path)
    result = run_cli(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert _dump(path) == before
