"""A vault sync holds the store's write lock only while rows change: files are read before its write transaction
and written back after it. Shown with real files, a real SQLite store, a second connection writing while the sync
reads, a real process holding a lease on a note file (so the sync's write-back waits in open()), and the real web
app answering a press meanwhile."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from freezegun import freeze_time
from notefiles import note
from setups import web_settings
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import selectinload
from test_sr import SR_NOTE
from test_write_transactions import NOW, TODAY, UNTICKED, Lease, stage_one

from reminder import actions, notes, srnote
from reminder import vault as sync
from reminder.db import Store, open_store
from reminder.db.models import Note, Review, ReviewEvent
from reminder.schedulers import SrState, decode_state
from reminder.server import start_server
from reminder.vault import reading
from reminder.vault import sync as engine
from reminder.vault.status import Delivery
from reminder.vault.writeback import WriteBack, WriteBackResult, WriteContext, finish_write_back, prepare_note

LADDER = (1, 4, 7, 14)


def register(store: Store, root: Path) -> int:
    with store.write() as session:
        return sync.add_vault(session, root, "study", True, status_block=False).id


def synced(store: Store, tmp_path: Path, *names: str) -> tuple[Path, int, dict[str, int]]:
    """A vault with write-back holding these notes (D+1 due today), synced once: its folder, id and note ids."""
    root = tmp_path / "study"
    root.mkdir()
    for name in names:
        (root / name).write_bytes(UNTICKED)
    vault_id = register(store, root)
    run(store, vault_id)
    return root, vault_id, ids(store)


def run(store: Store, vault_id: int, progress: Any = None) -> sync.SyncReport:
    return sync.sync_vault(store, vault_id, today=TODAY, ladder=LADDER, extra_every=30, progress=progress)


def ids(store: Store) -> dict[str, int]:
    with store.read() as session:
        return {n.vault_path: n.id for n in session.scalars(select(Note)) if n.vault_path}


def press(store: Store, note_id: int, stage: int) -> None:
    """A review recorded in the store, as a press records it before its own write-back."""
    with store.write() as session:
        found = notes.resolve_locked(session, str(note_id))
        notes.mark_done(session, found, day=TODAY, today=TODAY, extra_every=30, stage=stage)


def events(store: Store, note_id: int) -> list[tuple[int | None, str]]:
    with store.read() as session:
        rows = session.execute(select(ReviewEvent.stage, ReviewEvent.source).where(ReviewEvent.note_id == note_id))
        return [(stage, source) for stage, source in rows]


def test_a_press_answers_while_a_sync_waits_on_a_file_write(store: Store, db_url: str, tmp_path: Path) -> None:
    """The sync is blocked writing one note's file back (another program holds a lease on it): a press on another
    note through the web app answers within a second, and the sync finishes its write once the file is free."""
    root, vault_id, found = synced(store, tmp_path, "slow.md", "quick.md")
    press(store, found["slow.md"], 1)  # done without its file written: the sync writes it
    settings = web_settings(tmp_path, db_url, language="en")
    with freeze_time(NOW, tick=True):
        key = actions.secret_key(store, settings)
        srv = start_server(store, settings, port=0)
        try:
            quick_url = f"{srv.url}/a/done/{actions.sign(key, 'done', [found['quick.md']], TODAY)}"
            lease = Lease(root / "slow.md")
            reports: list[sync.SyncReport] = []
            syncing = threading.Thread(target=lambda: reports.append(run(store, vault_id)))
            syncing.start()
            lease.wait_asked()  # the sync waits in open() on slow.md
            started = time.monotonic()
            quick = requests.post(quick_url, timeout=5)
            waited = time.monotonic() - started
            assert quick.status_code == 200 and quick.json()["marked"] == [found["quick.md"]]
            assert waited < 1.0, f"a press waited {waited:.1f}s on a sync's file write"
            assert b"review_1d: yes" in (root / "quick.md").read_bytes()
            assert syncing.is_alive() and (root / "slow.md").read_bytes() == UNTICKED
            lease.release()
            syncing.join(30)
        finally:
            srv.stop()
    assert reports and reports[0].written_back == 1 and not reports[0].lost, reports
    assert b"review_1d: yes" in (root / "slow.md").read_bytes()
    assert stage_one(store, found["quick.md"]) == TODAY
    assert run(store, vault_id).changed == 0  # both files as the store has them, fingerprints recorded


@pytest.fixture
def stores(any_db_url: str) -> Iterator[tuple[Store, Store]]:
    """The sync's store and another process's (the phone's, another sync's): two engines, SQLite or PostgreSQL."""
    ours, other = open_store(any_db_url), open_store(any_db_url)
    yield ours, other
    ours.dispose()
    other.dispose()


def test_a_press_while_the_sync_reads_is_kept_and_written_once(stores: tuple[Store, Store], tmp_path: Path) -> None:
    """A review recorded (from another connection) while the sync reads the files, before it changes the store:
    the note's file gets the flag, the store has the review once and its history one event."""
    store, other = stores
    root, vault_id, found = synced(store, tmp_path, "note.md")
    path, note_id = root / "note.md", found["note.md"]
    edited = UNTICKED + "\n메모: the learner's edit since the last sync\n".encode()
    path.write_bytes(edited)  # so the sync reads the file
    pressed: list[int] = []

    def phone_presses(done: int, total: int) -> None:
        if not pressed:
            press(other, note_id, 1)  # waits the busy timeout if the sync held the write lock while reading
            pressed.append(done)

    report = run(store, vault_id, progress=phone_presses)
    assert pressed
    assert report.written_back == 1 and not report.lost and not report.skipped, report
    assert path.read_bytes() == edited.replace(b"review_1d: no", b"review_1d: yes")
    assert stage_one(store, note_id) == TODAY
    assert [stage for stage, _source in events(store, note_id)] == [1]  # the press's, and no other
    assert run(store, vault_id).changed == 0


