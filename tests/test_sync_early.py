"""A first sync whose files go to the file workers inserts its new notes in the read phase, a batch at a time, as
their results come in (reminder.vault.reading.VaultReader.insert_early), rather than all of them after the apply:
the store fills while the workers read on. The outcome must be the one of inserting them after the apply, on the
shapes real vaults hold; a dry run stores nothing; a sync cut short leaves whole notes; another sync meanwhile adds
nothing twice. The workers are real processes; the thresholds are lowered so that a small vault takes this path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from test_sync_transactions import LADDER, TODAY, new_vault, run, stored
from test_sync_transactions import stores as stores  # a fixture: the sync's store and another's
from test_sync_workers import run_sync

from reminder import vault as sync
from reminder.db import Store, open_store
from reminder.db.models import Note, ReviewEvent
from reminder.vault import examine
from reminder.vault import sync as engine

BATCH = 3


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Real file workers for any vault, early batches of BATCH notes; the size of each batch inserted early."""
    monkeypatch.setattr(examine, "POOL_FROM", 1)
    monkeypatch.setattr(examine, "_CHUNKSIZE", 2)  # results in many small chunks, from both workers
    monkeypatch.setattr(examine, "workers_for", lambda count: 2)
    monkeypatch.setattr(engine._VaultSync, "early_batch", BATCH)
    sizes: list[int] = []
    real = engine._VaultSync.insert_early

    def counted(self: Any, batch: list[Any], cues: dict[str, Any]) -> None:
        sizes.append(len(batch))
        real(self, batch, cues)

    monkeypatch.setattr(engine._VaultSync, "insert_early", counted)
    return sizes


def workers_running() -> list[int]:
    """The file workers (``python -P -m reminder.vault.examine``) this process has running, by pid."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"\nPPid:\t{os.getpid()}\n" in status and b"reminder.vault.examine" in cmdline:
            found.append(int(pid))
    return found


def history(db_url: str) -> list[tuple[Any, ...]]:
    """Every review event of the store's notes, by path (ids and times aside)."""
    store = open_store(db_url)
    try:
        with store.read() as session:
            rows = session.execute(
                select(
                    Note.vault_path, ReviewEvent.stage, ReviewEvent.extra, ReviewEvent.rating, ReviewEvent.reviewed_on
                )
                .join(ReviewEvent)
                .where(ReviewEvent.source == "vault")
            ).all()
        return sorted(tuple(row) for row in rows)
    finally:
        store.dispose()


@pytest.mark.parametrize("write_back", [False, True], ids=["read-only", "write-back"])
def test_early_batches_sync_exactly_as_inserts_after_the_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batches: list[int], write_back: bool
) -> None:
    monkeypatch.setattr(engine._VaultSync, "early_batch", 0)  # every new note after the apply
    after = run_sync(tmp_path, "after", write_back, edit=True)
    assert batches == []
    monkeypatch.setattr(engine._VaultSync, "early_batch", BATCH)
    early = run_sync(tmp_path, "early", write_back, edit=True)
    # The first sync put its dated notes in early (the re-sync finds rows: none), in batches of BATCH at most.
    assert batches and max(batches) <= BATCH and sum(batches) <= early[0]["counts"][0], batches
    if not write_back:  # with it, the notes that get a status block or a date are inserted after the apply
        assert sum(batches) >= 40, batches
    assert early == after
    assert history(f"sqlite:///{tmp_path / 'early' / 'store.db'}") == history(
        f"sqlite:///{tmp_path / 'after' / 'store.db'}"
    )


