"""A large batch of note files is examined in worker processes (reminder.vault.examine): the sync must come out
exactly as when its own process reads every file, on the shapes real vaults hold (the learner's notes, Notion
exports, a template, other plugins' files, broken and oversized notes), first sync and re-sync, with write-back
and without; and workers that die leave the rest of the files to the sync's own process.

The batch threshold is lowered so that a small vault takes the worker path; the workers are real processes."""

from __future__ import annotations

import os
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_NOTE
from notefiles import note
from sqlalchemy import select
from test_vault_real import make_vault

from reminder import vault as sync
from reminder.db import open_store
from reminder.db.models import Note, Review
from reminder.vault import examine

TODAY = date(2026, 2, 1)
LADDER = (1, 4, 7, 14)


def fill(root: Path) -> None:
    """tests/data/vault and the learner's note, many variations of it, and files a sync must report."""
    make_vault(root)
    seed = SEED_NOTE.read_text(encoding="utf-8")
    for i in range(40):
        text = seed.replace("❕첫 학습날: 2024-07-07", f"❕첫 학습날: 2025-{1 + i % 12:02d}-{1 + i % 27:02d}")
        folder = root / f"과목 {i % 3}"
        folder.mkdir(exist_ok=True)
        (folder / f"노트 {i:02d}.md").write_text(text + f"\n메모 {i}\n", encoding="utf-8")
    (root / "broken.md").write_bytes(b"---\n\xec\xb2\xab: [unclosed\n---\nbody\n")
    (root / "future.md").write_bytes(note("첫 학습날: 2027-01-01", "1일복습여부: false"))
    (root / "bad flag.md").write_bytes(note("첫 학습날: 2026-01-01", "1일복습여부: maybe"))
    (root / "huge.md").write_bytes(note("첫 학습날: 2026-01-01") + b"x" * 1_100_000)
    (root / "plain.md").write_bytes(b"# just Markdown\n")
    stamp = 1_767_225_600  # 2026-01-01: no file is racily new
    for path in root.rglob("*"):
        os.utime(path, (stamp, stamp))


def snapshot(db_url: str) -> dict[str, Any]:
    """What the store holds of the vault's notes and reviews, without ids and the times things happened (a
    write-back gives its file a new modification time)."""
    store = open_store(db_url)
    try:
        with store.read() as session:
            notes = {}
            for row in session.scalars(select(Note)):
                notes[row.vault_path] = {
                    c.name: getattr(row, c.name)
                    for c in Note.__table__.columns
                    if c.name not in ("id", "vault_id", "created_at", "updated_at", "archived_at", "file_mtime_ns")
                }
                notes[row.vault_path]["archived"] = row.archived_at is not None
            reviews = sorted(
                (path, offset, done_on)
                for path, offset, done_on in session.execute(
                    select(Note.vault_path, Review.offset, Review.done_on).join(Review)
                )
            )
            return {"notes": notes, "reviews": reviews}
    finally:
        store.dispose()


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.md"))}


def report_of(report: sync.SyncReport, root: Path) -> dict[str, Any]:
    text = lambda lines: sorted(line.replace(str(root), "ROOT") for line in lines)  # noqa: E731
    return {
        "counts": (report.added, report.updated, report.unchanged, report.renamed, report.archived),
        "written_back": report.written_back,
        "skipped": text(report.skipped),
        "not_scheduled": text(report.not_scheduled),
        "dated": text(report.dated),
    }


def run_sync(tmp_path: Path, name: str, write_back: bool, edit: bool) -> tuple[dict[str, Any], ...]:
    """A first sync of the filled vault, then (with ``edit``) a re-sync after edits, a rename and a deletion:
    each sync's report, then the store and the files."""
    root = tmp_path / name / "study"
    fill(root)
    db_url = f"sqlite:///{tmp_path / name / 'store.db'}"
    store = open_store(db_url)
    reports = []
    try:
        with store.write() as session:
            vault_id = sync.add_vault(session, root, "study", write_back).id
        reports.append(report_of(sync.sync_vault(store, vault_id, today=TODAY, ladder=LADDER, extra_every=30), root))
        if edit:
            (root / "과목 0" / "노트 00.md").write_bytes((root / "과목 0" / "노트 00.md").read_bytes() + b"\nmore\n")
            text = (root / "과목 1" / "노트 01.md").read_text(encoding="utf-8")
            (root / "과목 1" / "노트 01.md").write_text(text.replace("❤1일복습여부: true", "❤1일복습여부: false"))
            (root / "과목 2" / "노트 02.md").rename(root / "과목 2" / "옮긴 노트.md")
            (root / "과목 0" / "노트 03.md").unlink()
            stamp = 1_767_312_000
            for path in root.rglob("*"):
                os.utime(path, (stamp, stamp))
            reports.append(
                report_of(sync.sync_vault(store, vault_id, today=TODAY, ladder=LADDER, extra_every=30), root)
            )
    finally:
        store.dispose()
    return (*reports, snapshot(db_url), files_of(root))