def test_a_learner_save_between_the_read_and_the_write_back_keeps_every_byte(store: Store, tmp_path: Path) -> None:
    """Both notes are due a write-back (reviews done on the phone); after the sync read the first of them, the
    learner saves both (a line in the body, D+4 ticked). The stale one's write finds the file changed, merges the
    newer content and writes again: every byte the learner wrote stays, and the store takes the ticks."""
    root, vault_id, found = synced(store, tmp_path, "a.md", "b.md")
    for note_id in found.values():
        press(store, note_id, 1)
    saved = {
        name: UNTICKED.replace(b"review_4d: no", b"review_4d: yes") + f"\n{name}: saved while syncing\n".encode()
        for name in found
    }

    def learner_saves(done: int, total: int) -> None:
        if done == total:  # the first file is read, the last not yet
            for name, data in saved.items():
                (root / name).write_bytes(data)

    report = run(store, vault_id, progress=learner_saves)
    assert report.written_back == 2 and not report.lost and not report.skipped, report
    for name, data in saved.items():
        assert (root / name).read_bytes() == data.replace(b"review_1d: no", b"review_1d: yes")
    with store.read() as session:
        for note_id in found.values():
            reviews = session.scalar(select(Note).where(Note.id == note_id).options(selectinload(Note.reviews)))
            assert reviews is not None
            done = {r.offset for r in reviews.reviews if not r.extra and r.done_on is not None}
            assert done == {1, 4}
    assert run(store, vault_id).changed == 0  # the store recorded the files as they are now