def test_the_store_fills_while_the_files_are_read(
    stores: tuple[Store, Store], tmp_path: Path, batches: list[int]
) -> None:
    """What a reader of the store (the phone's page, `reminder list`) sees while a first sync reads: the notes of
    each batch read, whole, with their questions and reviews."""
    store, other = stores
    vault_id = new_vault(store, tmp_path, 11)
    seen: dict[int, int] = {}

    def look(done: int, total: int) -> None:
        with other.read() as session:
            seen[done] = session.scalar(select(func.count()).select_from(Note)) or 0

    report = run(store, vault_id, progress=look)
    assert report.added == 11 and not report.skipped, report
    assert batches == [3, 3, 3, 2]
    # Before the 4th file's result is taken, the first batch is in; before the 10th, three batches.
    assert (seen[1], seen[4], seen[7], seen[10], seen[11]) == (0, 3, 6, 9, 9), seen
    after = stored(store)
    assert len(after) == 11 and all(q is not None and r == len(LADDER) + 1 for q, r in after.values()), after
    assert run(store, vault_id).changed == 0


def test_a_dry_run_of_a_first_sync_stores_nothing(store: Store, tmp_path: Path, batches: list[int]) -> None:
    vault_id = new_vault(store, tmp_path, 7)
    report = sync.sync_vault(store, vault_id, today=TODAY, ladder=LADDER, extra_every=30, dry_run=True)
    assert report.added == 7, report
    assert batches == [] and stored(store) == {}


def test_a_first_sync_cut_short_leaves_whole_notes_and_the_next_adds_the_rest(
    store: Store, tmp_path: Path, batches: list[int]
) -> None:
    vault_id = new_vault(store, tmp_path, 8)

    def crash(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt  # the learner pressed Ctrl-C after the first batch went in

    with pytest.raises(KeyboardInterrupt):
        run(store, vault_id, progress=crash)
    first = stored(store)
    assert sorted(first) == ["n00.md", "n01.md", "n02.md"]
    assert all(q is not None and r == len(LADDER) + 1 for q, r in first.values()), first
    again = run(store, vault_id)
    assert (again.added, again.unchanged) == (5, 3), again
    after = stored(store)
    assert len(after) == 8 and all(q is not None and r == len(LADDER) + 1 for q, r in after.values()), after


def test_a_sync_stopped_lets_its_file_workers_go_at_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batches: list[int]
) -> None:
    """Stopped while its workers have more to answer than the sync holds for it: they are stopped with the sync,
    not left blocked on their pipes until the interrupt's traceback is let go."""
    monkeypatch.setattr(examine, "_CHUNKSIZE", 1)
    monkeypatch.setattr(examine, "_AHEAD", 1)
    vault_id = new_vault(store, tmp_path, 80)

    def crash(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as stopped:
        run(store, vault_id, progress=crash)
    assert workers_running() == [], stopped.traceback  # the traceback is still held, as a service's log holds it


def test_another_sync_while_the_first_reads_adds_nothing_twice(
    stores: tuple[Store, Store], tmp_path: Path, batches: list[int]
) -> None:
    """The service syncs the vault (before a slot) while the learner's first sync is reading it: each note is
    added once, by one of them, with one set of reviews."""
    store, other = stores
    vault_id = new_vault(store, tmp_path, 10)
    theirs: list[sync.SyncReport] = []

    def meanwhile(done: int, total: int) -> None:
        if done == 5 and not theirs:  # after our first batch
            theirs.append(run(other, vault_id))

    ours = run(store, vault_id, progress=meanwhile)
    assert theirs[0].added == 7 and ours.added == 3, (theirs, ours)
    after = stored(store)
    assert len(after) == 10 and all(q is not None and r == len(LADDER) + 1 for q, r in after.values()), after
    assert run(store, vault_id).changed == 0


def test_a_store_in_memory_inserts_after_the_read(tmp_path: Path, batches: list[int]) -> None:
    """SQLite in memory has one connection, which the read phase holds: its notes go in after the apply."""
    store = open_store("sqlite://", auto_upgrade=True)
    try:
        vault_id = new_vault(store, tmp_path, 7)
        assert run(store, vault_id).added == 7
        assert batches == [] and len(stored(store)) == 7
    finally:
        store.dispose()