@pytest.mark.parametrize("write_back", [False, True], ids=["read-only", "write-back"])
def test_workers_sync_exactly_as_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_back: bool) -> None:
    monkeypatch.setattr(examine, "POOL_FROM", 10**9)
    alone = run_sync(tmp_path, "alone", write_back, edit=True)
    spawned: list[int] = []
    real = examine._in_workers

    def counted(tasks: Any, settings: Any, count: int) -> Any:
        spawned.append(count)
        return real(tasks, settings, count)

    monkeypatch.setattr(examine, "POOL_FROM", 1)
    monkeypatch.setattr(examine, "_CHUNKSIZE", 5)  # many chunks, dealt to both workers
    monkeypatch.setattr(examine, "workers_for", lambda count: 2)
    monkeypatch.setattr(examine, "_in_workers", counted)
    pooled = run_sync(tmp_path, "pooled", write_back, edit=True)
    assert spawned == [2, 2]  # both syncs read their files in workers
    first = pooled[0]
    assert first["counts"][0] >= 45  # the variations and the vault's study notes were added
    assert any("broken.md" in line for line in first["skipped"])
    assert any("huge.md" in line and "1,000,000-byte limit" in line for line in first["skipped"])
    assert any("future.md" in line for line in first["skipped"])
    assert any("bad flag.md" in line for line in first["skipped"])
    assert pooled[1]["counts"][3] == 1  # the moved note was found by its bytes: a rename, not a new note
    assert pooled == alone


def test_workers_that_die_leave_the_rest_to_the_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker answers its first chunk, then exits: the sync reads the files left itself, and nothing it was
    told by the workers is lost or taken twice."""
    monkeypatch.setattr(examine, "POOL_FROM", 10**9)
    alone = run_sync(tmp_path, "alone", False, edit=False)
    one_chunk = (
        "import pickle, sys\n"
        "from reminder.vault import examine\n"
        "settings = pickle.load(sys.stdin.buffer)\n"
        "chunk = pickle.load(sys.stdin.buffer)\n"
        "pickle.dump([examine.examine(t, settings) for t in chunk], sys.stdout.buffer)\n"
    )
    monkeypatch.setattr(examine, "worker_command", lambda: [sys.executable, "-c", one_chunk])
    monkeypatch.setattr(examine, "_CHUNKSIZE", 5)
    monkeypatch.setattr(examine, "workers_for", lambda count: 2)
    taken: list[int] = []
    real = examine.examine

    def counted(task: examine.Task, settings: examine.Settings) -> examine.Examined:
        taken.append(1)
        return real(task, settings)

    monkeypatch.setattr(examine, "examine", counted)
    dying = run_sync(tmp_path, "dying", False, edit=False)
    assert dying == alone
    walked = len(files_of(tmp_path / "dying" / "study")) - 1  # every note but the template, whose folder is set aside
    assert len(taken) == walked - 10  # the two workers' first chunks (5 files each) were not read again


def test_workers_that_cannot_start_leave_every_file_to_the_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(examine, "POOL_FROM", 10**9)
    alone = run_sync(tmp_path, "alone", True, edit=False)
    missing = tmp_path / "no-such-python"
    monkeypatch.setattr(examine, "worker_command", lambda: [str(missing)])
    monkeypatch.setattr(examine, "workers_for", lambda count: 2)
    assert run_sync(tmp_path, "unstarted", True, edit=False) == alone


def test_small_batches_and_single_cores_take_no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert examine.workers_for(examine.POOL_FROM - 1) == 0
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert examine.workers_for(10 * examine.POOL_FROM) == 0
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    assert examine.workers_for(10 * examine.POOL_FROM) == examine.MAX_WORKERS

    def refused(pid: int) -> set[int]:  # a system-call filter (systemd's, a container's) may refuse the call
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_getaffinity", refused)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert examine.workers_for(10 * examine.POOL_FROM) == 4


def test_the_worker_is_not_confused_by_modules_in_the_folder_it_runs_in(tmp_path: Path) -> None:
    """The sync may run inside the vault, whose files could shadow any module name: the worker does not import
    from the folder it runs in."""
    (tmp_path / "pickle.py").write_text("raise SystemExit('imported from the vault')\n")
    (tmp_path / "a.md").write_bytes(SEED_NOTE.read_bytes())
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        settings = examine.Settings(TODAY, frozenset(), False, frozenset())
        tasks = [examine.Task(str(tmp_path / "a.md"), "a.md", None, False)] * 3
        results = list(examine._in_workers(tasks, settings, 2))
    finally:
        os.chdir(cwd)
    assert len(results) == 3
    assert all(r.parsed is not None and r.parsed.first_studied_on == date(2024, 7, 7) for r in results)
    assert results[0] == examine.examine(tasks[0], settings)


def test_an_answer_the_sync_cannot_read_is_raised_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker running other code than the sync's (an answer naming a class the sync does not have): the error
    reaches the sync, which neither waits for answers that will not come nor takes it for a worker that died."""
    alien = (
        "import pickle, sys\n"
        "class Alien: pass\n"
        "pickle.load(sys.stdin.buffer)\n"
        "pickle.dump([Alien()], sys.stdout.buffer)\n"
        "sys.stdout.flush()\n"
        "sys.stdin.buffer.read()\n"
    )
    monkeypatch.setattr(examine, "worker_command", lambda: [sys.executable, "-c", alien])
    settings = examine.Settings(TODAY, frozenset(), False, frozenset())
    tasks = [examine.Task(str(SEED_NOTE), "a.md", None, False)] * 4
    raised: list[BaseException] = []

    def take() -> None:
        try:
            list(examine.examine_all(tasks, settings, workers=2))
        except Exception as exc:  # what the sync raised, looked at below
            raised.append(exc)

    taker = threading.Thread(target=take, daemon=True)
    taker.start()
    taker.join(30)
    assert not taker.is_alive(), "the sync waits for an answer no worker will give"
    assert len(raised) == 1 and isinstance(raised[0], AttributeError) and "Alien" in str(raised[0]), raised