def test_two_syncs_at_once_add_each_note_once_and_a_note_deleted_meanwhile_stays_deleted(
    stores: tuple[Store, Store], tmp_path: Path
) -> None:
    """While one sync reads, another (the service's, before a slot) syncs the same vault in full and the learner
    deletes a note with `reminder rm`: the first one then adds nothing twice, dates a template's note once and
    does not bring the deleted note back."""
    store, other = stores
    root, vault_id, found = synced(store, tmp_path, "kept.md", "gone.md")
    gone_id = found["gone.md"]
    (root / "gone.md").write_bytes(UNTICKED + b"\nedited\n")  # read by both syncs
    (root / "dated.md").write_bytes(note("first_study: 2024-07-01", "review_1d: no", "review_4d: no"))
    template = note("review_1d: no", "review_4d: no", "review_7d: no", "review_14d: no")
    (root / "template.md").write_bytes(template)  # no date: the sync writes the one it chooses
    theirs: list[sync.SyncReport] = []

    def meanwhile(done: int, total: int) -> None:
        if not theirs:
            theirs.append(run(other, vault_id))
            with other.write() as session:
                found = session.get(Note, gone_id)
                assert found is not None
                notes.remove_note(session, found)

    ours = run(store, vault_id, progress=meanwhile)
    assert theirs[0].added == 2 and ours.added == 0, (theirs, ours)
    # gone.md, deleted after ours read it, is counted nowhere: neither unchanged nor archived
    assert (ours.updated + ours.unchanged + ours.renamed, ours.archived) == (3, 0), ours
    assert not ours.skipped and not ours.lost, ours
    with store.read() as session:
        paths = session.scalars(select(Note.vault_path).where(Note.archived_at.is_(None))).all()
        assert sorted(paths) == ["dated.md", "kept.md", "template.md"]
        assert session.scalar(select(func.count()).select_from(Review).where(Review.note_id == gone_id)) == 0
        per_note = session.execute(select(Review.note_id, func.count()).group_by(Review.note_id)).all()
        assert len({count for _, count in per_note}) == 1  # no note got a second set of reviews
    assert (root / "template.md").read_bytes().count(b"first_study") == 1
    assert (root / "template.md").read_bytes().endswith(template.split(b"---\n")[-1])


def test_first_sync_and_resync_report_as_before(store: Store, tmp_path: Path) -> None:
    """The three phases report what the one transaction did: adds, updates, write-backs, archives."""
    root = tmp_path / "study"
    root.mkdir()
    for name in ("a.md", "b.md", "c.md"):
        (root / name).write_bytes(UNTICKED)
    vault_id = register(store, root)
    first = run(store, vault_id)
    assert (first.added, first.updated, first.unchanged, first.written_back) == (3, 0, 0, 0)
    found = ids(store)
    press(store, found["a.md"], 1)
    (root / "b.md").write_bytes(UNTICKED.replace(b"review_1d: no", b"review_1d: yes"))
    (root / "c.md").unlink()
    again = run(store, vault_id)
    assert (again.updated, again.unchanged, again.written_back, again.archived) == (1, 1, 1, 1), again
    assert b"review_1d: yes" in (root / "a.md").read_bytes()
    assert stage_one(store, found["b.md"]) == TODAY  # ticked in the file: done the day the sync saw it


# --- what the phases must not lose, whatever happens between them

DAY0, DAY1 = date(2024, 7, 9), date(2024, 7, 10)


def aged(path: Path, hours: float) -> None:
    """The file's modification time moved back, out of the racy window the sync always reads."""
    then = path.stat().st_mtime - hours * 3600
    os.utime(path, (then, then))


def sr_vault(store: Store, tmp_path: Path) -> tuple[Path, int, int]:
    """A vault with one Spaced Repetition plugin note, synced on DAY0: its file, the vault's and the note's ids."""
    root = tmp_path / "v"
    root.mkdir()
    path = root / "pods.md"
    path.write_bytes(SR_NOTE)
    aged(path, 48)
    vault_id = register(store, root)
    with freeze_time("2024-07-09 03:00:00"):
        sync.sync_vault(store, vault_id, today=DAY0, ladder=LADDER, extra_every=30)
    with store.read() as session:
        note_id = session.scalar(select(Note.id))
    assert note_id is not None
    return path, vault_id, note_id


def sr_now(store: Store, note_id: int) -> tuple[SrState | None, list[tuple[str | None, str]]]:
    with store.read() as session:
        found = session.get(Note, note_id)
        assert found is not None
        history = session.execute(
            select(ReviewEvent.rating, ReviewEvent.source).where(ReviewEvent.note_id == note_id)
        ).all()
        state = decode_state(found.scheduler_state)
        return (state if isinstance(state, SrState) else None), [tuple(row) for row in history]


def test_an_sr_press_between_the_phases_stands_and_is_counted_once(
    stores: tuple[Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone rating of an SR note after the sync read its file (the press writes its new schedule into the file):
    the sync does not put back the schedule it read, and the next sync records no second review."""
    store, other = stores
    path, vault_id, note_id = sr_vault(store, tmp_path)
    path.write_bytes(SR_NOTE + b"\r\nan edit of the body\r\n")  # so the next sync reads the file
    aged(path, 1)
    real_finish = engine._VaultSync.finish

    def press_then_finish(self: engine._VaultSync) -> sync.SyncReport:
        with other.write() as session:
            found = notes.resolve_locked(session, str(note_id))
            notes.mark_done(session, found, day=DAY1, today=DAY1, extra_every=30, rating="easy", source="cli")
            job = srnote.prepare_sr(session, found)
        assert job is not None
        assert finish_write_back(other, job).outcome is WriteBack.WRITTEN
        return real_finish(self)

    monkeypatch.setattr(engine._VaultSync, "finish", press_then_finish)
    with freeze_time("2024-07-10 05:00:00", tick=True):
        sync.sync_vault(store, vault_id, today=DAY1, ladder=LADDER, extra_every=30)
    monkeypatch.setattr(engine._VaultSync, "finish", real_finish)
    pressed = srnote.read_sr(path.read_bytes())
    assert pressed is not None and pressed.interval > 3  # the press's schedule, in the file
    assert sr_now(store, note_id) == (pressed, [("easy", "cli")])
    with freeze_time("2024-07-10 06:00:00", tick=True):
        sync.sync_vault(store, vault_id, today=DAY1, ladder=LADDER, extra_every=30)
    assert sr_now(store, note_id) == (pressed, [("easy", "cli")])
    assert srnote.read_sr(path.read_bytes()) == pressed


def test_an_sr_schedule_another_sync_recorded_meanwhile_stands(
    stores: tuple[Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two syncs at once: ours read the plugin's first review, the other one read and recorded the second. Ours
    leaves the note as the other left it (the file's newest schedule), not as the older file it read."""
    store, other = stores
    path, vault_id, note_id = sr_vault(store, tmp_path)
    first = srnote.with_sr(SR_NOTE, SrState(date(2024, 7, 12), 2, 230))
    second = srnote.with_sr(SR_NOTE, SrState(date(2024, 7, 20), 5, 250))
    path.write_bytes(first)
    aged(path, 1)
    real_finish = engine._VaultSync.finish

    def other_sync_first(self: engine._VaultSync) -> sync.SyncReport:
        monkeypatch.setattr(engine._VaultSync, "finish", real_finish)
        path.write_bytes(second)
        aged(path, 0.5)
        sync.sync_vault(other, vault_id, today=DAY1, ladder=LADDER, extra_every=30)
        return real_finish(self)

    monkeypatch.setattr(engine._VaultSync, "finish", other_sync_first)
    with freeze_time("2024-07-10 05:00:00", tick=True):
        sync.sync_vault(store, vault_id, today=DAY1, ladder=LADDER, extra_every=30)
    assert sr_now(store, note_id)[0] == SrState(date(2024, 7, 20), 5, 250)
    with freeze_time("2024-07-11 05:00:00", tick=True):
        sync.sync_vault(store, vault_id, today=date(2024, 7, 11), ladder=LADDER, extra_every=30)
    assert sr_now(store, note_id)[0] == SrState(date(2024, 7, 20), 5, 250)


def flag_vault(store: Store, tmp_path: Path, *names: str) -> tuple[Path, int, dict[str, int]]:
    root, vault_id, found = synced(store, tmp_path, *names)
    for name in names:
        aged(root / name, 48)
    run(store, vault_id)  # the fingerprints of the aged files
    return root, vault_id, found


def phone(store: Store, note_id: int, *, undo: bool = False, write: bool = True) -> WriteBackResult | None:
    """A press (or an undo) of stage 1 on the phone; ``write``: with its own write-back, else as one that lost."""
    with store.write() as session:
        found = notes.resolve_locked(session, str(note_id))
        if undo:
            notes.undo(session, found, extra_every=30, stage=1)
        else:
            notes.mark_done(session, found, day=TODAY, today=TODAY, extra_every=30, stage=1)
        job = prepare_note(session, found, WriteContext(TODAY, 30, Delivery("0 8 * * *", "UTC")))
    return finish_write_back(store, job) if job is not None and write else None


def test_a_file_grown_past_the_limit_before_its_write_back_is_reported_and_the_sync_goes_on(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _, found = flag_vault(store, tmp_path, "a.md", "b.md")
    for note_id in found.values():
        phone(store, note_id, write=False)  # done on the phone, its write-back lost: the sync writes it
    real_write_back = engine._VaultSync.write_back
    pasted = (root / "a.md").read_bytes() + b"x" * 1_100_000

    def grow(self: engine._VaultSync, todo: Any) -> None:
        (root / "a.md").write_bytes(pasted)  # the learner pastes a large block between the apply and the write
        real_write_back(self, todo)

    monkeypatch.setattr(engine._VaultSync, "write_back", grow)
    reports = sync.sync_all(store, today=TODAY, ladder=LADDER, extra_every=30)
    assert b"review_1d: yes" in (root / "b.md").read_bytes()
    assert (root / "a.md").read_bytes() == pasted
    report = reports["study"]
    assert report.written_back == 1
    assert [line for line in report.skipped if "a.md" in line and "1,000,000" in line]


def test_files_written_before_a_round_is_cut_short_are_recorded(
    stores: tuple[Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write-back round dies after writing one file: that file's write is recorded all the same, so an undo
    on the phone afterwards takes the tick out of the file (and the next sync does not read it back as a tick)."""
    store, other = stores
    root, vault_id, found = flag_vault(store, tmp_path, "a.md", "b.md")
    for note_id in found.values():
        phone(store, note_id, write=False)
    real_write = engine._VaultSync._write
    written: list[int] = []

    def die_on_the_second(self: engine._VaultSync, write: Any, records: Any) -> Any:
        if written:
            raise RuntimeError("the process is stopped")
        written.append(write.note_id)
        return real_write(self, write, records)

    monkeypatch.setattr(engine._VaultSync, "_write", die_on_the_second)
    with pytest.raises(RuntimeError):
        run(store, vault_id)
    monkeypatch.setattr(engine._VaultSync, "_write", real_write)
    note_id = written[0]
    path = root / next(name for name, one in found.items() if one == note_id)
    assert b"review_1d: yes" in path.read_bytes()
    phone(other, note_id, undo=True)
    assert b"review_1d: no" in path.read_bytes()
    run(store, vault_id)
    assert stage_one(store, note_id) is None
    assert b"review_1d: no" in path.read_bytes()


def test_a_press_in_flight_when_the_sync_starts_is_written_by_a_later_sync(
    stores: tuple[Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A press that took its time just before the sync started but committed after the sync's read began, its own
    write-back lost: a later sync still writes its flag into the file."""
    store, other = stores
    root, vault_id, found = flag_vault(store, tmp_path, "a.md", "b.md")
    note_id = found["a.md"]
    real = reading.VaultReader._read_missing_cues

    def in_flight(self: reading.VaultReader, session: Any) -> None:
        with other.write() as session_of_press:
            pressed = notes.resolve_locked(session_of_press, str(note_id))
            notes.mark_done(session_of_press, pressed, day=TODAY, today=TODAY, extra_every=30, stage=1)
            session_of_press.flush()
            pressed.updated_at = self.started - timedelta(milliseconds=1)
        real(self, session)

    monkeypatch.setattr(reading.VaultReader, "_read_missing_cues", in_flight)
    run(store, vault_id)
    monkeypatch.setattr(reading.VaultReader, "_read_missing_cues", real)
    run(store, vault_id)
    assert stage_one(store, note_id) == TODAY
    assert b"review_1d: yes" in (root / "a.md").read_bytes()


def test_a_store_error_recording_the_writes_is_reported_and_the_next_sync_records_them(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, vault_id, found = flag_vault(store, tmp_path, "a.md")
    phone(store, found["a.md"], write=False)
    real = engine.apply_records
    failed: list[bool] = []

    def refuse_once(session: Any, records: Any) -> None:
        if not failed:
            failed.append(True)
            raise OperationalError(
                "UPDATE notes SET secret=?", {"p": "the learner's text"}, Exception("disk I/O error")
            )
        real(session, records)

    monkeypatch.setattr(engine, "apply_records", refuse_once)
    report = run(store, vault_id)
    assert failed
    assert b"review_1d: yes" in (root / "a.md").read_bytes()
    lines = [line for line in report.skipped if "disk I/O error" in line]
    assert len(lines) == 1 and "UPDATE" not in lines[0] and "learner" not in lines[0]
    with store.read() as session:
        assert session.get(Note, found["a.md"]).content_hash is None  # type: ignore[union-attr]
    run(store, vault_id)
    with store.read() as session:
        recorded = session.get(Note, found["a.md"])
        assert recorded is not None and recorded.content_hash is not None
    assert run(store, vault_id).changed == 0
    assert stage_one(store, found["a.md"]) == TODAY


def test_a_note_another_sync_added_meanwhile_keeps_the_hash_of_its_file(
    stores: tuple[Store, Store], tmp_path: Path
) -> None:
    """A vault without write-back: this sync lets a new note's bytes go once it has read them, and another sync
    adds the note before this one applies. The hash this one records is still that of the file (a rename of the
    file later is found by it), not that of the bytes it let go."""
    store, other = stores
    root = tmp_path / "study"
    root.mkdir()
    (root / "a.md").write_bytes(UNTICKED)
    (root / "b.md").write_bytes(UNTICKED + b"\nb\n")
    with store.write() as session:
        vault_id = sync.add_vault(session, root, "study", False).id
    theirs: list[sync.SyncReport] = []

    def meanwhile(done: int, total: int) -> None:
        if done == total and not theirs:
            theirs.append(run(other, vault_id))

    ours = run(store, vault_id, progress=meanwhile)
    assert theirs[0].added == 2 and ours.added == 0, (theirs, ours)
    with store.read() as session:
        hashes = {n.vault_path: n.content_hash for n in session.scalars(select(Note))}
    assert hashes == {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in ("a.md", "b.md")}
    (root / "b.md").rename(root / "moved.md")
    assert run(store, vault_id).renamed == 1


def test_an_unchanged_resync_reads_no_note_row_under_the_write_lock(store: Store, tmp_path: Path) -> None:
    """The runner syncs before every slot, mostly finding nothing changed: its write transaction then checks none
    of the vault's note rows again (it read all of them, while a press waited), and a re-sync of one changed file
    checks that note's row alone."""
    root, vault_id, _ = synced(store, tmp_path, *(f"n{i}.md" for i in range(30)))
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if conn.get_execution_options().get("sqlite_write", False) and statement.lstrip().startswith("SELECT"):
            seen.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        assert run(store, vault_id).changed == 0
        assert not [s for s in seen if "FROM notes" in s and "notes.content_hash" in s], seen
        (root / "n7.md").write_bytes(UNTICKED + b"\nedited\n")
        assert run(store, vault_id).unchanged == 30  # its body changed: read again, its row checked
        rows = [s for s in seen if "FROM notes" in s and "notes.content_hash" in s]
        assert rows and all("IN (" in s for s in rows), rows
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


# --- new notes, a batch at a time


def cue_note(i: int) -> bytes:
    return UNTICKED.replace(b"# body\n", f"### 단서 질문\n- 노트 {i}의 질문은?\n    답 {i}\n".encode())


def new_vault(store: Store, tmp_path: Path, count: int) -> int:
    """A vault of ``count`` new notes, each with a cue question of its own, registered without write-back."""
    root = tmp_path / "study"
    root.mkdir()
    for i in range(count):
        (root / f"n{i:02d}.md").write_bytes(cue_note(i))
    with store.write() as session:
        return sync.add_vault(session, root, "study", False).id


def stored(store: Store) -> dict[str, tuple[str | None, int]]:
    """Each note's cue questions and how many reviews it has, by path."""
    with store.read() as session:
        rows = session.execute(
            select(Note.vault_path, Note.cue_questions, func.count(Review.id)).outerjoin(Review).group_by(Note.id)
        ).all()
    paths = [path for path, _, _ in rows]
    assert len(paths) == len(set(paths)), paths  # no file has two notes
    return {path: (questions, reviews) for path, questions, reviews in rows}


def between_batches(monkeypatch: pytest.MonkeyPatch, hook: Any) -> list[int]:
    """Call ``hook(n)`` before the sync's n-th write transaction opens (1: the apply, then one per batch of new
    notes), outside any transaction of the sync's."""
    opened: list[int] = []
    real = engine._VaultSync.transaction

    @contextlib.contextmanager
    def transaction(self: Any) -> Iterator[Any]:
        opened.append(len(opened) + 1)
        hook(opened[-1])
        with real(self) as session:
            yield session

    monkeypatch.setattr(engine._VaultSync, "transaction", transaction)
    return opened


def test_new_notes_go_in_a_batch_at_a_time_each_with_its_questions(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_id = new_vault(store, tmp_path, 7)
    monkeypatch.setattr(engine, "NEW_BATCH", 3)
    opened = between_batches(monkeypatch, lambda n: None)
    report = run(store, vault_id)
    assert report.added == 7 and not report.skipped, report
    assert opened == [1, 2, 3, 4]  # the apply, then 3 + 3 + 1 new notes
    notes_now = stored(store)
    assert sorted(notes_now) == [f"n{i:02d}.md" for i in range(7)]
    for i in range(7):
        questions, reviews = notes_now[f"n{i:02d}.md"]
        assert reviews == len(LADDER) + 1  # the ladder and the extra review, once
        assert questions is not None and json.loads(questions) == [{"q": f"노트 {i}의 질문은?", "a": f"답 {i}"}]
    assert run(store, vault_id).changed == 0


def test_a_sync_cut_short_between_batches_leaves_whole_notes_and_the_next_adds_the_rest(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_id = new_vault(store, tmp_path, 7)
    monkeypatch.setattr(engine, "NEW_BATCH", 3)

    def crash(n: int) -> None:
        if n == 3:
            raise KeyboardInterrupt  # the process stopped before its second batch of new notes

    between_batches(monkeypatch, crash)
    with pytest.raises(KeyboardInterrupt):
        run(store, vault_id)
    first = stored(store)
    assert sorted(first) == ["n00.md", "n01.md", "n02.md"]
    assert all(questions is not None and reviews == len(LADDER) + 1 for questions, reviews in first.values())
    monkeypatch.undo()
    again = run(store, vault_id)
    assert (again.added, again.unchanged) == (4, 3), again
    after = stored(store)
    assert len(after) == 7 and all(q is not None and r == len(LADDER) + 1 for q, r in after.values()), after


def test_between_batches_a_press_is_answered_and_another_sync_adds_nothing_twice(
    stores: tuple[Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the sync's second batch of new notes, a press on a note of its first batch (the lock is free: no
    wait) and another sync of the vault, which adds the notes left: this one then adds none of them again."""
    store, other = stores
    vault_id = new_vault(store, tmp_path, 7)
    monkeypatch.setattr(engine, "NEW_BATCH", 3)
    theirs: list[sync.SyncReport] = []
    waited: list[float] = []

    def meanwhile(n: int) -> None:
        if n == 3:
            started = time.monotonic()
            press(other, ids(other)["n00.md"], 1)
            waited.append(time.monotonic() - started)
            theirs.append(run(other, vault_id))

    between_batches(monkeypatch, meanwhile)
    ours = run(store, vault_id)
    assert waited and waited[0] < 5, waited  # well under the 10 s a writer waits for a held lock
    assert theirs[0].added == 4 and ours.added == 3, (theirs, ours)
    assert stage_one(store, ids(store)["n00.md"]) == TODAY
    after = stored(store)
    assert len(after) == 7 and all(q is not None and r == len(LADDER) + 1 for q, r in after.values()), after


def test_new_notes_written_back_in_batches_each_get_their_date(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With write-back, notes made from a template (no date) inserted over several batches: every file gets the
    date the sync chose, once, and the next sync finds them all as it left them."""
    root = tmp_path / "study"
    root.mkdir()
    template = note("review_1d: no", "review_4d: no", "review_7d: no", "review_14d: no")
    for i in range(5):
        (root / f"t{i}.md").write_bytes(template)
    vault_id = register(store, root)
    monkeypatch.setattr(engine, "NEW_BATCH", 2)
    report = run(store, vault_id)
    assert (report.added, report.written_back, len(report.dated)) == (5, 5, 5), report
    for i in range(5):
        assert (root / f"t{i}.md").read_bytes().count("첫 학습날: ".encode()) == 1  # the vault's default key
    assert run(store, vault_id).changed == 0
